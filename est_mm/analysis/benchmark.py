"""Side-by-side speed of EST and a backbone-only TSN baseline on the same 35 frames and batch,
and of data loading + snippet sampling from frame folders and video files.

What is measured (``iters`` timed repetitions after ``warmup``; the best (minimum) and the median
are kept — on a shared machine the minimum is the least disturbed estimate, as ``timeit``
recommends, and the headline ratios use it):

- training step: forward + loss, backward, and a step of the config's optimizer (Adam) through
  mmengine's ``OptimWrapper`` (``AmpOptimWrapper`` with ``amp``) as in training, on inputs that
  are already normalised tensors [B, 35, 3, S, S] (the data preprocessor is left out for both
  models), with the three parts timed separately, and the process's CPU seconds per step (all
  its threads; less disturbed by other processes than the wall-clock time, which it does not
  replace);
- inference: ``model(inputs, mode='predict')`` in eval mode without grad;
- peak memory: each model runs in its own fresh subprocess. On CPU it is the growth of the
  process's peak resident set (``getrusage`` ``ru_maxrss``) over its resident set just before
  the measured steps — activations, gradients, Adam state and allocator caching, i.e. what a
  training process needs beyond the loaded model and inputs; on CUDA it is
  ``torch.cuda.max_memory_allocated`` (tensors only, model included);
- loading: the config's test pipeline [VideoOrFramesInit, SnippetSampling, VideoOrFramesDecode,
  Resize, FormatShape, PackActionInputs] per clip, per step, on generated clips (JPEG folders and
  MP4 files) of ``clip_frames`` frames at S×S.

EST and TSN steps are interleaved (EST, TSN, EST, TSN, ...) so that load from other processes
hits both alike. With ``compete`` a :class:`Competitor` (a separate PyTorch process) loads the
same cores during the training and inference timings, as another training job would.
"""
import gc
import multiprocessing as mp
import os
import os.path as osp
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .common import build_model, frames_per_clip, load_config, machine_info, machine_line

# ------------------------------------------------------------------ models


def tsn_model_cfg(cfg, in_channels: int) -> dict:
    """A backbone-only TSN with the EST config's backbone: per-frame features, average consensus
    over the clip's frames, dropout, one linear classifier (mmaction's Recognizer2D + TSNHead)."""
    head = cfg.model.cls_head
    return dict(
        type='Recognizer2D',
        backbone=cfg.model.backbone,
        cls_head=dict(type='TSNHead', num_classes=head.num_classes, in_channels=in_channels,
                      spatial_type='avg', consensus=dict(type='AvgConsensus', dim=1),
                      dropout_ratio=0.4, average_clips='prob'),
        data_preprocessor=cfg.model.data_preprocessor)


def build_pair(cfg) -> Dict[str, torch.nn.Module]:
    """{'EST': the config's model, 'TSN': the TSN baseline with the same backbone}."""
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    est, _ = build_model(cfg)
    with torch.no_grad():
        width = est.frame_features(torch.zeros(1, 3, 64, 64)).shape[-1]
    torch.manual_seed(0)
    tsn = MODELS.build(tsn_model_cfg(cfg, width))
    return {'EST': est, 'TSN': tsn}


def make_batch(batch: int, frames: int, size: int, num_classes: int, device: str):
    """Random normalised inputs [B, F, 3, S, S] and data samples with labels."""
    from mmaction.structures import ActionDataSample
    g = torch.Generator().manual_seed(0)
    inputs = torch.rand(batch, frames, 3, size, size, generator=g).to(device)
    samples = []
    for i in range(batch):
        s = ActionDataSample()
        s.set_gt_label(i % num_classes)
        samples.append(s.to(device))
    return inputs, samples


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def build_optim_wrapper(cfg, model, amp: bool = False):
    """The config's ``optim_wrapper`` (e.g. Adam lr 1e-4 wd 1e-4) for ``model``, built by mmengine
    as in training; with ``amp`` an ``AmpOptimWrapper`` (float16 autocast + loss scaling)."""
    from mmengine.optim import build_optim_wrapper as build
    wrapper = dict(cfg.optim_wrapper)
    if amp:
        wrapper.update(type='AmpOptimWrapper', dtype='float16')
    return build(model, wrapper)


class Stepper:
    """One model's training step and inference call, with its own mmengine optim wrapper built
    from the config's ``optim_wrapper``. ``train_step`` returns the total seconds and records the
    forward (incl. loss), backward and optimizer-step parts in ``self.parts`` and the process's
    CPU seconds (all its threads) in ``self.cpu``."""

    def __init__(self, model, inputs, samples, device: str, amp: bool, cfg):
        self.model = model.to(device)
        self.inputs, self.samples, self.device, self.amp = inputs, samples, device, amp
        self.optim_wrapper = build_optim_wrapper(cfg, self.model, amp)
        self.parts = {'forward': [], 'backward': [], 'optimizer': []}
        self.cpu: List[float] = []

    def train_step(self) -> float:
        self.model.train()
        _sync(self.device)
        c0, t0 = time.process_time(), time.perf_counter()
        with self.optim_wrapper.optim_context(self.model):
            losses = self.model(self.inputs, self.samples, mode='loss')
            loss, _ = self.model.parse_losses(losses)
        self.optim_wrapper.zero_grad(set_to_none=True)
        _sync(self.device)
        t1 = time.perf_counter()
        self.optim_wrapper.backward(loss)
        _sync(self.device)
        t2 = time.perf_counter()
        self.optim_wrapper.step()
        _sync(self.device)
        t3 = time.perf_counter()
        self.cpu.append(time.process_time() - c0)
        for key, dt in zip(self.parts, (t1 - t0, t2 - t1, t3 - t2)):
            self.parts[key].append(dt)
        return t3 - t0

    @torch.no_grad()
    def infer(self) -> float:
        from mmengine.runner import autocast
        self.model.eval()
        _sync(self.device)
        t = time.perf_counter()
        with autocast(device_type=self.device.split(':')[0],
                      dtype=torch.float16 if self.amp else None, enabled=self.amp):
            self.model(self.inputs, self.samples, mode='predict')
        _sync(self.device)
        return time.perf_counter() - t


def time_models(steppers: Dict[str, Stepper], what: str, iters: int, warmup: int = 1
                ) -> Dict[str, List[float]]:
    """Interleaved timings of ``what`` ('train_step' or 'infer') for every model."""
    times = {name: [] for name in steppers}
    for i in range(warmup + iters):
        for name, s in steppers.items():
            t = getattr(s, what)()
            if i >= warmup:
                times[name].append(t)
    return times


# ------------------------------------------------------------------ a competing process

# Run as ``python -c`` so that the child imports torch only. It stops after its current iteration
# on SIGTERM, and by itself when the benchmark's process dies (PR_SET_PDEATHSIG where Linux has
# it, otherwise its parent id changing), so a killed benchmark leaves no orphan loading the cores.
_COMPETITOR_SOURCE = r"""
import os, signal, sys, time
threads, size, parent = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
except Exception:
    pass
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
import torch
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
x = torch.rand(8, 64, size, size, generator=g, requires_grad=True)
w = torch.rand(64, 64, 3, 3, generator=g, requires_grad=True)
a = torch.rand(8 * size, 8 * size, generator=g)
n, t0 = 0, time.perf_counter()
while not stop and os.getppid() == parent:
    torch.nn.functional.conv2d(x, w, padding=1).relu().sum().backward()
    a = torch.tanh(a @ a)
    n += 1
    if n == 1:
        print('ready', flush=True)
print(f'iterations {n} seconds {time.perf_counter() - t0:.3f}', flush=True)
"""


class Competitor:
    """A separate PyTorch process on ``threads`` threads running a conv (forward + backward) and
    matmul loop on [8, 64, size, size] / [8·size]² tensors, to time the models under the load of
    another training job. ``start`` returns once it has done one iteration; ``stop`` ends it
    (SIGTERM, then SIGKILL if it does not exit) and returns its iterations and seconds."""

    def __init__(self, threads: int, size: int = 56, start_timeout: float = 300.0):
        if threads < 1 or size < 1:
            raise ValueError(f'competing process: threads and size must be >= 1, got '
                             f'{threads} and {size}')
        self.threads, self.size, self.start_timeout = threads, size, start_timeout
        self.proc: Optional[subprocess.Popen] = None
        self._stderr = None

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def start(self) -> 'Competitor':
        self._stderr = tempfile.TemporaryFile()
        # OpenMP settings of the benchmark (e.g. OMP_WAIT_POLICY) are not passed on: the other job
        # runs with the defaults whatever the benchmark is timed with
        env = {k: v for k, v in os.environ.items() if not k.startswith(('OMP_', 'GOMP_', 'KMP_'))}
        # its own session: Ctrl-C reaches the benchmark only, which then stops it
        self.proc = subprocess.Popen(
            [sys.executable, '-c', _COMPETITOR_SOURCE, str(self.threads), str(self.size),
             str(os.getpid())], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._stderr, start_new_session=True, env=env)
        try:
            ready, _, _ = select.select([self.proc.stdout], [], [], self.start_timeout)
            line = self.proc.stdout.readline() if ready else b''
            if line.strip() != b'ready':
                raise RuntimeError(f'the competing process did not start within '
                                   f'{self.start_timeout:.0f} s: {self._error_tail()}')
        except BaseException:
            self.stop()
            raise
        return self

    def _error_tail(self) -> str:
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors='replace').strip().splitlines()
        return tail[-1] if tail else f'exit code {self.proc.poll()}'

    def stop(self, timeout: float = 60.0) -> Dict:
        """Ends the process and returns {'threads', 'size', 'pid', 'iterations', 'seconds'}."""
        out = dict(threads=self.threads, size=self.size, pid=self.pid, iterations=0, seconds=0.0)
        if self.proc is None:
            return out
        proc, self.proc = self.proc, None
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                stdout, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, _ = proc.communicate()
        finally:
            if proc.poll() is None:  # interrupted while waiting
                proc.kill()
                proc.wait()
            self._stderr.close()
        for line in stdout.decode(errors='replace').splitlines():
            if line.startswith('iterations '):
                _, n, _, secs = line.split()
                out.update(iterations=int(n), seconds=float(secs))
        return out


# ------------------------------------------------------------------ memory (subprocess per model)


def _status_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    """Resets the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _memory_worker(config, cfg_options, which, what, size, batch, device, amp, steps, queue):
    try:
        cfg = load_config(config, cfg_options)
        pair = build_pair(cfg)
        frames = frames_per_clip(pair['EST'])
        model = pair.pop(which)
        del pair
        inputs, samples = make_batch(batch, frames, size, cfg.model.cls_head.num_classes, device)
        stepper = Stepper(model, inputs, samples, device, amp, cfg)
        gc.collect()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        reset = _reset_peak_rss()
        before = _status_kb('VmRSS')
        for _ in range(steps):
            getattr(stepper, what)()
        if device.startswith('cuda'):
            queue.put(dict(bytes=int(torch.cuda.max_memory_allocated()),
                           kind='torch.cuda.max_memory_allocated (tensors, model included)'))
        else:
            peak = (_status_kb('VmHWM') if reset else
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            queue.put(dict(bytes=int(max(0, peak - before) * 1024),
                           kind='growth of the peak RSS over the RSS before the steps '
                           '(activations, gradients, optimizer state, allocator caches; '
                           'model and inputs excluded)'))
    except Exception as err:  # reported by the parent
        queue.put(dict(error=f'{type(err).__name__}: {err}'))


def measure_memory(config, cfg_options, which: str, what: str, size: int, batch: int,
                   device: str = 'cpu', amp: bool = False, steps: int = 2) -> Dict:
    """Peak memory of ``steps`` calls of ``what`` ('train_step'/'infer') of model ``which``
    ('EST'/'TSN'), in a fresh spawned process (see the module docstring for what is measured)."""
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_worker, args=(config, cfg_options, which, what, size, batch,
                                                     device, amp, steps, queue))
    proc.start()
    try:
        out = queue.get(timeout=900)
    finally:
        proc.join(timeout=60)
    if 'error' in out:
        raise RuntimeError(f'memory measurement of {which} {what} failed: {out["error"]}')
    return out


# ------------------------------------------------------------------ data loading


def _clip_frames(n: int, size: int, seed: int) -> np.ndarray:
    """A synthetic face-like clip: smooth background, a moving bright ellipse, mild noise
    [n, S, S, 3] uint8 (compresses like real footage, unlike pure noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((n, size, size, 3), np.uint8)
    for t in range(n):
        phase = t / max(n - 1, 1)
        cx, cy = 0.5 + 0.15 * np.sin(2 * np.pi * phase), 0.5 + 0.1 * np.cos(2 * np.pi * phase)
        face = ((xx - cx) / 0.28) ** 2 + ((yy - cy) / 0.36) ** 2 < 1
        img = np.stack([60 + 80 * xx, 70 + 60 * yy, 90 + 40 * (1 - xx)], -1)
        img[face] = (200 - 40 * phase, 160, 140)
        img += rng.normal(0, 4, img.shape)
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def write_clips(root: str, num_clips: int = 3, num_frames: int = 90, size: int = 224
                ) -> Dict[str, List[str]]:
    """Writes ``num_clips`` clips as JPEG folders (``1.jpg``..), MPEG-4 Part 2 files (cv2 'mp4v')
    and H.264 files (PyAV libx264); returns {'frames': [dirs], 'mp4v': [files], 'h264': [...]}.
    """
    import cv2
    out = {'frames': [], 'mp4v': [], 'h264': []}
    for c in range(num_clips):
        frames = _clip_frames(num_frames, size, c)
        d = osp.join(root, 'frames', f'{c:05d}')
        os.makedirs(d, exist_ok=True)
        for i, img in enumerate(frames):
            cv2.imwrite(osp.join(d, f'{i + 1}.jpg'), cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 90])
        out['frames'].append(d)
        path = osp.join(root, f'{c:05d}_mp4v.mp4')
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 25, (size, size))
        for img in frames:
            writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        writer.release()
        out['mp4v'].append(path)
        try:
            import av
            path = osp.join(root, f'{c:05d}_h264.mp4')
            with av.open(path, 'w') as container:
                stream = container.add_stream('libx264', rate=25)
                stream.width = stream.height = size
                stream.pix_fmt = 'yuv420p'
                for img in frames:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
            out['h264'].append(path)
        except Exception:  # PyAV without libx264: that format is left out
            pass
    return {k: v for k, v in out.items() if v}


def loading_pipeline(cfg, size: int) -> List:
    """The config's test pipeline, built, with its Resize set to S×S."""
    from mmaction.registry import TRANSFORMS
    steps = []
    for step in cfg.test_dataloader.dataset.pipeline:
        step = dict(step)
        if step['type'] == 'Resize':
            step['scale'] = (size, size)
        steps.append(TRANSFORMS.build(step))
    return steps


def time_loading(pipeline: Sequence, sources: Sequence[str], key: str, reps: int = 3) -> Dict:
    """Per-clip time of the whole pipeline and of each step (medians over clips × reps), and the
    number of distinct frames decoded per clip."""
    per_step = {type(t).__name__: [] for t in pipeline}
    totals, decoded = [], []
    for _ in range(reps):
        for src in sources:
            results = {key: src, 'label': 0, 'modality': 'RGB', 'start_index': 0}
            total = 0.0
            for t in pipeline:
                t0 = time.perf_counter()
                results = t(results)
                dt = time.perf_counter() - t0
                per_step[type(t).__name__].append(dt)
                total += dt
                if 'frame_inds' in results:
                    inds = results['frame_inds']
            totals.append(total)
            decoded.append(len(np.unique(inds)))
    return dict(per_clip_s=statistics.median(totals),
                steps={k: statistics.median(v) for k, v in per_step.items()},
                decoded_frames=max(decoded))


# ------------------------------------------------------------------ the whole benchmark


@dataclass
class BenchmarkOptions:
    """What :func:`run_benchmark` measures and how; ``tools/analysis/benchmark.py`` fills it from
    its options of the same names."""
    frame_size: int = 112  # side of the square random frames
    batch: int = 2  # clips per step (>= 2: the SSOP branch's BatchNorm trains on 2 clips)
    iters: int = 5  # timed steps per model
    warmup: int = 1  # untimed steps first
    device: str = 'cpu'
    amp: bool = False  # float16 autocast (CUDA only)
    cfg_options: Optional[dict] = None
    memory: bool = True  # peak memory, each case in its own process
    loading: bool = True  # time the data loading pipeline on written clips
    num_clips: int = 3  # clips written for the loading timing
    clip_frames: int = 90  # frames of each
    compete: int = 0  # threads of a competing PyTorch process during the timings (0: none)
    compete_size: int = 56  # its tensors' side (see Competitor)

    def __post_init__(self):
        if self.amp and not self.device.startswith('cuda'):
            raise ValueError('--amp needs a CUDA device (float16 autocast)')
        if self.batch < 2:
            raise ValueError('batch must be >= 2: the SSOP branch\'s BatchNorm needs 2 clips to '
                             'train')
        if self.compete < 0:
            raise ValueError(f'--compete takes a number of threads >= 1, got {self.compete}')


def _time_pair(steppers: Dict[str, Stepper], o: BenchmarkOptions, log) -> tuple:
    """Interleaved training-step and inference timings, beside a :class:`Competitor` when
    ``o.compete``; returns (train times, inference times, the competitor's record or None)."""
    competitor = None
    if o.compete:
        log(f'starting a competing PyTorch process ({o.compete} thread(s)) ...')
        competitor = Competitor(o.compete, o.compete_size).start()
    try:
        log(f'timing training steps ({o.warmup} warm-up + {o.iters} per model, interleaved) ...')
        train = time_models(steppers, 'train_step', o.iters, o.warmup)
        log('timing inference ...')
        infer = time_models(steppers, 'infer', o.iters, o.warmup)
    finally:  # Ctrl-C and errors too
        record = competitor.stop() if competitor else None
    if record is not None:
        record['iters_per_s'] = record['iterations'] / max(record['seconds'], 1e-9)
    return train, infer, record


def run_benchmark(config: str = 'configs/est_r18_dfew.py',
                  options: Optional[BenchmarkOptions] = None, log=print) -> Dict:
    """Runs everything the module docstring lists and returns a JSON-ready dict."""
    o = options or BenchmarkOptions()
    frame_size, batch, iters, warmup = o.frame_size, o.batch, o.iters, o.warmup
    device, amp, cfg_options = o.device, o.amp, o.cfg_options
    cfg = load_config(config, cfg_options)
    models = build_pair(cfg)
    frames = frames_per_clip(models['EST'])
    inputs, samples = make_batch(batch, frames, frame_size, cfg.model.cls_head.num_classes,
                                 device)
    steppers = {name: Stepper(m, inputs, samples, device, amp, cfg)
                for name, m in models.items()}
    report = dict(machine=machine_info(), config=config, device=device, amp=amp,
                  frame_size=frame_size, batch=batch, frames_per_clip=frames, iters=iters,
                  warmup=warmup, models={})
    for name, m in models.items():
        report['models'][name] = dict(params=sum(p.numel() for p in m.parameters()))
    train, infer, competitor = _time_pair(steppers, o, log)
    report['load_avg_after_timings'] = round(os.getloadavg()[0], 2)
    if competitor:
        report['competitor'] = competitor
    for name in models:
        parts = {k: min(v[warmup:]) for k, v in steppers[name].parts.items()}
        cpu = steppers[name].cpu[warmup:]
        report['models'][name].update(
            train_step_s=min(train[name]), train_step_median_s=statistics.median(train[name]),
            train_step_all_s=train[name], train_parts_best_s=parts,
            train_step_cpu_s=min(cpu), train_step_cpu_median_s=statistics.median(cpu),
            infer_s=min(infer[name]), infer_median_s=statistics.median(infer[name]),
            infer_all_s=infer[name])
    report['optimizer'] = dict(cfg.optim_wrapper.optimizer)
    report['optim_wrapper'] = type(steppers['EST'].optim_wrapper).__name__
    del steppers, models, inputs
    est, tsn = report['models']['EST'], report['models']['TSN']
    report['ratios'] = dict(
        train_step_est_over_tsn=est['train_step_s'] / tsn['train_step_s'],
        train_step_est_over_tsn_median=est['train_step_median_s'] / tsn['train_step_median_s'],
        train_step_cpu_est_over_tsn=est['train_step_cpu_s'] / tsn['train_step_cpu_s'],
        infer_est_over_tsn=est['infer_s'] / tsn['infer_s'],
        infer_est_over_tsn_median=est['infer_median_s'] / tsn['infer_median_s'])
    for m in (est, tsn):
        m['infer_clips_per_s'] = batch / m['infer_s']
        m['infer_frames_per_s'] = batch * frames / m['infer_s']
    if o.memory:
        for name in ('EST', 'TSN'):
            for what, key in (('train_step', 'train_peak_mem'), ('infer', 'infer_peak_mem')):
                log(f'peak memory: {name} {what} (subprocess) ...')
                m = measure_memory(config, cfg_options, name, what, frame_size, batch, device,
                                   amp, steps=2 if what == 'train_step' else 1)
                report['models'][name][key + '_bytes'] = m['bytes']
                report['memory_kind'] = m['kind']
    if o.loading:
        log('timing data loading ...')
        tmp = tempfile.mkdtemp(prefix='est_bench_')
        try:
            clips = write_clips(tmp, o.num_clips, o.clip_frames, frame_size)
            pipeline = loading_pipeline(cfg, frame_size)
            report['loading'] = dict(clip_frames=o.clip_frames, num_clips=o.num_clips,
                                     steps=[type(t).__name__ for t in pipeline])
            for kind, sources in clips.items():
                key = 'frame_dir' if kind == 'frames' else 'filename'
                report['loading'][kind] = time_loading(pipeline, sources, key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        forward_per_clip = est['infer_s'] / batch  # best inference time
        report['ratios']['loading_over_forward'] = {
            kind: v['per_clip_s'] / forward_per_clip
            for kind, v in report['loading'].items() if isinstance(v, dict)}
    return report


def format_benchmark(r: Dict) -> str:
    """The benchmark as plain-text tables."""
    lines = [machine_line(r['machine']),
             f"{r['config']}: {r['batch']} clip(s) × {r['frames_per_clip']} frames × "
             f"{r['frame_size']}², device {r['device']}{', AMP fp16' if r['amp'] else ''}, "
             f"best and median of {r['iters']} (after {r['warmup']} warm-up)"]
    mem = 'memory_kind' in r
    head = (f"{'model':<6} {'params (M)':>10} {'train step (s)':>15} {'fwd + bwd + optim':>20}"
            f" {'inference (s)':>14}")
    if mem:
        head += f" {'train peak (MB)':>16} {'infer peak (MB)':>16}"
    lines += ['', head]
    for name, m in r['models'].items():
        p = m['train_parts_best_s']
        parts = f"{p['forward']:.2f} + {p['backward']:.2f} + {p['optimizer']:.2f}"
        train = f"{m['train_step_s']:.2f} / {m['train_step_median_s']:.2f}"
        infer = f"{m['infer_s']:.3f} / {m['infer_median_s']:.3f}"
        row = (f"{name:<6} {m['params'] / 1e6:>10.2f} {train:>15} {parts:>20} {infer:>14}")
        if mem:
            row += (f" {m['train_peak_mem_bytes'] / 2**20:>16.0f}"
                    f" {m['infer_peak_mem_bytes'] / 2**20:>16.0f}")
        lines.append(row)
    ratios = r['ratios']
    opt = ', '.join(f'{k}={v}' for k, v in r['optimizer'].items())
    lines.append(f'times: best / median; training step = forward + loss, backward, optimizer '
                 f'step ({opt}), parts: best of each')
    comp = r.get('competitor')
    if comp:
        lines.append(f"busy: a competing PyTorch process ({comp['threads']} thread(s), conv + "
                     f"matmul loop at {comp['size']}) ran beside the timings: "
                     f"{comp['iterations']} iterations in {comp['seconds']:.1f} s "
                     f"({comp['iters_per_s']:.2f}/s); load average "
                     f"{r['load_avg_after_timings']:.2f} after them")
    lines.append(f"EST / TSN: training step {ratios['train_step_est_over_tsn']:.3f} "
                 f"(goal ≤ {1.10 if comp else 1.05:.2f}; medians: "
                 f"{ratios['train_step_est_over_tsn_median']:.3f}; by the process's CPU "
                 f"seconds: {ratios['train_step_cpu_est_over_tsn']:.3f}), "
                 f"inference {ratios['infer_est_over_tsn']:.3f} "
                 f"(medians: {ratios['infer_est_over_tsn_median']:.3f})")
    est = r['models']['EST']
    lines.append(f"EST inference: {est['infer_clips_per_s']:.2f} clips/s = "
                 f"{est['infer_frames_per_s']:.1f} frames/s on {r['device']}"
                 + (' (paper: 412 fps on a GPU; this machine has none — run with --device cuda '
                    '[--amp] on one)' if r['device'] == 'cpu' else ' (paper: 412 fps)'))
    if mem:
        lines.append(f"memory = {r['memory_kind']}, one fresh process per model")
    if 'loading' in r:
        ld = r['loading']
        lines += ['', f"data loading + snippet sampling per clip ({ld['num_clips']} generated "
                  f"clips of {ld['clip_frames']} frames, test pipeline):"]
        steps = ld['steps']
        short = {'VideoOrFramesInit': 'init', 'SnippetSampling': 'sampling',
                 'VideoOrFramesDecode': 'decode', 'Resize': 'resize', 'FormatShape': 'format',
                 'PackActionInputs': 'pack', 'ZeroFillFrames': 'zerofill'}
        lines.append(f"{'source':<8} {'total (ms)':>10} " + ' '.join(
            f'{short.get(s, s):>9}' for s in steps) + f" {'decoded':>8} {'/ forward':>10}")
        for kind in ('frames', 'mp4v', 'h264'):
            if kind not in ld:
                continue
            v = ld[kind]
            lines.append(f"{kind:<8} {v['per_clip_s'] * 1e3:>10.1f} " + ' '.join(
                f"{v['steps'][s] * 1e3:>9.1f}" for s in steps) + f" {v['decoded_frames']:>8}"
                f" {ratios['loading_over_forward'][kind]:>10.3f}")
        lines.append(f"'/ forward' = loading one clip / EST {r['device']} inference of one clip "
                     f"({r['models']['EST']['infer_s'] / r['batch'] * 1e3:.0f} ms); goal ≤ 0.25. "
                     "'decoded' = distinct frames read per clip")
    return '\n'.join(lines)
