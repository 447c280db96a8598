"""One clip per process trains: the SSOP branch's GlobalBatchNorm1d equals nn.BatchNorm1d on the
concatenated batch across 2 gloo processes (outputs, gradients, running statistics); a run that
cannot work (1 process, batch 1) stops before training with one line; a 2-process run with one clip
each trains end to end."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn as nn
from mmengine.config import Config

import est_mm  # noqa: F401  (safe-loading globals for torch.load below)
from est_mm.models.heads import ESTHead
from est_mm.models.heads.global_batch_norm import GlobalBatchNorm1d
from est_mm.models.heads.ssop import SSOPBatchError, SSOPBranch
from est_mm.engine.runner import check_train_batch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'
C = 6  # channels of the BatchNorm under test
# (samples on rank 0, samples on rank 1, extra trailing dim L or None, momentum)
CASES = [(1, 1, None, 0.1), (1, 3, None, 0.1), (3, 0, None, 0.1), (2, 1, 4, None)]
STEPS = 2  # two training steps each: running statistics accumulate


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def case_data(case, step):
    """The concatenated batch x [N0 + N1, C(, L)] and upstream gradient g of one step, and the
    BatchNorm's initial state; identical in every process (seeded)."""
    n0, n1, length, _ = case
    gen = torch.Generator().manual_seed(1000 * CASES.index(case) + step)
    shape = (n0 + n1, C) + (() if length is None else (length, ))
    x = torch.randn(shape, generator=gen) * 3 + torch.randn(C, *shape[2:], generator=gen)
    g = torch.randn(shape, generator=gen)
    init = dict(weight=torch.rand(C, generator=gen) + 0.5, bias=torch.randn(C, generator=gen),
                running_mean=torch.randn(C, generator=gen),
                running_var=torch.rand(C, generator=gen) + 0.5)
    return x, g, init


def make_bn(cls, case):
    bn = cls(C, momentum=case[3])
    with torch.no_grad():
        for name, value in case_data(case, 0)[2].items():
            getattr(bn, name).copy_(value)
    return bn.train()


def run_steps(bn, case, rows):
    """STEPS training steps of ``bn`` on rows ``rows`` of each step's batch, loss = sum(y * g);
    per step: (y, grad x, grad weight, grad bias, running_mean, running_var, batches tracked)."""
    out = []
    for step in range(STEPS):
        x, g, _ = case_data(case, step)
        x = x[rows].clone().requires_grad_(True)
        bn.zero_grad()
        y = bn(x)
        (y * g[rows]).sum().backward()
        out.append(dict(y=y.detach(), gx=x.grad, gw=bn.weight.grad.clone(),
                        gb=bn.bias.grad.clone(), mean=bn.running_mean.clone(),
                        var=bn.running_var.clone(), tracked=int(bn.num_batches_tracked)))
    return out


def _worker(rank, port, out_dir):
    """One of 2 gloo processes: every case on this rank's rows, results saved to out_dir."""
    import torch.distributed as dist
    torch.manual_seed(rank)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    try:
        results = []
        for case in CASES:
            n0, n1 = case[:2]
            rows = slice(0, n0) if rank == 0 else slice(n0, n0 + n1)
            results.append(run_steps(make_bn(GlobalBatchNorm1d, case), case, rows))
        torch.save(results, osp.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def two_ranks(module_tmp):
    """Per rank, per case, per step: what GlobalBatchNorm1d gave in a 2-process gloo world."""
    out_dir = str(module_tmp.mktemp('gbn'))
    mp.spawn(_worker, args=(free_port(), out_dir), nprocs=2, join=True)
    return [torch.load(osp.join(out_dir, f'rank{r}.pt')) for r in (0, 1)]


@pytest.mark.parametrize('case', CASES, ids=[f'{a}+{b}clips-L{c}-m{m}' for a, b, c, m in CASES])
def test_global_batch_norm_equals_batch_norm_on_concatenated_batch(case, two_ranks):
    n0, n1 = case[:2]
    ref = run_steps(make_bn(nn.BatchNorm1d, case), case, slice(0, n0 + n1))
    ranks = [two_ranks[r][CASES.index(case)] for r in (0, 1)]
    close = dict(rtol=1e-5, atol=1e-6)
    for step in range(STEPS):
        r0, r1, want = ranks[0][step], ranks[1][step], ref[step]
        torch.testing.assert_close(torch.cat([r0['y'], r1['y']]), want['y'], **close)
        torch.testing.assert_close(torch.cat([r0['gx'], r1['gx']]), want['gx'], **close)
        # each process holds the gradient of its own loss; DDP sums (averages) them
        torch.testing.assert_close(r0['gw'] + r1['gw'], want['gw'], **close)
        torch.testing.assert_close(r0['gb'] + r1['gb'], want['gb'], **close)
        for r in (r0, r1):  # both ranks hold the global running statistics
            torch.testing.assert_close(r['mean'], want['mean'], **close)
            torch.testing.assert_close(r['var'], want['var'], **close)
            assert r['tracked'] == want['tracked'] == step + 1


def test_one_process_and_eval_are_plain_batch_norm():
    torch.manual_seed(0)
    gbn, bn = GlobalBatchNorm1d(5), nn.BatchNorm1d(5)
    bn.load_state_dict(gbn.state_dict())
    assert list(gbn.state_dict()) == list(bn.state_dict())
    x = torch.randn(4, 5)
    assert torch.equal(gbn(x), bn(x))
    assert torch.equal(gbn.running_var, bn.running_var)
    gbn.eval(), bn.eval()
    assert torch.equal(gbn(x[:1]), bn(x[:1]))


def test_ssop_state_dict_keys_are_unchanged():
    """Official checkpoints are converted into exactly these keys and shapes."""
    head = ESTHead(num_classes=7)
    keys = {k: tuple(v.shape) for k, v in head.state_dict().items() if k.startswith('ssop.')}
    expected = {'ssop.permutations': (10, 7)}
    for i, (n_in, n_out) in zip((0, 3, 6), ((3584, 2048), (2048, 512), (512, 10))):
        expected.update({f'ssop.classifier.{i}.weight': (n_out, n_in),
                         f'ssop.classifier.{i}.bias': (n_out, )})
    for i, n in ((1, 2048), (4, 512)):
        expected.update({f'ssop.classifier.{i}.{k}': (n, ) for k in
                         ('weight', 'bias', 'running_mean', 'running_var')})
        expected[f'ssop.classifier.{i}.num_batches_tracked'] = ()
    assert keys == expected
    assert isinstance(head.ssop.classifier[1], GlobalBatchNorm1d)
    plain_bn = ESTHead(num_classes=7, ssop=dict(sync_bn=False))
    assert type(plain_bn.ssop.classifier[4]) is nn.BatchNorm1d


def test_one_clip_on_one_process_raises_the_one_line_message():
    torch.manual_seed(0)
    ssop = SSOPBranch(num_snippets=7, dims=8, hidden=(16, 8)).train()
    with pytest.raises(SSOPBatchError) as err:
        ssop(torch.randn(1, 7, 8), torch.randn(1, 8))
    assert str(err.value) == (
        "a training step with 1 clip(s) on 1 process: SSOP's BatchNorm needs at least 2 clips per "
        'step; use train_dataloader.batch_size >= 2 with drop_last=True, or run >= 2 processes '
        '(tools/dist_train.sh), or set model.cls_head.ssop=None')
    assert ssop(torch.randn(2, 7, 8), torch.randn(2, 8))[0].shape == (2, 10)
    assert ssop.eval()(torch.randn(1, 7, 8), torch.randn(1, 8))[0].shape == (1, 10)


def test_config_check_reads_batch_processes_and_ssop(monkeypatch):
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    cfg.train_dataloader.batch_size = 1
    with pytest.raises(SSOPBatchError, match=r'^train_dataloader.batch_size=1 on 1 process: '):
        check_train_batch(cfg, 'none')
    monkeypatch.setenv('WORLD_SIZE', '1')
    with pytest.raises(SSOPBatchError):
        check_train_batch(cfg, 'pytorch')  # dist_train.sh CONFIG 1
    monkeypatch.setenv('WORLD_SIZE', '2')
    check_train_batch(cfg, 'pytorch')  # two processes share the statistics
    cfg.model.cls_head.ssop.sync_bn = False
    with pytest.raises(SSOPBatchError, match=r'ssop\.sync_bn=True'):
        check_train_batch(cfg, 'pytorch')
    ssop = cfg.model.cls_head.ssop
    cfg.model.cls_head.ssop = None
    check_train_batch(cfg, 'none')  # no SSOP branch, no BatchNorm
    cfg.model.cls_head.ssop = ssop
    cfg.train_dataloader.batch_size = 2
    check_train_batch(cfg, 'none')


# --- from the command line ----------------------------------------------------------------------

SMALL_MODEL = ['model.cls_head.ffn_channels=256', 'model.cls_head.ssop.hidden=[256,128]']


def options(root, batch, *extra):
    """--cfg-options: toy data at 32 px, no workers, small head, 1 epoch, checkpoint at its end."""
    opts = []
    for split in ('train', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}',
                 f'{split}_dataloader.num_workers=0', f'{split}_dataloader.persistent_workers=False',
                 f'{split}_dataloader.dataset.pipeline.3.scale=(32,32)']  # the Resize step
    return ['--cfg-options', *opts, f'train_dataloader.batch_size={batch}', *SMALL_MODEL,
            'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1',
            'default_hooks.logger.interval=1', *extra]


def run(cmd, **env):
    return subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT, **env),
                          capture_output=True, text=True, timeout=900)


def one_line_failure(proc):
    """Failed, no traceback; the last stderr line."""
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr.strip().splitlines()[-1]


def test_train_batch_one_on_one_process_stops_before_training(toy_root, tmp_path):
    work = tmp_path / 'work'
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work),
                *options(toy_root, 1)])
    assert one_line_failure(proc) == (
        "train_dataloader.batch_size=1 on 1 process: SSOP's BatchNorm needs at least 2 clips per "
        'step; use batch_size >= 2, or run >= 2 processes (tools/dist_train.sh), or set '
        'model.cls_head.ssop=None')
    assert not work.exists()  # nothing was built


def test_last_batch_of_one_clip_stops_with_one_line(toy_root, tmp_path):
    """7 clips, batch 2, drop_last=False: the model's own guard names the 1-clip step."""
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path),
                *options(toy_root, 2, 'train_dataloader.drop_last=False')])
    line = one_line_failure(proc)
    assert line.startswith("a training step with 1 clip(s) on 1 process: SSOP's BatchNorm"), line
    assert 'Epoch(train) [1][3/4]' in proc.stdout + proc.stderr  # three full steps ran first


def test_dist_train_one_clip_per_process(toy_root, tmp_path):
    """2 gloo processes × 1 clip: trains, and the SSOP BatchNorm statistics are tracked per step."""
    proc = run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path),
                *options(toy_root, 1)], PYTHON=sys.executable, PORT=str(free_port()))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'Expected more than 1 value per channel' not in out
    state = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')
    assert state['meta']['iter'] == 4  # 7 clips padded to 8 by the sampler: 4 per rank
    sd = state['state_dict']
    for i in (1, 4):
        key = f'cls_head.ssop.classifier.{i}'
        assert int(sd[f'{key}.num_batches_tracked']) == 4
        mean, var = sd[f'{key}.running_mean'], sd[f'{key}.running_var']
        assert torch.isfinite(mean).all() and torch.isfinite(var).all()
        assert mean.abs().sum() > 0 and (var > 0).all() and not torch.allclose(var, torch.ones_like(var))


@pytest.mark.slow
def test_two_nodes_one_clip_each(toy_root, tmp_path):
    """NNODES=2 × 1 process × 1 clip (two single-process 'nodes' on localhost) trains."""
    cmd = ['bash', 'tools/dist_train.sh', CONFIG, '1', '--work-dir', str(tmp_path),
           *options(toy_root, 1)]
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHON=sys.executable, PORT=str(free_port()),
               NNODES='2')
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=dict(env, NODE_RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in (0, 1)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs[0][-3000:] + outs[1][-3000:]
    sd = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')['state_dict']
    assert int(sd['cls_head.ssop.classifier.1.num_batches_tracked']) == 4
