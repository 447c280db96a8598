"""An output folder that cannot be written (est_mm.utils.files.check_writable_dir) is one line,
before anything is loaded or written."""
import os.path as osp

import pytest

from est_mm.utils.files import check_writable_dir
from helpers.cli import TOY_CONFIG, demo, demo_batch, one_line, run


def test_check_writable_dir(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(OSError, match=rf'^{blocker}/out: cannot write to this folder '
                       r'\(Not a directory\)$'):
        check_writable_dir(str(blocker / 'out'))
    with pytest.raises(OSError, match='Not a directory'):
        check_writable_dir(str(blocker / 'out' / 'deeper'), create=False)
    check_writable_dir(str(tmp_path / 'new' / 'deeper'), create=False)
    assert not (tmp_path / 'new').exists()  # create=False creates nothing
    check_writable_dir(str(tmp_path / 'made'))
    assert (tmp_path / 'made').is_dir()


def test_test_py_unwritable_dump_folder_before_anything(tmp_path):
    """The folder is refused before the checkpoint (absent here) is even looked at."""
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    rc, _, err = run('tools/test.py', TOY_CONFIG, str(tmp_path / 'absent.pth'), '--work-dir',
                     str(tmp_path / 'wd'), '--dump', str(blocker / 'preds.pkl'))
    assert rc == 1
    assert one_line(err) == f'{blocker}: cannot write to this folder (Not a directory)'


def test_extract_faces_unwritable_out_before_any_video(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    rc, _, err = run('tools/data/extract_faces.py', str(tmp_path / 'absent.mp4'), '--out',
                     str(blocker / 'faces'))
    assert rc == 1
    assert one_line(err) == f'error: {blocker}/faces: cannot write to this folder (Not a directory)'


def test_analysis_tool_unwritable_json_folder(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    rc, _, err = run('tools/analysis/complexity.py', TOY_CONFIG, '--throughput-iters', '0',
                     '--json', str(blocker / 'report.json'))
    assert rc == 1
    assert one_line(err) == f'{blocker}: cannot write to this folder (Not a directory)'


@pytest.mark.skipif(not osp.isdir('/sys/kernel'), reason='needs /sys (unwritable even as root)')
@pytest.mark.parametrize('option', ['--out-dir', '--vid-out-dir'])
def test_unwritable_output_folder_is_one_line_before_the_model(option, short_video, tmp_path):
    rc, out, err = demo(short_video, TOY_CONFIG, str(tmp_path / 'missing.pth'), option, '/sys/x')
    assert rc == 1
    assert err.strip().startswith('/sys/x: cannot write to this folder (')  # not the checkpoint
    rc, out, err = demo_batch(short_video, '--config', TOY_CONFIG, '--checkpoint',
                         str(tmp_path / 'missing.pth'), option, '/sys/x')
    assert rc == 1
    assert err.strip().startswith('/sys/x: cannot write to this folder (')
