"""The validation hold-out inside a training list (FERVideoDataset val_ratio/val_seed/subset)."""
import os.path as osp
from collections import Counter

import numpy as np
import pytest

import est_mm  # noqa: F401  (registers the datasets)
from est_mm.datasets import DFEWDataset, FERVideoDataset, stratified_holdout
from est_mm.datasets.holdout import num_held_out
from mmaction.registry import DATASETS

CLASS_SIZES = {0: 40, 1: 13, 2: 7, 3: 2, 4: 1}  # imbalanced, one class with a single sample


@pytest.fixture(scope='module')
def list_file(module_tmp):
    rng = np.random.RandomState(123)
    rows = [(f'clip_{label}_{i:03d}.mp4', label) for label, n in CLASS_SIZES.items()
            for i in range(n)]
    rows = [rows[i] for i in rng.permutation(len(rows))]  # list order is not path order
    path = module_tmp.mktemp('holdout') / 'list.txt'
    path.write_text(''.join(f'{p} {lab}\n' for p, lab in rows))
    return str(path)


def build(ann, **kwargs):
    return FERVideoDataset(ann, pipeline=[], num_classes=5, serialize_data=False, **kwargs)


def samples(ds):
    return [(ds.get_data_info(i)['filename'], ds.get_data_info(i)['label'])
            for i in range(len(ds))]


def test_subset_none_keeps_everything(list_file):
    assert samples(build(list_file, val_ratio=0.3)) == samples(build(list_file))


def test_train_and_val_are_disjoint_cover_the_list_and_keep_list_order(list_file):
    full = samples(build(list_file))
    train = samples(build(list_file, val_ratio=0.25, subset='train'))
    val = samples(build(list_file, val_ratio=0.25, subset='val'))
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(full)
    assert train == [s for s in full if s in set(train)]  # the order of the list is kept
    assert val == [s for s in full if s in set(val)]


def test_holdout_is_stratified(list_file):
    val = Counter(lab for _, lab in samples(build(list_file, val_ratio=0.25, subset='val')))
    # round half up, >= 1 for classes of >= 2 samples, never the whole class, 0 for singletons
    assert dict(val) == {0: 10, 1: 3, 2: 2, 3: 1}
    assert [num_held_out(n, 0.25) for n in (40, 13, 7, 2, 1)] == [10, 3, 2, 1, 0]
    assert num_held_out(2, 0.9) == 1 and num_held_out(10, 0.05) == 1 and num_held_out(10, 0) == 0


def test_holdout_is_deterministic_and_seeded(list_file):
    first = samples(build(list_file, val_ratio=0.25, subset='val'))
    assert samples(build(list_file, val_ratio=0.25, subset='val', val_seed=0)) == first
    other = samples(build(list_file, val_ratio=0.25, subset='val', val_seed=7))
    assert set(other) != set(first)
    assert Counter(lab for _, lab in other) == Counter(lab for _, lab in first)


def test_holdout_ignores_list_order():
    labels = [i % 3 for i in range(30)]
    keys = [f'v{i:02d}' for i in range(30)]
    mask = stratified_holdout(labels, keys, 0.2, seed=3)
    order = np.random.RandomState(0).permutation(30)
    shuffled = stratified_holdout([labels[i] for i in order], [keys[i] for i in order], 0.2, 3)
    assert {keys[i] for i in order[shuffled]} == {k for k, m in zip(keys, mask) if m}


def test_every_dataset_gets_the_holdout(tmp_path):
    (tmp_path / 'EmoLabel_DataSplit' / 'train(single-labeled)').mkdir(parents=True)
    rows = [(i, 1 + i % 7) for i in range(1, 29)]
    (tmp_path / 'EmoLabel_DataSplit' / 'train(single-labeled)' / 'set_1.csv').write_text(
        'video_name,label\n' + ''.join(f'{v},{lab}\n' for v, lab in rows))
    for vid, _ in rows:
        (tmp_path / 'Clip' / 'clip_224x224' / f'{vid:05d}').mkdir(parents=True)
    cfg = dict(type='DFEWDataset', data_root=str(tmp_path), pipeline=[], val_ratio=0.25)
    val = DATASETS.build(dict(cfg, subset='val'))
    train = DATASETS.build(dict(cfg, subset='train'))
    assert isinstance(val, DFEWDataset) and (len(train), len(val)) == (21, 7)
    assert Counter(val.get_data_info(i)['label'] for i in range(7)) == Counter(range(7))
    names = {osp.basename(d.get_data_info(i)['frame_dir']) for d in (train, val)
             for i in range(len(d))}
    assert len(names) == 28


@pytest.mark.parametrize('kwargs, message', [
    (dict(subset='val'), r"subset='val' needs 0 < val_ratio < 1, got val_ratio=0.0"),
    (dict(subset='train', val_ratio=1.0), r'val_ratio must be in \[0, 1\), got 1.0'),
    (dict(val_ratio=-0.1), r'val_ratio must be in \[0, 1\)'),
    (dict(val_ratio='0.1'), 'val_ratio must be a number'),
    (dict(subset='test', val_ratio=0.1), "subset must be None, 'train' or 'val', got 'test'"),
    (dict(subset='val', val_ratio=0.1, val_seed=-1), 'val_seed must be an integer >= 0'),
    (dict(subset='val', val_ratio=0.1, val_seed=1.5), 'val_seed must be an integer >= 0'),
])
def test_holdout_argument_errors(list_file, kwargs, message):
    with pytest.raises(ValueError, match='FERVideoDataset: ' + message):
        build(list_file, **kwargs)


def test_empty_val_subset_is_an_error(tmp_path):
    ann = tmp_path / 'single.txt'
    ann.write_text('a.mp4 0\nb.mp4 1\n')  # one sample per class: nothing to hold out
    with pytest.raises(ValueError, match=r"no samples: .*single\.txt \(subset='val'"):
        build(str(ann), val_ratio=0.5, subset='val')
    assert len(build(str(ann), val_ratio=0.5, subset='train')) == 2
