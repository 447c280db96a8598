"""Whole-toolbox runs on generated DFEW-layout data: train → checkpoint → test → resume, the
paper config, a 2-process CPU (gloo) run, and mmaction2's own shipped tools (plugin promise)."""
import glob
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
import torch

import est_mm  # noqa: F401  (safe-loading globals for torch.load below)
import mmaction
from conftest import data_options

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MMACTION_TOOLS = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools')


def run(cmd, **env):
    env = dict(os.environ, PYTHONPATH=ROOT, **env)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{cmd} failed:\n{out[-4000:]}'
    return out


def load_meta(path):
    return torch.load(path, map_location='cpu')['meta']  # torch's default (weights_only) loading


def test_train_checkpoint_test_resume(toy_root, tmp_path):
    work = str(tmp_path / 'work')
    cfg = 'configs/est_r18_toy.py'
    out = run([sys.executable, 'tools/train.py', cfg, '--work-dir', work,
               *data_options(toy_root, epochs=1)])
    assert 'loss_ssop' in out
    first = load_meta(osp.join(work, 'epoch_1.pth'))
    assert first['epoch'] == 1 and first['iter'] > 0

    out = run([sys.executable, 'tools/test.py', cfg, osp.join(work, 'epoch_1.pth'), '--work-dir',
               work, *data_options(toy_root)])
    war, uar = map(float, re.search(r'WAR \(acc/top1\): ([\d.]+)\s+UAR \(acc/mean1\): ([\d.]+)',
                                    out).groups())
    assert 0 <= war <= 100 and 0 <= uar <= 100
    # per-class recall and the confusion matrix (PNG + numbers) land in the test run's log dir
    assert 'fer/recall/Happy' in out and 'fer/recall/Fear' in out
    for name in ('confusion_matrix.png', 'confusion_matrix.csv', 'fer_report.json'):
        assert len(glob.glob(osp.join(work, '*', name))) == 1, name

    out = run([sys.executable, 'tools/train.py', cfg, '--work-dir', work, '--resume',
               *data_options(toy_root, epochs=2)])
    assert 'resumed epoch: 1' in out
    assert 'Epoch(train) [1]' not in out.replace('  ', ' ')  # continued, not restarted
    meta = load_meta(osp.join(work, 'epoch_2.pth'))
    assert meta['epoch'] == 2 and meta['iter'] == 2 * first['iter']


def test_paper_config_trains_on_official_dfew_layout(toy_root, tmp_path):
    out = run([sys.executable, 'tools/train.py', 'configs/est_r18_dfew.py', '--work-dir',
               str(tmp_path), *data_options(toy_root, batch=7)])  # one full batch (drop_last)
    assert re.search(r'Epoch\(train\)\s+\[1\]\[1/1\]', out)
    assert osp.isfile(tmp_path / 'epoch_1.pth')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def test_dist_train_two_processes_on_cpu(toy_root, tmp_path):
    out = run(['bash', 'tools/dist_train.sh', 'configs/est_r18_toy.py', '2', '--work-dir',
               str(tmp_path), *data_options(toy_root)], PYTHON=sys.executable, PORT=free_port())
    assert 'Distributed training: True' in out
    assert re.search(r'GPU number: 2|world_size: 2|World size: 2', out)
    assert load_meta(osp.join(tmp_path, 'epoch_1.pth'))['epoch'] == 1


def test_mmaction2_shipped_tools_run_our_config(toy_root, tmp_path):
    """The plugin promise: mmaction2's own unmodified train.py/test.py, est_mm via custom_imports."""
    cfg = osp.join(ROOT, 'configs/est_r18_toy.py')
    run([sys.executable, osp.join(MMACTION_TOOLS, 'train.py'), cfg, '--work-dir', str(tmp_path),
         *data_options(toy_root)])
    out = run([sys.executable, osp.join(MMACTION_TOOLS, 'test.py'), cfg,
               str(tmp_path / 'epoch_1.pth'), '--work-dir', str(tmp_path), *data_options(toy_root)])
    assert 'acc/top1' in out and 'acc/mean1' in out


@pytest.mark.slow
def test_two_node_torchrun_on_localhost(toy_root, tmp_path):
    """Two single-process 'nodes' (NNODES=2, NODE_RANK=0/1) form one gloo world of size 2."""
    port = free_port()
    cmd = ['bash', 'tools/dist_train.sh', 'configs/est_r18_toy.py', '1', '--work-dir',
           str(tmp_path), *data_options(toy_root)]
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHON=sys.executable, PORT=port, NNODES='2')
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=dict(env, NODE_RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in (0, 1)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs[0][-3000:] + outs[1][-3000:]
    assert 'Distributed training: True' in outs[0]
    assert load_meta(osp.join(tmp_path, 'epoch_1.pth'))['epoch'] == 1
