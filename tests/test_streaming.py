"""est_mm.streaming: the per-track engine gives the inferencer's windows, embeds each sampled frame
once, holds at most one window, and writes JSON Lines as it goes."""
import io
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.apis.inference import ESTInferencer
from est_mm.models.necks.aa_sfe import AASFE
from est_mm.streaming import (JsonLinesWriter, StreamingEST, TrackStreams, snippet_neck,
                              video_result)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOY_CONFIG = osp.join(ROOT, 'configs/est_r18_toy.py')
FPS = 25.0


def _small_toy_config(size=32):
    """The toy config with ``size``² frames and a narrower Transformer FFN (fast on the CPU)."""
    cfg = Config.fromfile(TOY_CONFIG)
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (size, size)
    cfg.model.cls_head.ffn_channels = 256
    return cfg


@pytest.fixture(scope='module')
def inferencers():
    """Random-weight toy inferencers (seeded) with stride 10 and 7, sharing one model."""
    torch.manual_seed(0)
    by_stride = {10: ESTInferencer(_small_toy_config(), device='cpu', stride=10)}
    by_stride[7] = ESTInferencer(_small_toy_config(), device='cpu', stride=7)
    by_stride[7].model = by_stride[10].model
    return by_stride


def _frames(num, seed=0, size=32):
    return np.random.RandomState(seed).randint(0, 256, (num, size, size, 3), dtype=np.uint8)


def _stream(engine, frames, only_needed=True):
    records = []
    for i, frame in enumerate(frames):
        crop = frame if (engine.needs(i) or not only_needed) else None
        records += engine.push(i, i / FPS, crop)
    return records + engine.finish()


class _CountingBackbone:
    """Records which frames go through ``backbone.forward`` (wraps the real forward): each input
    image is looked up by its bytes in ``known`` (image bytes -> frame index)."""

    def __init__(self, backbone, known):
        self.backbone, self.known, self.frames = backbone, known, []
        self.forward = backbone.forward
        backbone.forward = self

    def __call__(self, x, *args, **kwargs):
        self.frames += [self.known[img.numpy().tobytes()] for img in x]
        return self.forward(x, *args, **kwargs)

    def restore(self):
        self.backbone.forward = self.forward


def _assert_same_windows(records, expected):
    assert [(r.start, r.end) for r in records] == [(w.start, w.end) for w in expected]
    for r, w in zip(records, expected):
        assert r.frame_inds == w.frame_inds
        np.testing.assert_allclose(r.scores, w.scores, atol=1e-5)
        np.testing.assert_allclose(r.frame_weights, w.frame_weights, atol=1e-5)
        np.testing.assert_allclose(r.snippet_attention, w.snippet_attention, atol=1e-5)
        assert r.label_name == w.label_name
        assert r.start_time == pytest.approx(w.start_time)
        assert r.end_time == pytest.approx(w.end_time)


def test_snippet_view_of_the_neck_equals_the_clip_neck():
    torch.manual_seed(0)
    for mode in ('attention', 'mean'):
        neck = AASFE(in_channels=24, embed_dims=16, num_snippets=7, frames_per_snippet=5,
                     num_heads=4, mode=mode).eval()
        x = torch.randn(3, 35, 24)
        with torch.no_grad():
            R, w = neck(x, return_weights=True)
            R1, w1 = snippet_neck(neck)(x.reshape(21, 5, 24), return_weights=True)
        assert neck.num_snippets == 7 and R1.shape == (21, 1, 16) and w1.shape == (21, 1, 5)
        torch.testing.assert_close(R1.reshape(3, 7, 16), R, atol=1e-6, rtol=0)
        torch.testing.assert_close(w1.reshape(3, 7, 5), w, atol=1e-6, rtol=0)


def test_stride_10_embeds_every_sampled_frame_once_and_matches_the_inferencer(inferencers):
    inferencer = inferencers[10]
    frames = _frames(155)
    engine = StreamingEST.from_inferencer(inferencer, track=3)
    known = {engine.preprocess([f])[0].numpy().tobytes(): i for i, f in enumerate(frames)}
    assert len(known) == len(frames)
    counter = _CountingBackbone(inferencer.model.backbone, known)
    try:
        records = _stream(engine, frames)
    finally:
        counter.restore()
    assert [r.start for r in records] == [0, 10, 20, 30, 40, 50]
    used = {j for r in records for j in r.frame_inds}
    assert len(used) == 35 + 5 * 5  # one new snippet per window
    assert len(counter.frames) == len(set(counter.frames)) == engine.frames_embedded
    # also embedded: window 60's new snippet, complete at frame 147 (the track ended at 154)
    assert set(counter.frames) == used | {135, 138, 141, 144, 147}
    assert all(r.track == 3 for r in records)
    whole = inferencer(frames, fps=FPS)
    _assert_same_windows(records, whole.windows)
    ours = video_result(records, whole.source, len(frames), FPS, inferencer.classes)
    np.testing.assert_allclose(ours.scores, whole.scores, atol=1e-5)
    assert (ours.source, ours.num_frames, ours.label_name) == \
        (whole.source, whole.num_frames, whole.label_name)
    with pytest.raises(ValueError, match='clip.mp4: no window results'):
        video_result([], 'clip.mp4', 155, FPS, inferencer.classes)
    # the comparison can fail: windows differ from each other by far more than the tolerance
    assert np.abs(np.subtract(records[0].scores, records[-1].scores)).max() > 1e-4


def test_other_stride_tail_window_and_short_track_match_the_inferencer(inferencers):
    inferencer = inferencers[7]
    frames = _frames(143, seed=1)
    engine = StreamingEST.from_inferencer(inferencer, stride=7, keep_tail=True)
    known = {engine.preprocess([f])[0].numpy().tobytes(): i for i, f in enumerate(frames)}
    counter = _CountingBackbone(inferencer.model.backbone, known)
    try:
        records = _stream(engine, frames, only_needed=False)
    finally:
        counter.restore()
    expected = inferencer(frames, fps=FPS).windows
    assert expected[-1].start == 38 and expected[-2].start == 35  # the inferencer's last window
    _assert_same_windows(records, expected)
    # frames shared by windows whose snippets differ are embedded once all the same
    assert len(counter.frames) == len(set(counter.frames))
    assert {j for r in records for j in r.frame_inds} <= set(counter.frames)
    short = _frames(60, seed=2)
    engine = StreamingEST.from_inferencer(inferencer, keep_tail=True)
    _assert_same_windows(_stream(engine, short, only_needed=False),
                         inferencer(short, fps=FPS).windows)


def test_memory_stays_within_one_window():
    cfg = _small_toy_config(size=8)  # what is held does not depend on the model's cost
    cfg.model.cls_head.update(num_encoder_layers=1, num_decoder_layers=1)
    torch.manual_seed(0)
    inferencer = ESTInferencer(cfg, device='cpu')
    geometry = inferencer.spec.sampling
    n, J = geometry.num_snippets, geometry.frames_per_snippet
    frame = _frames(1)[0]
    for keep_tail, length in ((False, 1000), (True, 300)):
        engine = StreamingEST.from_inferencer(inferencer, keep_tail=keep_tail)
        peak = dict.fromkeys(engine.cache_sizes, 0)
        for i in range(length):
            engine.push(i, i / FPS, frame if engine.needs(i) else None)
            peak = {k: max(v, engine.cache_sizes[k]) for k, v in peak.items()}
        assert engine.windows_emitted == (length - 105) // 10 + 1
        assert peak['snippets'] <= n + 1 and peak['crops'] <= J
        assert peak['frames'] <= (engine.window if keep_tail else n * J)
        assert peak['times'] <= engine.window + engine.stride
        assert peak['tail'] == (engine.window if keep_tail else 0)


def test_a_needed_frame_without_crop_skips_only_its_windows(inferencers):
    inferencer = inferencers[10]
    frames = _frames(135, seed=3)
    engine = StreamingEST.from_inferencer(inferencer)
    records = []
    for i, frame in enumerate(frames):
        if i == 18:  # snippet 0 of window 0 only (15 + {0, 3, 6, 9, 12})
            assert engine.needs(i)
            continue  # the tracker lost the face: the frame is skipped
        records += engine.push(i, i / FPS, frame if engine.needs(i) else None)
    assert [r.start for r in records] == [10, 20, 30] and engine.windows_skipped == 1
    expected = [w for w in inferencer(frames, fps=FPS).windows if w.start in (10, 20, 30)]
    _assert_same_windows(records, expected)
    with pytest.raises(ValueError, match='increasing order'):
        engine.push(5, 0.2, frames[5])


def test_tracks_that_start_and_end_apart_get_their_own_windows(inferencers):
    """Two interleaved tracks give what each gives alone; a lost track's engine is dropped."""
    inferencer = inferencers[10]
    a, b = _frames(125, seed=5), _frames(125, seed=6)
    streams = TrackStreams.from_inferencer(inferencer)
    records = []
    for i in range(125):
        present = {1: a[i]} if i < 115 else {}
        if i >= 8:
            present[2] = b[i]
        crops = {t: (f if streams.needs(t, i) else None) for t, f in present.items()}
        records += streams.push(i, i / FPS, crops)
        if i == 115:
            records += streams.end(1)
            assert list(streams.engines) == [2]
    records += streams.finish()
    assert [(r.track, r.start) for r in records] == [(1, 0), (2, 8), (1, 10), (2, 18)]
    embedded = 0
    for track, frames, first in ((1, a[:115], 0), (2, b, 8)):
        alone = StreamingEST.from_inferencer(inferencer, track=track)
        expected = []
        for i in range(first, len(frames)):
            expected += alone.push(i, i / FPS, frames[i] if alone.needs(i) else None)
        ours = [r for r in records if r.track == track]
        assert [r.to_dict() for r in ours] == [r.to_dict() for r in expected]
        embedded += alone.frames_embedded
    assert streams.frames_embedded == embedded


def test_json_lines_are_flushed_one_record_per_line(inferencers, tmp_path, capsys):
    engine = StreamingEST.from_inferencer(inferencers[10], track=1)
    path = str(tmp_path / 'out.jsonl')
    with JsonLinesWriter(path) as writer:
        for i, frame in enumerate(_frames(115, seed=4)):
            for record in engine.push(i, i / FPS, frame if engine.needs(i) else None):
                writer.write(record)
                with open(path) as f:  # readable before the writer is closed
                    lines = f.read().splitlines()
                assert json.loads(lines[-1]) == record.to_dict()
    assert len(lines) == 2 and [json.loads(x)['start'] for x in lines] == [0, 10]
    assert set(json.loads(lines[0])) >= {'track', 'start', 'end', 'start_time', 'end_time',
                                         'scores', 'label_name', 'snippet_attention',
                                         'frame_weights'}
    JsonLinesWriter('-').write({'track': 1})
    assert capsys.readouterr().out == '{"track": 1}\n'
    stream = io.StringIO()
    JsonLinesWriter(stream).write({'a': 1})
    assert stream.getvalue() == '{"a": 1}\n'
    with pytest.raises(ValueError, match='no-such-dir'):
        JsonLinesWriter(str(tmp_path / 'no-such-dir' / 'x.jsonl'))
