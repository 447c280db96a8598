"""The compat module: mmaction2 imports, and checkpoints load safely (and only safely)."""
import os
import pickle

import pytest
import torch

import est_mm  # noqa: F401  (applies est_mm.compat)


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
    import numpy as np
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(0.5)
    ckpt = {'meta': {'epoch': 3, 'seed': np.int64(3456), 'hist': buf,
                     'arr': np.arange(3, dtype=np.float32), 'dt': np.dtype('float64')},
            'state_dict': {'w': torch.ones(2)}}
    torch.save(ckpt, tmp_path / 'ok.pth')
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
