"""tools/analysis/benchmark.py: its training step is mmengine's optimiser-wrapper step of the
config's optim_wrapper, and ``--help`` answers before torch or mmengine are imported."""
import copy
import os.path as osp
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper

import est_mm  # noqa: F401
from est_mm.analysis.benchmark import Stepper, make_batch
from mmaction.registry import MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
register_all_modules()


def test_help_imports_neither_torch_nor_mmengine():
    proc = subprocess.run([sys.executable, '-X', 'importtime', 'tools/analysis/benchmark.py',
                           '--help'], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '--cfg-options' in proc.stdout and '--amp' in proc.stdout
    imported = {line.rsplit('|', 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith('import time:')}
    heavy = {m for m in imported if m.split('.')[0] in ('torch', 'mmengine', 'mmaction', 'est_mm')}
    assert not heavy, sorted(heavy)[:10]


def test_stepper_step_is_the_configs_optim_wrapper_update():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/est_r18_dfew.py'))
    cfg.model.cls_head.ffn_channels = 64
    cfg.model.cls_head.ssop.hidden = (64, 32)
    cfg.optim_wrapper.optimizer.lr = 1e-2  # a visible step
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    reference = copy.deepcopy(model)
    before = copy.deepcopy(model.state_dict())
    inputs, samples = make_batch(2, 35, 32, 7, 'cpu')

    stepper = Stepper(model, inputs, samples, 'cpu', False, cfg)
    assert type(stepper.optim_wrapper) is OptimWrapper
    assert type(stepper.optim_wrapper.optimizer) is torch.optim.Adam
    assert stepper.optim_wrapper.get_lr()['lr'] == [1e-2]
    torch.manual_seed(1)  # dropout and the SSOP permutations draw the same in both
    stepper.train_step()
    assert {k: len(v) for k, v in stepper.parts.items()} == dict(forward=1, backward=1,
                                                                  optimizer=1)
    assert len(stepper.cpu) == 1 and stepper.cpu[0] > 0

    wrapper = build_optim_wrapper(reference, cfg.optim_wrapper)
    reference.train()
    torch.manual_seed(1)
    loss, _ = reference.parse_losses(reference(inputs, samples, mode='loss'))
    wrapper.update_params(loss)
    after, expected = model.state_dict(), reference.state_dict()
    assert all(torch.equal(after[k], expected[k]) for k in expected)
    assert not torch.equal(after['cls_head.query'], before['cls_head.query'])
