"""Resuming a checkpoint written under another configuration stops with one line (--force carries
on): the `mim train` then `make demo` sequence of issue 19 at toy scale, and the comparison itself
(what is compared, what is ignored, the stored text never run)."""
import os
import os.path as osp
import subprocess
import sys

import mmaction
import pytest
import torch
from mmengine.config import Config

from helpers.data import data_options
from est_mm.engine.resume_check import (ABSENT, ResumeConfigError, check_resume_config,
                                        config_differences, parse_config_text)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'
# what `mim train mmaction CONFIG` runs: mmaction2's own train.py, shipped in its package
MIM_TRAIN = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', 'train.py')


def run(cmd):
    return subprocess.run([sys.executable, *cmd], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=900)


def ok(proc):
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


def train(work, root, *extra, epochs):
    return run(['tools/train.py', CONFIG, '--work-dir', work, '--resume', *extra,
                *data_options(root, epochs=epochs)])


def test_mim_run_then_resume_with_another_schedule(toy_root, tmp_path):
    work = str(tmp_path / 'est_r18_toy')
    ok(run([MIM_TRAIN, CONFIG, '--work-dir', work, *data_options(toy_root, epochs=1)]))
    checkpoint = open(osp.join(work, 'last_checkpoint')).read().strip()
    assert osp.basename(checkpoint) == 'epoch_1.pth'

    # the same configuration: resumed without a word about configurations
    out = ok(train(work, toy_root, epochs=1))
    assert 'resumed epoch: 1' in out
    assert 'configuration' not in out and 'Epoch(train)' not in out

    # another schedule: one line naming the difference, nothing trained or written
    before = sorted(os.listdir(work))
    proc = train(work, toy_root, epochs=2)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f'{checkpoint} was written under another configuration: train_cfg.max_epochs 1 -> 2; '
        'pass --force to resume anyway')
    assert 'Epoch(train)' not in proc.stdout + proc.stderr
    assert sorted(os.listdir(work)) == before

    # --force carries on from epoch 1
    out = ok(train(work, toy_root, '--force', epochs=2))
    assert 'resumed epoch: 1' in out and 'Epoch(train) [1]' not in out.replace('  ', ' ')
    assert torch.load(osp.join(work, 'epoch_2.pth'), map_location='cpu')['meta']['epoch'] == 2


def test_force_goes_with_resume(toy_root, tmp_path):
    proc = run(['tools/train.py', CONFIG, '--work-dir', str(tmp_path), '--force',
                *data_options(toy_root)])
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith('--force goes with --resume')


@pytest.fixture(scope='module')
def toy_cfg():
    return Config.fromfile(osp.join(ROOT, CONFIG))


def checkpoint_with(path, cfg_text):
    torch.save({'meta': {'epoch': 1, 'iter': 2, 'cfg': cfg_text}, 'state_dict': {}}, str(path))
    return str(path)


def test_settings_that_do_not_change_training_are_not_compared(toy_cfg, tmp_path):
    path = checkpoint_with(tmp_path / 'epoch_1.pth', toy_cfg.pretty_text)
    cfg = toy_cfg.copy()
    cfg.merge_from_dict({
        'work_dir': 'elsewhere', 'load_from': path, 'resume': True, 'launcher': 'pytorch',
        'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
        'default_hooks.logger.interval': 1, 'test_dataloader.batch_size': 1,
        'model.backbone.pretrained': '/weights/resnet18.pth', 'log_level': 'DEBUG',
        'train_dataloader.dataset.on_bad_sample': 'skip'})
    assert check_resume_config(path, cfg) is True


def test_differences_named_in_key_order(toy_cfg, tmp_path):
    path = checkpoint_with(tmp_path / 'epoch_1.pth', toy_cfg.pretty_text)
    cfg = toy_cfg.copy()
    cfg.merge_from_dict({'optim_wrapper.optimizer.lr': 0.5, 'model.cls_head.num_heads': 8,
                         'train_dataloader.dataset.fold': 3, 'randomness.seed': 1})
    with pytest.raises(ResumeConfigError) as err:
        check_resume_config(path, cfg)
    old_lr = toy_cfg.optim_wrapper.optimizer.lr
    assert str(err.value) == (
        f'{path} was written under another configuration: model.cls_head.num_heads 4 -> 8, '
        f'optim_wrapper.optimizer.lr {old_lr!r} -> 0.5, randomness.seed 3456 -> 1, and 1 more')
    assert err.value.differences[-1] == ('train_dataloader.dataset.fold', 1, 3)


def test_missing_key_and_number_types(tmp_path):
    old = parse_config_text("model = dict(a=1, b=dict(c=True))\ntrain_cfg = dict(max_epochs=2)")
    new = parse_config_text("model = dict(a=1.0, b=dict(c=1, d=-2))\ntrain_cfg = None")
    assert config_differences(old, new) == [
        ('model.b.c', True, 1), ('model.b.d', ABSENT, -2),
        ('train_cfg', {'max_epochs': 2}, None)]


def test_stored_config_is_read_not_run(toy_cfg, tmp_path):
    """A checkpoint's config text is data: a call in it is compared as text, never executed."""
    marker = tmp_path / 'ran'
    call = f"__import__('os').mkdir({str(marker)!r})"
    text = f'{toy_cfg.pretty_text}\nx = {call}\n'
    assert check_resume_config(checkpoint_with(tmp_path / 'a.pth', text), toy_cfg) is True
    evil = text.replace('model = dict(', f'model = dict(hook={call}, ', 1)
    with pytest.raises(ResumeConfigError, match=r'model\.hook .<__import__'):
        check_resume_config(checkpoint_with(tmp_path / 'b.pth', evil), toy_cfg)
    assert not marker.exists()


def test_checkpoint_without_config_is_not_compared(toy_cfg, tmp_path):
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {}}, path)
    assert check_resume_config(path, toy_cfg) is False
    not_python = checkpoint_with(tmp_path / 'x.pth', 'not python (')
    assert check_resume_config(not_python, toy_cfg) is False
