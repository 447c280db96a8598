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
