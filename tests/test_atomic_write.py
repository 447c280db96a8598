"""est_mm.utils.files.atomic_write: write to a temporary name, rename on success."""
import os
import stat

import pytest

from est_mm.utils.files import atomic_write


def test_renamed_over_the_target_on_success(tmp_path):
    path = tmp_path / 'sub' / 'out.json'  # the folder is created
    with atomic_write(str(path)) as tmp:
        assert os.path.dirname(tmp) == str(path.parent)  # same file system: rename is atomic
        with open(tmp, 'w') as f:
            f.write('new')
        assert not path.exists()  # nothing under the final name before the block ends
    assert path.read_text() == 'new'
    assert os.listdir(path.parent) == ['out.json']


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'out.csv'
    path.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_write(str(path)) as tmp:
            with open(tmp, 'w') as f:
                f.write('half')
            raise RuntimeError('writer failed')
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['out.csv']


def test_suffix_ends_the_temporary_name_and_permissions_follow_the_umask(tmp_path):
    path = tmp_path / 'plot.png'
    with atomic_write(str(path), suffix='.png', fsync=True) as tmp:
        assert tmp.endswith('.png') and tmp != str(path)
        with open(tmp, 'wb') as f:
            f.write(b'x')
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask  # not mkstemp's 0600


def test_two_writers_get_different_temporary_names(tmp_path):
    path = str(tmp_path / 'same.txt')
    with atomic_write(path) as first, atomic_write(path) as second:
        assert first != second
        for tmp, text in ((first, '1'), (second, '2')):
            with open(tmp, 'w') as f:
                f.write(text)
    with open(path) as f:
        assert f.read() == '1'  # the outer block ends last
