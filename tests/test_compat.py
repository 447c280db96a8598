"""The compat module: mmaction2 imports, checkpoints load safely (and only safely), a failed
checkpoint save is one line (the import layers: tests/test_import_graph.py)."""
import errno
import os
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch

import est_mm  # noqa: F401  (applies est_mm.compat)
from est_mm.utils import CheckpointError, safe_load_checkpoint
from helpers.cli import TOY_CONFIG, one_line, run

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_mmaction_models_import_and_our_components_are_registered():
    import mmaction.models  # noqa: F401  fails without the drn placeholder
    from mmaction.registry import DATASETS, MODELS, TRANSFORMS
    for registry, names in ((MODELS, ('ESTRecognizer', 'AASFE', 'ESTHead')),
                            (TRANSFORMS, ('SnippetSampling', 'VideoOrFramesInit',
                                          'VideoOrFramesDecode')),
                            (DATASETS, ('FERVideoDataset', 'DFEWDataset'))):
        for name in names:
            assert registry.get(name) is not None, name


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_checkpoint_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'meta': {}, 'state_dict': {'w': RunsCode(marker)}}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu')
    assert not marker.exists()


def test_mmengine_style_checkpoint_loads_with_default_safe_loading(tmp_path):
    """Also after a safe_load_checkpoint: leaving torch's safe_globals context there once removed
    the types that ``import est_mm`` had allowed, so this test failed after any test that loaded a
    checkpoint with est_mm."""
    import numpy as np
    from mmengine.logging import HistoryBuffer

    from est_mm.utils import safe_load_checkpoint
    buf = HistoryBuffer()
    buf.update(0.5)
    ckpt = {'meta': {'epoch': 3, 'seed': np.int64(3456), 'hist': buf,
                     'arr': np.arange(3, dtype=np.float32), 'dt': np.dtype('float64')},
            'state_dict': {'w': torch.ones(2)}}
    torch.save(ckpt, tmp_path / 'ok.pth')
    assert safe_load_checkpoint(tmp_path / 'ok.pth')['meta']['epoch'] == 3
    loaded = torch.load(tmp_path / 'ok.pth', map_location='cpu')
    assert loaded['meta']['epoch'] == 3 and loaded['meta']['hist'].current() == 0.5


def test_mmengine_loads_go_through_safe_loading_with_one_line_errors(tmp_path, monkeypatch):
    """The Runner (load_from / resume), load_checkpoint (ESTInferencer, analysis tools) and
    backbone `pretrained` files all read local files via mmengine's CheckpointLoader: est_mm
    registers safe loading there, with weights_only=True passed explicitly."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from est_mm.utils import CheckpointError, UnsafeCheckpointError
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')  # makes a bare torch.load unsafe
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'meta': {}, 'state_dict': {'w': RunsCode(marker)}}, evil)
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(str(evil), map_location='cpu')
    assert not marker.exists()
    message = str(err.value)
    assert message == (f"{evil}: refused: the checkpoint's pickle wants to call posix.system, "
                       'which is not an allowed type (torch safe loading); nothing from it was run')
    assert isinstance(err.value, pickle.UnpicklingError)  # still what torch would raise

    good = tmp_path / 'good.pth'
    torch.save({'meta': {}, 'state_dict': {'w': torch.arange(1000.)}}, good)
    assert torch.equal(_load_checkpoint(str(good), map_location='cpu')['state_dict']['w'],
                       torch.arange(1000.))
    data = good.read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    for path, words in ((cut, 'truncated or corrupt'), (empty, 'empty file'),
                        (tmp_path / 'absent.pth', 'no such checkpoint file')):
        with pytest.raises(CheckpointError) as err:
            _load_checkpoint(str(path), map_location='cpu')
        assert str(err.value).startswith(f'{path}: ') and words in str(err.value)
        assert '\n' not in str(err.value)


def test_check_checkpoint_reads_the_pickle_not_the_tensors(tmp_path):
    from est_mm.utils import CheckpointError, check_checkpoint
    path = tmp_path / 'ok.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': {'w': torch.zeros(10)}}, path)
    check_checkpoint(str(path))
    with pytest.raises(CheckpointError, match='is a folder'):
        check_checkpoint(str(tmp_path))


def test_mmcv_lite_warning_is_silenced_and_only_that_one():
    """mmcv-lite is used on purpose: its "install mmcv" warning, raised when mmaction's models
    import mmcv.cnn.bricks.transformer, is not printed; other warnings of that module are."""
    code = ('import warnings\n'
            'import est_mm\n'
            'import mmcv.cnn.bricks.transformer\n'
            "warnings.warn_explicit('another warning', UserWarning, 'transformer.py', 1,\n"
            "                      module='mmcv.cnn.bricks.transformer')\n")
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'MultiScaleDeformableAttention' not in done.stderr
    assert 'another warning' in done.stderr


def test_mmengine_pkg_resources_warning_is_silenced():
    """Loading a config (mmengine's is_installed) printed setuptools' pkg_resources warning
    twice at every tool start."""
    code = ('import est_mm\n'
            'from mmengine.utils import is_installed\n'
            "assert is_installed('mmaction2')\n")
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'pkg_resources' not in done.stderr


def _save_in_subprocess(code):
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)


def test_checkpoint_over_the_file_size_limit_is_one_error_and_leaves_nothing(tmp_path):
    """A real failed write (RLIMIT_FSIZE: EFBIG from the kernel) in torch's own writer: one
    CheckpointSaveError naming the file, no chained RuntimeError, no temporary file, and the
    checkpoint saved before under that name is untouched."""
    path = tmp_path / 'epoch_1.pth'
    torch.save({'w': torch.ones(3)}, path)
    before = path.read_bytes()
    done = _save_in_subprocess(f'''
        import errno, resource, signal, torch
        from est_mm.utils.safe_checkpoint import CheckpointSaveError, atomic_torch_save
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            atomic_torch_save({{'w': torch.zeros(100_000)}}, {str(path)!r})
        except CheckpointSaveError as err:
            assert err.errno == errno.EFBIG and isinstance(err, OSError), err.errno
            assert err.__cause__ is None and err.__suppress_context__
            print('ERROR', err)
        ''')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f'ERROR {path}: cannot save the checkpoint: file too large '
                                   '(a file-size limit, e.g. ulimit -f, or the filesystem\'s '
                                   'largest file)')
    assert os.listdir(tmp_path) == ['epoch_1.pth'] and path.read_bytes() == before


@pytest.mark.skipif(not osp.exists('/dev/full'), reason='needs /dev/full')
def test_disk_full_while_saving_is_one_line_with_enospc(tmp_path, monkeypatch):
    """torch's real zip writer writing to /dev/full (every write fails with ENOSPC, as on a full
    disk): torch raises an OSError and its RuntimeError('[enforce fail at inline_container.cc')
    chained; atomic_torch_save turns them into one OSError(ENOSPC) naming the file."""
    from est_mm.utils.safe_checkpoint import CheckpointSaveError, atomic_torch_save
    real_save = torch.save

    def save_to_full_disk(obj, f):
        with open('/dev/full', 'wb', buffering=0) as full:
            real_save(obj, full)

    monkeypatch.setattr(torch, 'save', save_to_full_disk)
    path = tmp_path / 'epoch_2.pth'
    with pytest.raises(OSError) as err:
        atomic_torch_save({'w': torch.zeros(100_000)}, str(path))
    assert isinstance(err.value, CheckpointSaveError) and err.value.errno == errno.ENOSPC
    assert str(err.value) == f'{path}: cannot save the checkpoint: no space left on device'
    assert err.value.__suppress_context__ and err.value.__cause__ is None
    assert os.listdir(tmp_path) == []


# --- an ONNX file as the checkpoint ----------------------------------------------------------

@pytest.fixture(scope='module')
def onnx_file(module_tmp):
    """A small real ONNX model (one Relu), as torch.onnx writes them (producer 'pytorch')."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'g',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, producer_name='pytorch')
    path = str(module_tmp.mktemp('onnx') / 'est.onnx')
    onnx.save(model, path)
    return path


def test_onnx_file_as_checkpoint_says_what_it_is(onnx_file, tmp_path):
    renamed = tmp_path / 'est.pth'  # the name does not decide it
    renamed.write_bytes(open(onnx_file, 'rb').read())
    for path in (onnx_file, str(renamed)):
        with pytest.raises(CheckpointError) as err:
            safe_load_checkpoint(path)
        message = str(err.value)
        assert message.startswith(f'{path}: an ONNX model, not a PyTorch checkpoint: ')
        assert '--backend onnxruntime' in message and 'safe loading' not in message


def test_test_py_with_onnx_checkpoint_is_one_line(onnx_file, tmp_path):
    rc, _, err = run('tools/test.py', TOY_CONFIG, onnx_file, '--work-dir',
                     str(tmp_path / 'wd'))
    assert rc == 1
    last = one_line(err)
    assert last.startswith(f'{onnx_file}: an ONNX model, not a PyTorch checkpoint') and \
        'need the .pth checkpoint it was exported from' in last
