"""What happens when something goes wrong: unsafe or truncated checkpoints give one line and run
nothing; checkpoints carry their inference settings; a run killed with SIGKILL and resumed ends
exactly as the uninterrupted run; nothing is overwritten unless asked, and writes are atomic."""
import json
import os
import os.path as osp
import pickle
import re
import signal
import subprocess
import sys
import time
from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401  (compat: safe loading rules, atomic checkpoint saving)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'
# A smaller head keeps checkpoints (and so these tests) small; the mechanisms do not depend on it.
SMALL_MODEL = ['model.cls_head.ffn_channels=256', 'model.cls_head.ssop.hidden=[256,128]']


def options(root, epochs=1, batch=3, test_batch=7):
    """--cfg-options: toy data at 32 px, no workers, small head, checkpoint every epoch."""
    opts = []
    for split, size in (('train', batch), ('test', test_batch)):
        opts += [f'{split}_dataloader.dataset.data_root={root}',
                 f'{split}_dataloader.num_workers=0', f'{split}_dataloader.persistent_workers=False',
                 f'{split}_dataloader.batch_size={size}',
                 f'{split}_dataloader.dataset.pipeline.3.scale=(32,32)']  # the Resize step
    return ['--cfg-options', *opts, *SMALL_MODEL, f'train_cfg.max_epochs={epochs}',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']


def run(cmd, check=True):
    proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, f'{cmd} failed:\n{(proc.stdout + proc.stderr)[-4000:]}'
    return proc


def one_line_failure(proc, *words):
    """Failed, no traceback, and the last stderr line says it all."""
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in line, line
    return line


def state(path):
    return torch.load(path, map_location='cpu')  # torch's default = safe (weights_only) loading


def kill_when(cmd, log, pattern, timeout=900):
    """Start ``cmd``, SIGKILL it as soon as ``pattern`` appears in its output."""
    with open(log, 'w') as out:
        proc = subprocess.Popen([sys.executable, *cmd], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1'))
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                with open(log) as f:
                    if re.search(pattern, f.read()):
                        proc.send_signal(signal.SIGKILL)
                        proc.wait()
                        return proc.returncode
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    raise AssertionError(f'{pattern!r} never appeared:\n' + open(log).read()[-3000:])


def exact_resume(root, work, epochs, batch, kill_pattern, stale_a=False, extra_options=()):
    """Run A uninterrupted; run B killed by SIGKILL at ``kill_pattern`` and resumed; both tested.
    With ``stale_a``, A's work dir first holds an earlier run's checkpoints and A starts with
    --overwrite. Returns (A dir, B dir, [A metrics, B metrics])."""
    a, b = osp.join(work, 'A'), osp.join(work, 'B')
    opts = options(root, epochs=epochs, batch=batch) + list(extra_options)
    extra = []
    if stale_a:
        os.makedirs(a)
        open(osp.join(a, 'epoch_5.pth'), 'wb').write(b'an earlier run')
        open(osp.join(a, 'last_checkpoint'), 'w').write(osp.join(a, 'epoch_5.pth'))
        extra = ['--overwrite']
    proc = run(['tools/train.py', CONFIG, '--work-dir', a, '--deterministic', *extra, *opts])
    if stale_a:  # the earlier run's checkpoints went, then A started from scratch
        assert 'removed 2 checkpoint file(s)' in proc.stdout
        assert not osp.exists(osp.join(a, 'epoch_5.pth'))
        assert 'Epoch(train) [1][1/' in proc.stdout + proc.stderr
    rc = kill_when(['tools/train.py', CONFIG, '--work-dir', b, '--deterministic', *opts],
                   osp.join(work, 'B_killed.log'), kill_pattern)
    assert rc == -signal.SIGKILL
    assert osp.isfile(osp.join(b, 'epoch_1.pth'))
    assert not osp.exists(osp.join(b, f'epoch_{epochs}.pth'))  # killed before the end
    out = run(['tools/train.py', CONFIG, '--work-dir', b, '--deterministic', '--resume', *opts])
    assert 'resumed epoch: 1' in out.stdout + out.stderr
    final = f'epoch_{epochs}.pth'
    ca, cb = state(osp.join(a, final)), state(osp.join(b, final))
    assert (ca['meta']['epoch'], ca['meta']['iter']) == (cb['meta']['epoch'], cb['meta']['iter'])
    assert ca['meta']['epoch'] == epochs
    assert ca['state_dict'].keys() == cb['state_dict'].keys()
    different = [k for k, v in ca['state_dict'].items() if not torch.equal(v, cb['state_dict'][k])]
    assert not different, f'{len(different)} tensors differ, e.g. {different[:5]}'
    metrics = []
    for d in (a, b):
        out = osp.join(d, 'test_metrics.json')
        run(['tools/test.py', CONFIG, osp.join(d, final), '--work-dir', d, '--metrics-out', out,
             *options(root)])
        metrics.append(json.load(open(out)))
    assert metrics[0]['acc/top1'] == metrics[1]['acc/top1']
    assert metrics[0]['acc/mean1'] == metrics[1]['acc/mean1']
    return a, b, metrics


@pytest.fixture(scope='module')
def trained(toy_root, module_tmp):
    """Default-suite exact-resume run on the 7-clip toy set: 2 epochs of 2 iterations (batch 3;
    training drops the last incomplete batch), B killed after iteration 1 of epoch 2. A starts in
    a work dir holding a stale earlier run, with --overwrite."""
    work = str(module_tmp.mktemp('reliability'))
    a, b, metrics = exact_resume(toy_root, work, epochs=2, batch=3, stale_a=True,
                                 kill_pattern=r'Epoch\(train\)\s+\[2\]\[\s*1/2\]')
    return SimpleNamespace(root=toy_root, work=work, a=a, b=b, metrics=metrics,
                           checkpoint=osp.join(a, 'epoch_2.pth'))


def test_exact_resume_after_sigkill_mid_epoch(trained):
    """The fixture found A's and B's final weights bitwise equal. Both runs trained: every
    parameter got a gradient at each of the 4 steps (2 epochs x 2 iterations), and both test to
    the same metrics, every one of them (per-class recall included)."""
    for run_dir in (trained.a, trained.b):
        ckpt = state(osp.join(run_dir, 'epoch_2.pth'))
        params = [i for group in ckpt['optimizer']['param_groups'] for i in group['params']]
        steps = {i: float(s['step']) for i, s in ckpt['optimizer']['state'].items()}
        assert sorted(steps) == sorted(params) and set(steps.values()) == {4.0}
        assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
                   if v.is_floating_point())
    a, b = ({k: v for k, v in m.items() if k != 'checkpoint'} for m in trained.metrics)
    assert a == b and 'acc/top1' in a and 'acc/mean1' in a
    assert round(7 * a['acc/top1'], 9) == round(7 * a['acc/top1'])  # k of the 7 test clips


@pytest.mark.slow
def test_exact_resume_after_sigkill_three_epochs(tmp_path):
    """The full protocol: 14 clips, batch 2 (7 iterations), 3 epochs, killed at [2][1/7]."""
    from est_mm.datasets.toy import generate_toy_dataset
    root = str(tmp_path / 'toy')
    generate_toy_dataset(root, train_per_class=2, test_per_class=1, frame_size=32, min_frames=3,
                         max_frames=12, progress=False)
    exact_resume(root, str(tmp_path), epochs=3, batch=2,
                 kill_pattern=r'Epoch\(train\)\s+\[2\]\[\s*1/7\]')


@pytest.mark.slow
def test_exact_resume_with_persistent_workers(toy_root, tmp_path):
    """Two persistent DataLoader workers (the dataset configs' setting): EpochSeedHook restarts
    them every epoch, seeded from (seed, epoch, rank, worker id)."""
    exact_resume(toy_root, str(tmp_path), epochs=2, batch=3,
                 kill_pattern=r'Epoch\(train\)\s+\[2\]\[\s*1/2\]',
                 extra_options=['train_dataloader.num_workers=2',
                                'train_dataloader.persistent_workers=True'])


def test_checkpoint_carries_inference_settings(trained):
    meta = state(trained.checkpoint)['meta']
    est = meta['est']
    assert est['classes'] == list(meta['dataset_meta']['classes'])
    assert est['classes'][0] == 'Happy' and len(est['classes']) == 7
    assert est['frame_size'] == [32, 32]
    sampling = est['test_sampling']
    assert sampling['type'] == 'SnippetSampling' and sampling['test_mode'] is True
    assert sampling['num_snippets'] == 7 and sampling['unified_len'] == 105  # defaults filled in
    assert est['data_preprocessor']['std'] == [255.0, 255.0, 255.0]
    perms = state(trained.checkpoint)['state_dict']['cls_head.ssop.permutations']
    assert perms.shape == (10, 7)


def test_inferencer_reproduces_test_py_predictions(trained, tmp_path):
    from est_mm.apis.inference import ESTInferencer
    from mmaction.registry import DATASETS
    dump = str(tmp_path / 'preds.pkl')
    open(dump, 'wb').write(b'old')
    run(['tools/test.py', CONFIG, trained.checkpoint, '--work-dir', str(tmp_path), '--dump', dump,
         '--overwrite', *options(trained.root)])  # --overwrite: the old file is replaced
    with open(dump, 'rb') as f:
        preds = pickle.load(f)  # our own file, just written
    assert not [p for p in os.listdir(tmp_path) if '.tmp' in p]
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    cfg.model.cls_head.ffn_channels = 256  # SMALL_MODEL
    cfg.model.cls_head.ssop.hidden = [256, 128]
    cfg.test_dataloader.dataset.data_root = trained.root
    # the config says 64 px; the checkpoint says 32 px and wins (with a warning)
    with pytest.warns(UserWarning, match='frame size'):
        inferencer = ESTInferencer(cfg, trained.checkpoint, device='cpu')
    assert inferencer.size == (32, 32)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(preds) == len(dataset)
    for i in range(3):
        result = inferencer(dataset.get_data_info(i)['frame_dir'])
        expected = preds[i]['pred_score'].numpy()
        np.testing.assert_allclose(result.scores, expected, atol=1e-5)
        assert result.label_name == inferencer.classes[int(expected.argmax())]


# --- bad checkpoints: one line naming the file, nothing runs -------------------------------------

class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture(scope='module')
def bad_checkpoints(trained, module_tmp):
    d = module_tmp.mktemp('bad')
    marker = str(d / 'pwned')
    evil = str(d / 'evil.pth')
    torch.save({'meta': {}, 'state_dict': {'w': RunsCode(marker)}}, evil)
    data = open(trained.checkpoint, 'rb').read()
    truncated = str(d / 'truncated.pth')
    open(truncated, 'wb').write(data[:len(data) // 2])
    video = str(d / 'clip.mp4')
    open(video, 'wb').write(b'not read: the checkpoint is loaded first')
    return SimpleNamespace(dir=d, marker=marker, evil=evil, truncated=truncated, video=video,
                           root=trained.root)


def tool_command(tool, ckpt, bad, tmp_path):
    if tool == 'test':
        return ['tools/test.py', CONFIG, ckpt, '--work-dir', str(tmp_path), *options(bad.root)]
    if tool == 'train':
        return ['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'), '--resume', ckpt,
                *options(bad.root)]
    return ['tools/demo.py', bad.video, CONFIG, ckpt, '--out-dir', str(tmp_path / 'out'),
            '--device', 'cpu', '--no-face-crop']


@pytest.mark.parametrize('tool', ['test', 'train', 'demo'])
def test_checkpoint_that_runs_code_is_refused(tool, bad_checkpoints, tmp_path):
    proc = run(tool_command(tool, bad_checkpoints.evil, bad_checkpoints, tmp_path), check=False)
    one_line_failure(proc, bad_checkpoints.evil, 'refused', 'posix.system', 'torch safe loading')
    assert not osp.exists(bad_checkpoints.marker)


@pytest.mark.parametrize('tool', ['test', 'train', 'demo'])
def test_truncated_checkpoint_gives_one_line(tool, bad_checkpoints, tmp_path):
    proc = run(tool_command(tool, bad_checkpoints.truncated, bad_checkpoints, tmp_path),
               check=False)
    one_line_failure(proc, bad_checkpoints.truncated, 'truncated or corrupt')


# --- no silent overwriting -----------------------------------------------------------------------

def test_train_refuses_a_work_dir_with_checkpoints(toy_root, tmp_path):
    ckpt, pointer = tmp_path / 'epoch_3.pth', tmp_path / 'last_checkpoint'
    ckpt.write_bytes(b'earlier run')
    pointer.write_text(str(ckpt))
    proc = run(['tools/train.py', CONFIG, '--work-dir', str(tmp_path), *options(toy_root)],
               check=False)
    line = one_line_failure(proc, str(tmp_path), 'has checkpoints from an earlier run',
                            '--resume', '--overwrite')
    assert line == (f'{tmp_path} has checkpoints from an earlier run: pass --resume to continue '
                    'it or --overwrite to start over')
    assert ckpt.read_bytes() == b'earlier run' and pointer.read_text() == str(ckpt)
    assert sorted(os.listdir(tmp_path)) == ['epoch_3.pth', 'last_checkpoint']


@pytest.mark.parametrize('flag', ['--dump', '--metrics-out'])
def test_test_py_refuses_to_replace_outputs(flag, trained, tmp_path):
    out = tmp_path / ('preds.pkl' if flag == '--dump' else 'metrics.json')
    out.write_bytes(b'earlier results')
    proc = run(['tools/test.py', CONFIG, trained.checkpoint, '--work-dir', str(tmp_path), flag,
                str(out), *options(trained.root)], check=False)
    one_line_failure(proc, str(out), 'exists', '--overwrite')
    assert out.read_bytes() == b'earlier results'


@pytest.mark.parametrize('kind', ['json', 'video'])
def test_demo_refuses_to_replace_outputs(kind, bad_checkpoints, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    existing = out / ('clip.json' if kind == 'json' else 'clip.mp4')
    existing.write_bytes(b'earlier results')
    proc = run(['tools/demo.py', bad_checkpoints.video, CONFIG, bad_checkpoints.evil, '--out-dir',
                str(out), '--vid-out-dir', str(out), '--no-face-crop'], check=False)
    one_line_failure(proc, str(existing), 'exists', '--overwrite')  # before loading anything
    assert existing.read_bytes() == b'earlier results'
    assert sorted(os.listdir(out)) == [existing.name]


# --- atomic writes, rotation, auto-resume (in-process, fast) -------------------------------------

def test_checkpoint_saving_is_atomic(tmp_path, monkeypatch):
    from mmengine.runner import checkpoint as mm_ckpt
    from mmengine.runner import runner as mm_runner
    assert mm_runner.save_checkpoint is mm_ckpt.save_checkpoint  # the patched one, both places
    path = str(tmp_path / 'epoch_1.pth')
    mm_ckpt.save_checkpoint({'state_dict': {'w': torch.ones(3)}}, path)
    before = open(path, 'rb').read()
    real_save = torch.save

    def dies_half_way(obj, f, *args, **kwargs):
        real_save(obj, f)
        f.truncate(100)
        raise KeyboardInterrupt  # stands in for a kill in the middle of writing

    monkeypatch.setattr(torch, 'save', dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        mm_ckpt.save_checkpoint({'state_dict': {'w': torch.zeros(3)}}, path)
    assert open(path, 'rb').read() == before
    assert os.listdir(tmp_path) == ['epoch_1.pth']


class _FakeRunner:
    def __init__(self, work_dir, fail=False):
        from mmengine.logging import MessageHub
        self.work_dir = work_dir
        self.message_hub = MessageHub.get_instance(f'reliability-{id(self)}')
        self.fail = fail

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        if self.fail:
            raise KeyboardInterrupt
        open(osp.join(out_dir, filename), 'wb').write(filename.encode())


def test_old_checkpoint_is_kept_until_the_new_one_is_saved(tmp_path):
    from est_mm.engine import SafeCheckpointHook
    from est_mm.utils import latest_checkpoint
    from mmengine.fileio import get_file_backend
    hook = SafeCheckpointHook(interval=1, max_keep_ckpts=1)
    # what CheckpointHook.before_train sets up
    hook.out_dir, hook.file_backend = str(tmp_path), get_file_backend(str(tmp_path))
    hook.keep_ckpt_ids = deque([], 1)
    runner = _FakeRunner(str(tmp_path))
    hook._save_checkpoint_with_step(runner, 1, dict(epoch=1, iter=7))
    hook._save_checkpoint_with_step(runner, 2, dict(epoch=2, iter=14))
    assert sorted(os.listdir(tmp_path)) == ['epoch_2.pth', 'last_checkpoint']  # rotation works
    runner.fail = True  # killed while saving epoch 3: epoch 2 must survive
    with pytest.raises(KeyboardInterrupt):
        hook._save_checkpoint_with_step(runner, 3, dict(epoch=3, iter=21))
    assert osp.isfile(tmp_path / 'epoch_2.pth')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')


def test_auto_resume_does_not_trust_a_stale_pointer(tmp_path):
    from est_mm.utils import latest_checkpoint, work_dir_checkpoints
    assert latest_checkpoint(str(tmp_path)) is None
    for name in ('epoch_2.pth', 'epoch_10.pth', 'epoch_11.pth.tmp', 'pretrained.pth'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_12.pth'))  # deleted file
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')
    assert [osp.basename(p) for p in work_dir_checkpoints(str(tmp_path))] == \
        ['epoch_10.pth', 'epoch_2.pth', 'last_checkpoint']


def test_epoch_seed_depends_on_seed_and_epoch_only():
    from est_mm.engine.hooks.epoch_seed_hook import EpochSeedHook, epoch_seed
    hook = EpochSeedHook()
    draws = []
    for _ in range(2):
        runner = SimpleNamespace(seed=3456, epoch=4, train_dataloader=None, rank=0)
        np.random.rand(5), torch.rand(3)  # whatever happened before
        hook.before_train_epoch(runner)
        draws.append((np.random.rand(), torch.rand(1).item(), __import__('random').random()))
    assert draws[0] == draws[1]
    assert epoch_seed(3456, 4) != epoch_seed(3456, 5) != epoch_seed(3457, 4)
