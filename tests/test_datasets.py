import os.path as osp

import pytest

import est_mm  # noqa: F401  (registers the datasets)
from est_mm.datasets import DFEW_CLASSES, DFEWDataset, FERVideoDataset
from mmaction.registry import DATASETS

SEVEN = ('a', 'b', 'c', 'd', 'e', 'f', 'g')


# ---------------------------------------------------------------- FERVideoDataset

@pytest.fixture
def fer_root(tmp_path):
    (tmp_path / 'videos' / 'frames dir' / 'clip 2').mkdir(parents=True)
    (tmp_path / 'videos' / 'plain').mkdir()
    return tmp_path


def write_list(path, text):
    path.write_text(text)
    return str(path)


def test_fer_list_parsing_with_spaces_comments_and_blank_lines(fer_root):
    ann = write_list(fer_root / 'list.txt', '# path label\n'
                     'my videos/clip 1.mp4 3\n'
                     '\n'
                     'frames dir/clip 2\t0\n'
                     '   \n'
                     'plain 6\n')
    ds = DATASETS.build(dict(type='FERVideoDataset', ann_file=ann, pipeline=[],
                             data_prefix=dict(video=str(fer_root / 'videos')),
                             metainfo=dict(classes=SEVEN)))
    assert isinstance(ds, FERVideoDataset)
    assert len(ds) == 3
    assert ds.metainfo['classes'] == SEVEN
    videos = str(fer_root / 'videos')
    assert ds[0]['filename'] == osp.join(videos, 'my videos/clip 1.mp4')
    assert ds[0]['label'] == 3 and 'frame_dir' not in ds[0]
    assert ds[1]['frame_dir'] == osp.join(videos, 'frames dir/clip 2')
    assert ds[1]['label'] == 0 and 'filename' not in ds[1]
    assert ds[2]['frame_dir'] == osp.join(videos, 'plain') and ds[2]['label'] == 6


def test_fer_data_root_joins_ann_file_and_prefix(fer_root):
    write_list(fer_root / 'list.txt', 'plain 1\n')
    ds = FERVideoDataset('list.txt', pipeline=[], data_root=str(fer_root),
                         data_prefix=dict(video='videos'), num_classes=2)
    assert ds[0]['frame_dir'] == osp.join(str(fer_root), 'videos', 'plain')


def test_fer_label_out_of_range_names_file_line_and_value(fer_root):
    ann = write_list(fer_root / 'list.txt', 'a.mp4 1\n# c\nb.mp4 7\n')
    with pytest.raises(ValueError, match=r'list\.txt:3: label 7 outside \[0, 7\)'):
        FERVideoDataset(ann, pipeline=[], metainfo=dict(classes=SEVEN))
    with pytest.raises(ValueError, match=r'list\.txt:3: label 7 outside \[0, 3\)'):
        FERVideoDataset(ann, pipeline=[], num_classes=3)
    assert len(FERVideoDataset(ann, pipeline=[])) == 2  # no classes known: any label >= 0


@pytest.mark.parametrize('text, message', [
    ('a.mp4 -1\n', r':1: label -1 outside'),
    ('a.mp4 x\n', r':1: label must be an integer'),
    ('a.mp4\n', r':1: expected "<path> <label>"'),
])
def test_fer_bad_lines(fer_root, text, message):
    ann = write_list(fer_root / 'list.txt', text)
    with pytest.raises(ValueError, match=message):
        FERVideoDataset(ann, pipeline=[])


def test_fer_empty_and_missing_list(fer_root):
    ann = write_list(fer_root / 'empty.txt', '# nothing\n\n')
    with pytest.raises(ValueError, match='no samples: .*empty.txt'):
        FERVideoDataset(ann, pipeline=[])
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        FERVideoDataset(str(fer_root / 'nope.txt'), pipeline=[])


# ---------------------------------------------------------------- DFEWDataset

TRAIN_ROWS = [(1, 1), (2, 7), (13, 3), (123, 5)]
TEST_ROWS = [(4, 2), (10001, 4)]


def write_csv(root, split, fold, rows, header='video_name,label'):
    path = root / 'EmoLabel_DataSplit' / f'{split}(single-labeled)' / f'set_{fold}.csv'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join([header] + [f'{v},{lab}' for v, lab in rows]) + '\n')
    return path


@pytest.fixture
def dfew_root(tmp_path):
    for vid, _ in TRAIN_ROWS + TEST_ROWS:
        folder = tmp_path / 'Clip' / 'clip_224x224' / f'{vid:05d}'
        folder.mkdir(parents=True)
        (folder / '1.jpg').write_bytes(b'')
    write_csv(tmp_path, 'train', 1, TRAIN_ROWS)
    write_csv(tmp_path, 'test', 1, TEST_ROWS)
    return tmp_path


def test_dfew_reads_official_layout(dfew_root):
    train = DATASETS.build(dict(type='DFEWDataset', data_root=str(dfew_root), fold=1,
                                split='train', pipeline=[]))
    test = DFEWDataset(str(dfew_root), pipeline=[], split='test', test_mode=True)
    assert (len(train), len(test)) == (4, 2)
    assert train.metainfo['classes'] == DFEW_CLASSES
    assert [train[i]['label'] for i in range(4)] == [0, 6, 2, 4]
    frames = osp.join(str(dfew_root), 'Clip', 'clip_224x224')
    assert [train[i]['frame_dir'] for i in range(4)] == [
        osp.join(frames, n) for n in ('00001', '00002', '00013', '00123')]
    assert test[1]['frame_dir'] == osp.join(frames, '10001') and test[1]['label'] == 3


def test_dfew_frames_dir_and_ann_file_override(dfew_root):
    other = dfew_root / 'Clip' / 'clip_224x224_16f' / '00004'
    other.mkdir(parents=True)
    custom = dfew_root / 'my_split.csv'
    custom.write_text('video_name,label\n4,2\n')
    ds = DFEWDataset(str(dfew_root), pipeline=[], frames_dir='Clip/clip_224x224_16f',
                     ann_file=str(custom))
    assert len(ds) == 1 and ds[0]['frame_dir'] == str(other) and ds[0]['label'] == 1
    ds = DFEWDataset(str(dfew_root), pipeline=[], ann_file='my_split.csv')  # relative to root
    assert len(ds) == 1


def test_dfew_missing_folder_error_and_skip(dfew_root):
    write_csv(dfew_root, 'train', 2, TRAIN_ROWS + [(77, 1), (78, 2)])
    with pytest.raises(FileNotFoundError, match=r'set_2\.csv:6: frame folder not found: .*00077'):
        DFEWDataset(str(dfew_root), pipeline=[], fold=2)
    with pytest.warns(UserWarning, match='skipped 2 of 6 videos'):
        ds = DFEWDataset(str(dfew_root), pipeline=[], fold=2, missing='skip')
    assert len(ds) == 4


def test_dfew_all_missing_in_skip_mode_is_an_error(dfew_root):
    write_csv(dfew_root, 'test', 3, [(500, 1)])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match='no samples'):
        DFEWDataset(str(dfew_root), pipeline=[], fold=3, split='test', missing='skip')


def test_dfew_missing_csv_names_path(dfew_root):
    expected = osp.join('EmoLabel_DataSplit', 'train(single-labeled)', 'set_4.csv')
    with pytest.raises(FileNotFoundError, match=expected.replace('(', r'\(').replace(')', r'\)')):
        DFEWDataset(str(dfew_root), pipeline=[], fold=4)


@pytest.mark.parametrize('rows, header, message', [
    ([(1, 1)], 'name,label', r'set_5\.csv:1: header must be "video_name,label"'),
    ([(1, 1), (2, 8)], 'video_name,label', r'set_5\.csv:3: label must be 1..7, got \'8\''),
    ([(1, 0)], 'video_name,label', r'set_5\.csv:2: label must be 1..7, got \'0\''),
    ([('x1', 1)], 'video_name,label', r'set_5\.csv:2: video_name must be an integer'),
])
def test_dfew_bad_csv(dfew_root, rows, header, message):
    write_csv(dfew_root, 'train', 5, rows, header=header)
    with pytest.raises(ValueError, match=message):
        DFEWDataset(str(dfew_root), pipeline=[], fold=5)


@pytest.mark.parametrize('kwargs, message', [
    (dict(fold=0), 'fold must be 1..5'),
    (dict(fold=6), 'fold must be 1..5'),
    (dict(split='val'), "split must be 'train' or 'test'"),
    (dict(missing='ignore'), "missing must be 'error' or 'skip'"),
])
def test_dfew_bad_arguments(dfew_root, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DFEWDataset(str(dfew_root), pipeline=[], **kwargs)
