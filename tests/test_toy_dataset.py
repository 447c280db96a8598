import csv
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import est_mm  # noqa: F401  (registers the datasets and transforms)
from est_mm.datasets import DFEW_CLASSES, DFEWDataset, SnippetSampling
from est_mm.datasets import toy

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = dict(train_per_class=1, test_per_class=1, frame_size=32, min_frames=1, max_frames=6,
            progress=False)


@pytest.fixture(scope='module')
def tiny_toy(module_tmp):
    out = str(module_tmp.mktemp('toy') / 'dfew')
    summary = toy.generate_toy_dataset(out, **TINY)
    return out, summary


def read_split(root, split, fold):
    path = osp.join(root, 'EmoLabel_DataSplit', f'{split}(single-labeled)', f'set_{fold}.csv')
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['video_name', 'label']
    return [(int(v), int(lab)) for v, lab in rows[1:]], rows[1:]


def test_toy_layout(tiny_toy):
    root, summary = tiny_toy
    frames_root = osp.join(root, 'Clip', 'clip_224x224')
    folders = sorted(os.listdir(frames_root))
    assert folders == [f'{i:05d}' for i in range(1, 15)]
    assert summary['num_videos'] == 14
    assert summary['num_frames'] == sum(len(os.listdir(osp.join(frames_root, d)))
                                        for d in folders)
    for d in folders:
        names = os.listdir(osp.join(frames_root, d))
        assert sorted(names, key=lambda n: int(n[:-4])) == [f'{k}.jpg' for k in
                                                            range(1, len(names) + 1)]
    for fold in range(1, 6):
        train, raw = read_split(root, 'train', fold)
        test, _ = read_split(root, 'test', fold)
        assert all(not v.startswith('0') for v, _ in raw)  # unpadded video_name
        assert len(train) == len(test) == 7
        assert sorted(lab for _, lab in train) == sorted(lab for _, lab in test) == list(
            range(1, 8))
        assert sorted(v for v, _ in train + test) == list(range(1, 15))


def test_toy_folds_rotate_test_part():
    blocks = [toy.fold_test_members(24, 8, fold) for fold in range(1, 6)]
    assert all(len(b) == 8 for b in blocks)
    assert len({tuple(b) for b in blocks}) == 5
    assert set().union(*blocks) == set(range(24))


def test_toy_is_deterministic_and_guards_existing_folders(tmp_path, tiny_toy):
    out = str(tmp_path / 'again')
    toy.generate_toy_dataset(out, **TINY)
    for dirpath, _, files in os.walk(tiny_toy[0]):
        rel = osp.relpath(dirpath, tiny_toy[0])
        for name in files:
            with open(osp.join(dirpath, name), 'rb') as a, \
                    open(osp.join(out, rel, name), 'rb') as b:
                assert a.read() == b.read(), osp.join(rel, name)

    with pytest.raises(FileExistsError, match='not empty'):
        toy.generate_toy_dataset(out, **TINY)
    toy.generate_toy_dataset(out, **dict(TINY, seed=1, max_frames=2), overwrite=True)
    assert max(len(files) for _, _, files in os.walk(osp.join(out, 'Clip'))) <= 2

    user_dir = tmp_path / 'user'
    user_dir.mkdir()
    (user_dir / 'precious.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not written by this generator'):
        toy.generate_toy_dataset(str(user_dir), **TINY, overwrite=True)
    assert (user_dir / 'precious.txt').read_text() == 'keep me'


def test_toy_pipeline_loads_35_frames(tiny_toy):
    init_default_scope('mmaction')
    pipeline = [
        dict(type='VideoOrFramesInit'),
        dict(type='SnippetSampling', test_mode=True),
        dict(type='VideoOrFramesDecode'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs'),
    ]
    ds = DFEWDataset(tiny_toy[0], pipeline=pipeline, fold=1, split='test', test_mode=True)
    assert len(ds) == 7
    labels = []
    for i in range(len(ds)):
        sample = ds[i]
        assert sample['inputs'].shape == (35, 3, 32, 32)
        assert sample['inputs'].dtype == torch.uint8
        labels.append(int(sample['data_samples'].gt_label))
    assert sorted(labels) == list(range(7))

    train_pipeline = [dict(pipeline[1], test_mode=False)] + pipeline[2:]
    train = DFEWDataset(tiny_toy[0], pipeline=[pipeline[0]] + train_pipeline, fold=3)
    assert train[0]['inputs'].shape == (35, 3, 32, 32)


def test_toy_cli(tmp_path):
    out = tmp_path / 'cli'
    cmd = [sys.executable, osp.join('tools', 'data', 'make_toy_dataset.py'), str(out),
           '--train-per-class', '1', '--test-per-class', '1', '--frame-size', '16',
           '--max-frames', '2', '--min-frames', '1', '--no-progress']
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'wrote 14 videos' in done.stdout and '7 train / 7 test' in done.stdout
    assert len(os.listdir(out / 'Clip' / 'clip_224x224')) == 14


# ---------------------------------------------------------------- content

def _mad(a, b):
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


@pytest.mark.parametrize('size', [32, 64])
def test_toy_peak_expressions_differ_between_classes(size):
    for seed in range(3):
        identity = toy.sample_identity(np.random.default_rng(seed), size)
        neutral = toy.render_face(identity, toy.NEUTRAL_POSE)
        peaks = [toy.render_face(identity, toy.pose_at(label, 1.0)) for label in range(7)]
        for a in range(7):
            for b in range(a + 1, 7):
                assert _mad(peaks[a], peaks[b]) > 5.0, (DFEW_CLASSES[a], DFEW_CLASSES[b])
            if DFEW_CLASSES[a] == 'Neutral':
                assert _mad(peaks[a], neutral) == 0.0
            else:
                assert _mad(peaks[a], neutral) > 5.0, DFEW_CLASSES[a]


def test_toy_neutral_barely_moves_while_others_change():
    neutral = DFEW_CLASSES.index('Neutral')
    changes = {label: [] for label in range(7)}
    for seed in range(4):
        identity = toy.sample_identity(np.random.default_rng(seed), 64)
        for label in range(7):
            frames, intensity = toy.render_video(identity, label, 30,
                                                 np.random.default_rng(seed + 10), noise=False)
            changes[label].append(_mad(frames[0], frames[int(np.argmax(intensity))]))
    neutral_change = np.mean(changes[neutral])
    for label in range(7):
        if label != neutral:
            assert np.mean(changes[label]) > 2.5 * neutral_change, DFEW_CLASSES[label]


def test_toy_expression_spans_several_test_snippets():
    """The peak and its onset/offset reach at least 3 of the 7 test-mode snippets."""
    sampler = SnippetSampling(test_mode=True)
    rng = np.random.default_rng(0)
    for _ in range(50):
        num_frames = int(rng.integers(24, 49))
        intensity = toy.intensity_profile(num_frames, rng.uniform(0.4, 0.6))
        inds = sampler(dict(total_frames=num_frames))['frame_inds'].reshape(7, 5)
        strong = (intensity[inds] > 0.5).any(axis=1)
        assert strong.sum() >= 3
        assert intensity[inds[0]].max() < 0.5 or intensity[inds[-1]].max() < 0.5
    assert toy.intensity_profile(1, 0.5).tolist() == [1.0]
