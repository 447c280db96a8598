"""The SSOP branch as its own config entry (``model.cls_head.ssop``, ``loss_ssop``): whether the
branch exists is decided by ``ssop`` alone; checkpoints saved before the change still load strictly;
ESTHead's arguments of earlier versions are refused."""
import os.path as osp
import re
import warnings

import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.models.heads.ssop import SSOPBatchError, check_ssop_batch
from mmaction.registry import MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
register_all_modules()
# state-dict keys, shapes and dtypes written by the code before `ssop=` existed (commit e66f309)
OLD_LAYOUTS = {
    'configs/est_r18_dfew.py': 'tests/data/est_r18_dfew_state_keys.txt',
    'configs/ablation/est-aasfe_r18_dfew.py': 'tests/data/est-aasfe_r18_dfew_state_keys.txt',
}


def old_layout(path):
    """[(key, shape, dtype)] of a keys file."""
    rows = []
    for line in open(osp.join(ROOT, path)):
        if line.startswith('#') or not line.strip():
            continue
        key, shape, dtype = re.fullmatch(r'(\S+) \(([\d, ]*)\) (\w+)', line.strip()).groups()
        rows.append((key, tuple(int(s) for s in shape.split(',') if s.strip()), dtype))
    return rows


def old_checkpoint(path, seed=0):
    """A state dict in the old layout with seeded values (int64 tensors: small counts)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype in old_layout(path):
        if dtype == 'int64':
            state[key] = torch.randint(0, 7, shape, generator=gen)
        else:
            state[key] = torch.rand(shape, generator=gen) + 0.5
    return state


def build(config, **head):
    """``config``'s model with ``head`` merged into its cls_head."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.cls_head.update(head)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('config', sorted(OLD_LAYOUTS))
def test_checkpoints_of_the_old_layout_load_strictly(config):
    model = build(config)
    expected = [(k, s) for k, s, _ in old_layout(OLD_LAYOUTS[config])]
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == expected
    state = old_checkpoint(OLD_LAYOUTS[config])
    model.load_state_dict(state, strict=True)
    if 'cls_head.ssop.permutations' in state:
        assert torch.equal(model.cls_head.ssop.permutations, state['cls_head.ssop.permutations'])


@pytest.mark.parametrize('old', [dict(ssop_loss_weight=0), dict(ssop_channels=(2048, 512))])
def test_head_arguments_of_earlier_versions_are_refused(old):
    with pytest.raises(TypeError, match=list(old)[0]):
        build('configs/est_r18_dfew.py', **old)


def test_no_branch_has_the_layout_of_the_ablation_without_ssop():
    model = build('configs/est_r18_dfew.py', ssop=None)
    assert model.cls_head.ssop is None
    expected = [k for k, _, _ in old_layout(OLD_LAYOUTS['configs/ablation/est-aasfe_r18_dfew.py'])]
    assert list(model.state_dict()) == expected


def test_the_new_entries_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter('error', FutureWarning)
        build('configs/est_r18_dfew.py')
        build('configs/ablation/est-aasfe_r18_dfew.py')


def test_loss_weight_zero_keeps_the_branch():
    """A loss weight only weighs: the parameters are those of the full model."""
    zero = build('configs/est_r18_dfew.py', loss_ssop=dict(type='CrossEntropyLoss',
                                                           loss_weight=0))
    assert list(zero.state_dict()) == [k for k, _, _ in old_layout(OLD_LAYOUTS[
        'configs/est_r18_dfew.py'])]


def test_ssop_branch_is_built_through_the_registry():
    model = build('configs/est_r18_dfew.py', ssop=dict(type='SSOPBranch', hidden=(64, ),
                                                        num_permutations=4, permutations=None,
                                                        sync_bn=False))
    ssop = model.cls_head.ssop
    assert type(ssop).__name__ == 'SSOPBranch' and ssop.permutations.shape == (4, 7)
    assert type(ssop.classifier[1]) is torch.nn.BatchNorm1d
    assert [m.out_features for m in ssop.classifier if isinstance(m, torch.nn.Linear)] == [64, 4]


def test_batch_check_reads_the_ssop_entry():
    head = Config.fromfile(osp.join(ROOT, 'configs/est_r18_dfew.py')).model.cls_head
    with pytest.raises(SSOPBatchError, match=r'^train_dataloader.batch_size=1 on 1 process: .*'
                       r'or set model.cls_head.ssop=None$'):
        check_ssop_batch(head, 1, 1)
    check_ssop_batch(head, 1, 2)  # two processes share the BatchNorm statistics
    check_ssop_batch(head, 1, None)  # world size unknown
    check_ssop_batch(head, 2, 1)
    head.ssop.sync_bn = False
    with pytest.raises(SSOPBatchError, match=r'model.cls_head.ssop.sync_bn=False.*'
                       r'set model.cls_head.ssop.sync_bn=True'):
        check_ssop_batch(head, 1, 2)
    check_ssop_batch(dict(head, ssop=None), 1, 1)
