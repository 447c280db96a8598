"""est_mm.apis.inference: the same prediction as the test pipeline, sliding windows, attention."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.apis.inference import ESTInferencer
from est_mm.datasets import list_frames
from mmaction.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOY_CONFIG = osp.join(ROOT, 'configs/est_r18_toy.py')


@pytest.fixture(scope='module')
def inferencer():
    torch.manual_seed(0)
    return ESTInferencer(TOY_CONFIG, device='cpu')


def test_matches_the_test_pipeline_prediction(inferencer, toy_root):
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.test_dataloader.dataset.data_root = toy_root
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    model = inferencer.model
    for i in range(3):
        sample = dataset[i]
        batch = dict(inputs=[sample['inputs']], data_samples=[sample['data_samples']])
        with torch.no_grad():
            expected = model.test_step(batch)[0].pred_score.numpy()
        frame_dir = dataset.get_data_info(i)['frame_dir']
        result = inferencer(frame_dir)
        assert len(result.windows) == 1  # toy clips are shorter than one window
        np.testing.assert_allclose(result.scores, expected, atol=1e-5)
        assert result.label_name == inferencer.classes[int(expected.argmax())]


def test_sliding_windows_cover_a_long_video(inferencer):
    frames = np.random.RandomState(0).randint(0, 255, (300, 40, 40, 3), dtype=np.uint8)
    result = inferencer(frames, fps=25.0)
    spans = [(w.start, w.end) for w in result.windows]
    assert spans[0][0] == 0 and spans[-1][1] == 300
    assert all(b[0] - a[0] == inferencer.stride for a, b in zip(spans[:-2], spans[1:-1]))
    assert all(e - s == inferencer.window for s, e in spans)
    for w in result.windows:
        assert all(w.start <= i < w.end for i in w.frame_inds) and len(w.frame_inds) == 35
        assert np.allclose(np.sum(w.frame_weights, axis=1), 1, atol=1e-5)
        assert np.isclose(sum(w.snippet_attention), 1, atol=1e-5)
        assert w.end_time == pytest.approx(w.end / 25.0)
    np.testing.assert_allclose(result.scores, np.mean([w.scores for w in result.windows], 0),
                               atol=1e-6)
    assert result.to_dict()['windows'][0]['label_name'] in inferencer.classes


def test_short_video_and_one_frame(inferencer):
    for n in (1, 3):
        frames = np.full((n, 40, 40, 3), 128, dtype=np.uint8)
        result = inferencer(frames)
        assert len(result.windows) == 1 and max(result.windows[0].frame_inds) == n - 1
    with pytest.raises(ValueError, match='no frames'):
        inferencer(np.zeros((0, 8, 8, 3), dtype=np.uint8))


def test_video_file_folder_and_array_agree(inferencer, tmp_path, toy_root):
    frame_dir = osp.join(toy_root, 'Clip', 'clip_224x224', '00001')
    frames = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in list_frames(frame_dir)]
    from_dir = inferencer(frame_dir)
    from_array = inferencer(np.stack(frames))
    np.testing.assert_allclose(from_dir.scores, from_array.scores, atol=1e-6)
    # a real video file (MJPG keeps the frames close to the JPEGs): fps is read from the file
    path = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 20.0, (32, 32))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    from_video = inferencer(path)
    assert from_video.fps == pytest.approx(20.0) and from_video.num_frames == len(frames)
    np.testing.assert_allclose(from_video.scores, from_array.scores, atol=0.05)


def test_checkpoint_classes_and_weights_are_used(tmp_path, inferencer):
    state = {k: v.clone() for k, v in inferencer.model.state_dict().items()}
    names = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'meta': {'dataset_meta': {'classes': names}}, 'state_dict': state}, path)
    other = ESTInferencer(TOY_CONFIG, path, device='cpu')
    assert other.classes == names
    frames = np.random.RandomState(1).randint(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(other(frames).scores, inferencer(frames).scores, atol=1e-6)


def test_runs_the_configs_own_test_pipeline(tmp_path):
    """Steps of the config's test pipeline after decoding run in the inferencer too (here the
    missing-frames config's ZeroFillFrames; the old hand-written resize skipped them), at the
    checkpoint's frame size."""
    from est_mm.engine.hooks import est_checkpoint_meta
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    register_all_modules()
    toy_cfg = Config.fromfile(TOY_CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(toy_cfg.model)
    path = str(tmp_path / 'toy.pth')
    torch.save({'meta': {'est': est_checkpoint_meta(toy_cfg)}, 'state_dict': model.state_dict()},
               path)
    missing = ESTInferencer(osp.join(ROOT, 'configs/analysis/est_r18_dfew_missing10.py'), path,
                            device='cpu')
    plain = ESTInferencer(TOY_CONFIG, path, device='cpu')
    steps = [type(t).__name__ for t in missing.pipeline.transforms]
    assert steps[:2] == ['ZeroFillFrames', 'Resize'] and missing.size == (64, 64)
    clip = list(np.random.RandomState(2).randint(0, 256, (35, 40, 40, 3), dtype=np.uint8))
    zeroed = clip[:12] + [np.zeros_like(f) for f in clip[12:22]] + clip[22:]
    np.testing.assert_allclose(missing._forward([clip])[0], plain._forward([zeroed])[0],
                               atol=1e-6)
    assert np.abs(plain._forward([clip])[0] - plain._forward([zeroed])[0]).max() > 1e-4


def test_window_times_of_a_variable_frame_rate_file_come_from_its_timestamps(tmp_path):
    """Frame 3 of this file starts at 1.0 s, not at 3 / average fps."""
    from helpers.media import VFR_PTS_MS, write_vfr
    video = write_vfr(tmp_path / 'vfr.mp4')
    inferencer = ESTInferencer(osp.join(ROOT, 'configs/est_r18_toy.py'), device='cpu', window=4,
                               stride=2)
    result = inferencer(video)
    assert [(w.start, w.end) for w in result.windows] == [(0, 4), (2, 6), (4, 8)]
    np.testing.assert_allclose([w.start_time for w in result.windows],
                               [VFR_PTS_MS[w.start] / 1000 for w in result.windows], atol=1e-3)
    np.testing.assert_allclose([w.end_time for w in result.windows[:2]], [1.033, 2.0], atol=1e-3)
