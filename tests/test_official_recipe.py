"""The paper configs are the authors' model and recipe (issue 12): encoder LayerNorm, one classifier
Dropout, kaiming-uniform Transformer init, 30 training starts, no flip, the official permutation
set and the per-epoch learning rate 1e-4·½(1+cos(πe/E))·min(1,(e+1)/W)."""
import glob
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

from est_mm.models import ESTHead
from mmaction.registry import TRANSFORMS

# datasets/permutation_10.npy of github.com/DreamMr/EST (row i = SSOP label i)
OFFICIAL_PERMUTATIONS = [[0, 4, 3, 2, 6, 1, 5], [5, 3, 1, 6, 4, 0, 2], [0, 4, 3, 5, 2, 6, 1],
                         [5, 4, 3, 2, 1, 0, 6], [5, 1, 2, 4, 0, 6, 3], [0, 5, 2, 6, 4, 1, 3],
                         [3, 1, 5, 0, 6, 2, 4], [2, 3, 0, 4, 1, 6, 5], [5, 0, 4, 1, 3, 2, 6],
                         [0, 3, 2, 6, 4, 5, 1]]
# the paper's schedule; the toy and own-data configs shorten it (their own cases below)
SHORT_SCHEDULES = {'configs/est_r18_toy.py': (16, 2), 'configs/est_r18_custom.py': (30, 3)}
PAPER_CONFIGS = sorted(set(glob.glob('configs/est_*.py')) - set(SHORT_SCHEDULES))


def head(**kw):
    return ESTHead(num_classes=7, **kw)


def test_classifier_has_one_dropout_before_the_last_linear():
    layers = [type(m) for m in head().classifier]
    assert layers == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert head().classifier[4].p == 0.4


def test_encoder_ends_with_a_layernorm_that_acts():
    torch.manual_seed(0)
    h = head().eval()
    assert isinstance(h.transformer.encoder_norm, nn.LayerNorm)
    x = torch.randn(2, 7, 512)
    before = h(x)
    with torch.no_grad():
        h.transformer.encoder_norm.weight.mul_(3.0)
    assert not torch.allclose(before, h(x))
    assert isinstance(head(encoder_norm=False).transformer.encoder_norm, nn.Identity)


def test_transformer_matrices_are_kaiming_uniform():
    """kaiming_uniform_ (a=0): U(±sqrt(6/fan_in)); PyTorch's defaults are narrower (xavier for
    attention: sqrt(6/(fan_in+fan_out)), Linear: 1/sqrt(fan_in)), so the observed range tells."""
    torch.manual_seed(0)
    for name, p in head().transformer.named_parameters():
        if p.dim() < 2:
            continue
        bound = math.sqrt(6 / p.shape[1])
        assert p.abs().max() <= bound, name
        assert p.abs().max() > 0.95 * bound, name
        assert abs(p.std().item() - bound / math.sqrt(3)) < 0.05 * bound, name


@pytest.mark.parametrize('config', PAPER_CONFIGS + sorted(SHORT_SCHEDULES))
def test_configs_use_the_official_permutations_and_loss_weight(config):
    cfg = Config.fromfile(config).model.cls_head
    assert cfg.ssop.permutations == OFFICIAL_PERMUTATIONS
    assert cfg.loss_ssop == dict(type='CrossEntropyLoss', loss_weight=0.1428)
    assert cfg.encoder_norm is True
    # est_r18_custom.py leaves num_classes to its classes.txt (None until a list folder is read)
    args = {k: v for k, v in cfg.items() if k != 'type'}
    built = ESTHead(**dict(args, num_classes=args['num_classes'] or 3))
    assert built.ssop.permutations.tolist() == OFFICIAL_PERMUTATIONS


@pytest.mark.parametrize('config', PAPER_CONFIGS + ['configs/est_r18_toy.py'])
def test_training_pipeline_has_no_flip_and_30_starts(config):
    cfg = Config.fromfile(config)
    steps = cfg.train_dataloader.dataset.pipeline
    assert not [s for s in steps if 'Flip' in s['type']], steps
    (sampling, ) = [s for s in steps if s['type'] == 'SnippetSampling']
    t = TRANSFORMS.build(sampling)
    assert t.max_start == 29  # inclusive: randint(0, 29), 30 values as the official code


def test_training_starts_are_exactly_0_to_29():
    """Every draw of the start is recorded (np.random.randint is the sampler's source)."""
    t = TRANSFORMS.build(dict(type='SnippetSampling'))
    rng = np.random.RandomState(0)
    starts = []
    real = np.random.randint

    def spy(low, high=None, *a, **k):
        value = rng.randint(low, high, *a, **k)
        starts.append(int(value))
        return value
    np.random.randint = spy
    try:
        np.random.seed(0)
        for _ in range(600):
            t(dict(total_frames=105))
    finally:
        np.random.randint = real
    assert set(starts) == set(range(30))


def lr_per_epoch(config):
    cfg = Config.fromfile(config)
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=cfg.optim_wrapper.optimizer.lr)
    wrapper = OptimWrapper(optimizer)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper)) for s in cfg.param_scheduler]
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        for s in schedulers:
            assert s.by_epoch
            s.step()
    return cfg, lrs


@pytest.mark.parametrize('config,epochs,warmup', [(c, 160, 10) for c in PAPER_CONFIGS] +
                         [(c, *SHORT_SCHEDULES[c]) for c in sorted(SHORT_SCHEDULES)])
def test_lr_follows_the_official_per_epoch_formula(config, epochs, warmup):
    cfg, lrs = lr_per_epoch(config)
    assert cfg.train_cfg.max_epochs == epochs
    want = [1e-4 * 0.5 * (1 + math.cos(math.pi * e / epochs)) * min(1, (e + 1) / warmup)
            for e in range(epochs)]
    assert np.allclose(lrs, want, rtol=1e-9, atol=0)
