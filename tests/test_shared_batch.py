"""One backbone batch per step for all faces: TrackStreams with ``shared_batch`` gives every track
the records its engine gives alone (PyTorch and ONNX Runtime), in fewer, larger backbone calls."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.apis.inference import ESTInferencer
from est_mm.streaming import TrackStreams
from est_mm.streaming.engine import run_batched
from helpers.cli import ROOT, TOY_CONFIG

FPS = 25.0
LENGTH = 130
# track -> (first frame, last frame + 1): 1 and 2 start together, 3 one stride later (the same
# grid: their snippets complete at the same frames), 4 off the grid; 2 is lost early, so the
# number of live tracks goes 1 -> 2 -> 3 -> 4 -> 3
SPANS = {1: (0, LENGTH), 2: (0, 112), 3: (10, LENGTH), 4: (7, LENGTH)}


class _Counting:
    """The real parts, with the batch size of every backbone and every Transformer call
    recorded."""

    def __init__(self, parts):
        self.parts, self.batches, self.heads = parts, [], []

    def __getattr__(self, name):
        return getattr(self.parts, name)

    def frames(self, crops):
        self.batches.append(len(crops))
        return self.parts.frames(crops)

    def window(self, R):
        self.heads.append(1)
        return self.parts.window(R)

    def windows(self, R):
        self.heads.append(len(R))
        return self.parts.windows(R)


@pytest.fixture(scope='module')
def inferencers(checkpoint, module_tmp):
    """The toy checkpoint at 32x32 (fast on the CPU) on PyTorch and, exported without
    verification, on ONNX Runtime. PyTorch on one thread: tiny batches gain nothing from two,
    and with other processes on the cores two threads waiting on each other ran 45x slower."""
    from est_mm.deploy.onnx_export import ExportSettings, export_and_verify
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    config = osp.join(ROOT, TOY_CONFIG)
    cfg = Config.fromfile(config)
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (32, 32)
    out = str(module_tmp.mktemp('onnx') / 'toy.onnx')
    export_and_verify(config, checkpoint, ExportSettings(out=out, verify_clips=0,
                                                         frame_size=(32, 32)),
                      log=lambda *a: None)
    yield dict(pytorch=ESTInferencer(cfg, checkpoint, device='cpu'),
               onnxruntime=ESTInferencer(None, out, backend='onnxruntime'))
    torch.set_num_threads(threads)


def _frames(seed):
    return np.random.RandomState(seed).randint(0, 256, (LENGTH, 40, 36, 3), dtype=np.uint8)


def _run(inferencer, shared, keep_tail):
    """Every track of SPANS through one TrackStreams: (records, backbone batch sizes,
    Transformer batch sizes)."""
    streams = TrackStreams.from_inferencer(inferencer, keep_tail=keep_tail, shared_batch=shared)
    counting = _Counting(streams.make_engine(0).parts)
    make = streams.make_engine
    streams.make_engine = lambda track: _with_parts(make(track), counting)
    faces = {t: _frames(t) for t in SPANS}
    records = []
    for i in range(LENGTH):
        present = [t for t, (a, b) in SPANS.items() if a <= i < b]
        crops = {t: faces[t][i] if streams.needs(t, i) else None for t in present}
        records += streams.push(i, i / FPS, crops)
        for t in [t for t, (_, b) in SPANS.items() if b == i + 1 and b < LENGTH]:
            records += streams.end(t)
    records += streams.finish()
    assert streams.frames_embedded == sum(counting.batches)
    assert sum(counting.heads) == len(records)
    return records, counting.batches, counting.heads


def _with_parts(engine, parts):
    engine.parts = parts
    return engine


@pytest.mark.parametrize('backend,keep_tail', [('pytorch', False), ('pytorch', True),
                                               ('onnxruntime', False)])
def test_shared_batch_gives_each_track_its_own_records(inferencers, backend, keep_tail):
    inferencer = inferencers[backend]
    shared, shared_batches, shared_heads = _run(inferencer, True, keep_tail)
    alone, alone_batches, alone_heads = _run(inferencer, False, keep_tail)
    assert [(r.track, r.start, r.end) for r in shared] == \
        [(r.track, r.start, r.end) for r in alone]
    assert {r.track for r in shared} == set(SPANS)
    for a, b in zip(shared, alone):
        assert (a.frame_inds, a.start_time, a.end_time) == (b.frame_inds, b.start_time, b.end_time)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5, rtol=0)
        np.testing.assert_allclose(a.frame_weights, b.frame_weights, atol=1e-5, rtol=0)
        np.testing.assert_allclose(a.snippet_attention, b.snippet_attention, atol=1e-5, rtol=0)
    # the same frames, in fewer calls: tracks 1-3 share the grid (3 x 5 frames per batch)
    assert sum(shared_batches) == sum(alone_batches)
    assert 15 in shared_batches and 15 not in alone_batches
    assert len(shared_batches) < len(alone_batches)
    # and the windows that complete at one frame go through the Transformer together
    assert max(shared_heads) >= 2 and set(alone_heads) == {1}
    # the comparison can fail: tracks' windows differ by far more than the tolerance
    assert np.abs(np.subtract(shared[0].scores, shared[1].scores)).max() > 1e-4


def test_run_batched_answers_mixed_requests_in_order():
    """Requests of several parts in one round go to their part together; values keep the order
    of the steps."""
    calls = []

    class Parts:
        def frames(self, crops):
            calls.append(('frames', len(crops)))
            return np.array([[float(c)] for c in crops])

        def window(self, R):
            calls.append(('window', 1))
            return R * 2

    def steps(n, window_first):
        if window_first:
            w = yield 'window', n
            return ['w', w]
        feats = yield 'frames', list(range(n))
        return feats[:, 0].tolist()

    values = run_batched(Parts(), [steps(2, False), steps(3, True), steps(1, False)])
    assert values == [[0.0, 1.0], ['w', 6], [0.0]]
    assert sorted(calls) == [('frames', 3), ('window', 1)]


@pytest.mark.slow
def test_the_live_demo_gives_the_same_records_with_and_without_shared_batching(
        inferencers, tmp_path, pyfeat_media):
    """run_live on a composed 3-face clip (real footage, detection and tracking): each track's
    records are the same whether the faces share backbone batches or not."""
    import runpy
    from est_mm.streaming import LiveOptions, run_live
    pyfeat_media('single_face.mp4')
    video = str(tmp_path / 'three.mp4')
    runpy.run_path(osp.join(ROOT, 'tools/analysis/video_speed.py'))['compose'](
        video, 3, 130, (1280, 720), FPS)
    records = {}
    for shared in (True, False):
        records[shared] = []
        run_live(video, inferencers['pytorch'], None, LiveOptions(shared_batch=shared),
                 status=None, on_window=records[shared].append)
    assert {r.track for r in records[True]} == {1, 2, 3} and len(records[True]) == 9
    assert [(r.track, r.start) for r in records[True]] == \
        [(r.track, r.start) for r in records[False]]
    for a, b in zip(records[True], records[False]):
        assert a.frame_inds == b.frame_inds
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5, rtol=0)
