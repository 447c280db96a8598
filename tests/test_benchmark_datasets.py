"""FERV39k, MAFW, AFEW, BU-4DFE and MMI read from trees written in tmp_path in each release's
official layout (as docs/prepare_data.md describes each), with real JPEG frames and real mp4/avi videos."""
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import est_mm  # noqa: F401  (registers the datasets and transforms)
from est_mm.datasets import (AFEW_CLASSES, BASIC6_CLASSES, FERV39K_CLASSES, MAFW_CLASSES,
                             AFEWDataset, BU3DFEDataset, FERV39kDataset, MAFWDataset, MMIDataset,
                             SnippetSampling, SubjectFoldDataset, subject_folds)
from est_mm.datasets.converters import write_bu4dfe_list, write_mmi_list
from est_mm.datasets.converters.mmi import find_videos
from mmaction.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NUM_FRAMES = 12  # 1.jpg ... 12.jpg: '10.jpg' < '2.jpg' as strings
PIPELINE = [dict(type='VideoOrFramesInit'), dict(type='SnippetSampling', test_mode=True),
            dict(type='VideoOrFramesDecode')]


@pytest.fixture(autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')  # pipelines name transforms of mmaction's registry


def brightness(i):
    return 10 + 20 * i


def write_frames(folder, n=NUM_FRAMES, size=16):
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        cv2.imwrite(osp.join(folder, f'{i + 1}.jpg'), np.full((size, size, 3), brightness(i),
                                                            np.uint8))


def write_video(path, n=NUM_FRAMES, size=32):
    """A real video (mp4v for .mp4, MJPG for .avi) whose frame i has brightness 10 + 20 i.
    32 px wide: decord 0.6 cannot batch-decode some narrower widths."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    fourcc = 'MJPG' if path.endswith('.avi') else 'mp4v'
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 10, (size, size))
    for i in range(n):
        writer.write(np.full((size, size, 3), brightness(i), np.uint8))
    writer.release()
    assert osp.getsize(path) > 0


def expected_frame_order(total=NUM_FRAMES):
    sampler = SnippetSampling(test_mode=True)
    return sampler.to_original(sampler.unified_indices().reshape(-1), total).tolist()


def assert_frame_order(dataset, idx=0):
    """The pipeline decodes the frames SnippetSampling picks, in temporal order."""
    imgs = dataset[idx]['imgs']
    found = [int(round((float(img.mean()) - 10) / 20)) for img in imgs]
    assert found == expected_frame_order()


def write_text(path, text):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return path


def labels_of(ds):
    return [ds.get_data_info(i)['label'] for i in range(len(ds))]


# ---------------------------------------------------------------- FERV39k

FERV_TRAIN = [('Action/Sad/0010', 'Sad'), ('Daily/Happy/0003', 'Happy'),
              ('Action/Fear/0002', 'Fear'), ('Festival/Neutral/0100', 'neutral')]
FERV_TEST = [('Daily/Surprise/0007', 'Surprise'), ('Action/Disgust/0001', 'Disgust')]


@pytest.fixture(scope='module')
def ferv_root(module_tmp):
    root = str(module_tmp.mktemp('FERV39k'))
    for clip, _ in FERV_TRAIN + FERV_TEST:
        write_frames(osp.join(root, '2_ClipsforFaceCrop', clip))
        write_video(osp.join(root, '0_7_LabelClips', clip + '.mp4'))
    for split, rows in (('train', FERV_TRAIN), ('test', FERV_TEST)):
        write_text(osp.join(root, '4_setups', 'All_scenes', f'{split}_All.csv'),
                   ''.join(f'{c} {lab}\n' for c, lab in rows))
    return root


def test_ferv39k_frames_and_videos(ferv_root):
    ds = DATASETS.build(dict(type='FERV39kDataset', data_root=ferv_root, pipeline=PIPELINE))
    assert ds.metainfo['classes'] == FERV39K_CLASSES
    assert labels_of(ds) == [1, 0, 6, 2]
    assert ds.get_data_info(0)['frame_dir'] == osp.join(ferv_root, '2_ClipsforFaceCrop',
                                                        'Action/Sad/0010')
    assert_frame_order(ds, 0)
    videos = FERV39kDataset(ferv_root, PIPELINE, split='test', source='videos', test_mode=True)
    assert labels_of(videos) == [4, 5]
    assert videos.get_data_info(1)['filename'] == osp.join(ferv_root, '0_7_LabelClips',
                                                           'Action/Disgust/0001.mp4')
    assert 'frame_dir' not in videos.get_data_info(1)
    assert_frame_order(videos, 1)


def test_ferv39k_scene_folder_and_ann_file_override(ferv_root):
    with pytest.raises(FileNotFoundError, match=r'4_setups/Action/train_Action\.csv.*ann_file'):
        FERV39kDataset(ferv_root, [], scene='Action')
    write_text(osp.join(ferv_root, '4_setups', 'Action', 'train_Action.csv'),
               'Action/Sad/0010 Sad\n')
    assert len(FERV39kDataset(ferv_root, [], scene='Action')) == 1
    custom = write_text(osp.join(ferv_root, 'my.csv'), 'Action/Fear/0002 Fear\n')
    ds = FERV39kDataset(ferv_root, [], ann_file=custom)
    assert labels_of(ds) == [6]


def test_ferv39k_unknown_label_and_missing_clip(ferv_root, tmp_path):
    bad = write_text(str(tmp_path / 'bad.csv'), 'Action/Sad/0010 Sad\nAction/Sad/0011 Sadness\n')
    with pytest.raises(ValueError, match=r"bad\.csv:2: unknown label 'Sadness'"):
        FERV39kDataset(ferv_root, [], ann_file=bad)
    gone = write_text(str(tmp_path / 'gone.csv'), 'Action/Sad/0010 Sad\nAction/Sad/9999 Sad\n')
    with pytest.raises(FileNotFoundError, match=r'gone\.csv:2: video file not found: '
                       r'.*0_7_LabelClips/Action/Sad/9999\.mp4'):
        FERV39kDataset(ferv_root, [], ann_file=gone, source='videos')
    with pytest.warns(UserWarning, match='skipped 1 of 2 videos .* frame folder'):
        ds = FERV39kDataset(ferv_root, [], ann_file=gone, missing='skip')
    assert len(ds) == 1 and ds.skipped == [osp.join(ferv_root, '2_ClipsforFaceCrop',
                                                    'Action/Sad/9999')]


# ---------------------------------------------------------------- MAFW

MAFW_TRAIN = [('00025', 'anger'), ('00026', 'contempt'), ('00100', 'disappointment'),
              ('10045', 'happiness')]
MAFW_TEST = [('00007', 'helplessness'), ('00008', 'neutral')]


def make_mafw(root, split_dir='Train & Test Set'):
    for vid, _ in MAFW_TRAIN + MAFW_TEST:
        write_video(osp.join(root, 'data', 'clips', f'{vid}.mp4'))
        write_frames(osp.join(root, 'data', 'frames', vid))
    for split, rows in (('train', MAFW_TRAIN), ('test', MAFW_TEST)):
        write_text(osp.join(root, split_dir, 'single', 'no_caption', 'set_2', f'{split}.txt'),
                   ''.join(f'{v}.mp4 {lab}\n' for v, lab in rows))
    return root


@pytest.fixture(scope='module')
def mafw_root(module_tmp):
    return make_mafw(str(module_tmp.mktemp('MAFW')))


def test_mafw_videos_and_frames(mafw_root):
    ds = DATASETS.build(dict(type='MAFWDataset', data_root=mafw_root, fold=2, split='train',
                             pipeline=PIPELINE))
    assert ds.metainfo['classes'] == MAFW_CLASSES
    assert labels_of(ds) == [0, 7, 10, 3]
    assert ds.ann_file == osp.join(mafw_root, 'Train & Test Set', 'single', 'no_caption',
                                   'set_2', 'train.txt')
    assert ds.get_data_info(2)['filename'] == osp.join(mafw_root, 'data', 'clips', '00100.mp4')
    assert_frame_order(ds, 2)
    frames = MAFWDataset(mafw_root, PIPELINE, fold=2, split='test', source='frames')
    assert labels_of(frames) == [9, 4]
    assert frames.get_data_info(0)['frame_dir'] == osp.join(mafw_root, 'data', 'frames', '00007')
    assert_frame_order(frames, 0)
    with pytest.raises(FileNotFoundError, match=r'frame folder not found: .*elsewhere/00025'):
        MAFWDataset(mafw_root, [], fold=2, source='frames', frames_dir='elsewhere')


def test_mafw_fallback_split_path_and_missing_split(tmp_path):
    root = make_mafw(str(tmp_path / 'copy'), split_dir='split')
    ds = MAFWDataset(root, [], fold=2, split='test')
    assert ds.ann_file == osp.join(root, 'split', 'single', 'no_caption', 'set_2', 'test.txt')
    assert labels_of(ds) == [9, 4]
    with pytest.raises(FileNotFoundError, match=r'MAFW split file not found: .*Train & Test Set/'
                       r'single/no_caption/set_3/train\.txt nor .*split/single/no_caption/set_3'):
        MAFWDataset(root, [], fold=3)


def test_mafw_unknown_label_and_skip(mafw_root, tmp_path):
    bad = write_text(str(tmp_path / 'bad.txt'), '00025.mp4 anger\n\n00026.mp4 Angry\n')
    with pytest.raises(ValueError, match=r"bad\.txt:3: unknown label 'Angry'"):
        MAFWDataset(mafw_root, [], ann_file=bad)
    lst = write_text(str(tmp_path / 'l.txt'), '00025.mp4 anger\n00001.mp4 fear\n00002.mp4 fear\n')
    with pytest.raises(FileNotFoundError, match=r'l\.txt:2: video file not found: .*00001\.mp4'):
        MAFWDataset(mafw_root, [], ann_file=lst)
    with pytest.warns(UserWarning, match='MAFWDataset: skipped 2 of 3 videos'):
        assert len(MAFWDataset(mafw_root, [], ann_file=lst, missing='skip')) == 1


# ---------------------------------------------------------------- AFEW

AFEW_TRAIN = [('Angry', '000046280'), ('Happy', '000149120'), ('Surprise', '002433440'),
              ('Happy', '000150000')]
AFEW_VAL = [('Neutral', '000523880'), ('Fear', '000212480')]


@pytest.fixture(scope='module')
def afew_root(module_tmp):
    root = str(module_tmp.mktemp('AFEW'))
    for split, rows, faces in (('Train_AFEW', AFEW_TRAIN, 'AlignedFaces_LBPTOP_Points'),
                               ('Val_AFEW', AFEW_VAL, 'AlignedFaces_LBPTOP_Points_Val')):
        for cls, vid in rows:
            write_video(osp.join(root, split, cls, f'{vid}.avi'))
            write_frames(osp.join(root, faces, 'Faces', vid))
    os.makedirs(osp.join(root, 'Train_AFEW', 'Disgust'))  # an empty class folder is fine
    write_text(osp.join(root, 'Train_AFEW', 'Happy', 'Thumbs.db'), 'x')  # not a video
    return root


def test_afew_videos_and_frames(afew_root):
    ds = DATASETS.build(dict(type='AFEWDataset', data_root=afew_root, pipeline=PIPELINE))
    assert ds.metainfo['classes'] == AFEW_CLASSES
    # class folders in order, videos sorted inside
    assert labels_of(ds) == [0, 3, 3, 6]
    assert ds.get_data_info(1)['filename'] == osp.join(afew_root, 'Train_AFEW', 'Happy',
                                                       '000149120.avi')
    assert_frame_order(ds, 1)
    val = AFEWDataset(afew_root, PIPELINE, split='val', source='frames', test_mode=True)
    assert labels_of(val) == [2, 4]
    assert val.get_data_info(0)['frame_dir'] == osp.join(
        afew_root, 'AlignedFaces_LBPTOP_Points_Val', 'Faces', '000212480')
    assert_frame_order(val, 0)


def test_afew_unknown_class_folder_and_missing_faces(afew_root, tmp_path):
    root = str(tmp_path)
    write_video(osp.join(root, 'Train_AFEW', 'Angry', '000000001.avi'), n=2)
    write_video(osp.join(root, 'Train_AFEW', 'Angry', '000000002.avi'), n=2)
    write_frames(osp.join(root, 'AlignedFaces_LBPTOP_Points', 'Faces', '000000001'), n=2)
    with pytest.raises(FileNotFoundError, match=r'000000002\.avi: frame folder not found: '
                       r'.*AlignedFaces_LBPTOP_Points/Faces/000000002'):
        AFEWDataset(root, [], source='frames')
    with pytest.warns(UserWarning, match='skipped 1 of 2 videos'):
        assert len(AFEWDataset(root, [], source='frames', missing='skip')) == 1
    os.makedirs(osp.join(root, 'Train_AFEW', 'Contempt'))
    with pytest.raises(ValueError, match=r"Train_AFEW/Contempt: unknown class folder 'Contempt'"):
        AFEWDataset(root, [])
    with pytest.raises(FileNotFoundError, match=r'AFEW video folder not found: .*Val_AFEW'):
        AFEWDataset(root, [], split='val')


@pytest.mark.parametrize('cls, kwargs, message', [
    (FERV39kDataset, dict(split='val'), "split must be 'train' or 'test'"),
    (FERV39kDataset, dict(source='video'), "source must be 'frames' or 'videos'"),
    (MAFWDataset, dict(fold=6), 'fold must be 1, 2, 3, 4 or 5'),
    (AFEWDataset, dict(split='test'), "split must be 'train' or 'val'"),
    (AFEWDataset, dict(missing='warn'), "missing must be 'error' or 'skip'"),
])
def test_bad_arguments(tmp_path, cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(str(tmp_path), [], **kwargs)


# ---------------------------------------------------------------- subject folds

SUBJECTS = [f'S{i}' for i in range(1, 25)]  # S1..S24: natural order puts S2 before S10
SPELLINGS = ['anger', 'DI', 'fearful', 'Happiness', 'sadness', 'surprised', 'Angry']


@pytest.fixture(scope='module')
def subject_list(module_tmp):
    root = module_tmp.mktemp('subjects')
    lines = ['# path label subject']
    for i, subject in enumerate(SUBJECTS):
        for k in range(1 + i % 3):  # 1-3 sequences per subject
            lines.append(f'seqs of {subject}/take {k} {SPELLINGS[(i + k) % 7]} {subject}')
    return str(root), write_text(str(root / 'list.txt'), '\n'.join(lines) + '\n')


def test_subject_folds_deal_subjects_round_robin():
    folds = subject_folds(['S10', 'S2', 'S1', 'S2', 'S3'], 2)
    assert folds == {'S1': 1, 'S2': 2, 'S3': 1, 'S10': 2}


def test_subject_folds_partition(subject_list):
    root, ann = subject_list
    tested, all_paths = [], None
    for fold in range(1, 11):
        kw = dict(ann_file=ann, pipeline=[], data_root=root, fold=fold, missing=None,
                  serialize_data=False)  # skips mmengine's gc.collect(): 0.2 s a build
        train = DATASETS.build(dict(type='BU3DFEDataset', split='train', **kw))
        test = DATASETS.build(dict(type='BU3DFEDataset', split='test', **kw))
        assert not set(train.subjects) & set(test.subjects)
        assert set(train.subjects) | set(test.subjects) == set(SUBJECTS)
        paths = [test.get_data_info(i)['filename'] for i in range(len(test))]
        train_paths = [train.get_data_info(i)['filename'] for i in range(len(train))]
        assert not set(paths) & set(train_paths)
        all_paths = sorted(paths + train_paths) if all_paths is None else all_paths
        assert sorted(paths + train_paths) == all_paths
        tested += paths
    assert sorted(tested) == all_paths and len(tested) == len(set(tested))
    assert len(all_paths) == sum(1 + i % 3 for i in range(24))
    # S1, S11, S21 are the first fold's subjects; spaces survive in paths
    assert DATASETS.build(dict(type='MMIDataset', ann_file=ann, pipeline=[], data_root=root,
                               split='test', missing=None)).subjects == ['S1', 'S11', 'S21']
    assert all_paths[0] == osp.join(root, 'seqs of S1/take 0')


def test_subject_fold_labels_synonyms_and_errors(subject_list, tmp_path):
    root, ann = subject_list
    ds = MMIDataset(ann, [], data_root=root, num_folds=4, fold=1, split='test', missing=None)
    assert ds.metainfo['classes'] == BASIC6_CLASSES
    index = {'anger': 0, 'DI': 1, 'fearful': 2, 'Happiness': 3, 'sadness': 4, 'surprised': 5,
             'Angry': 0}
    assert labels_of(ds) == [index[SPELLINGS[(i + k) % 7]]  # fold 1 of 4: S1, S5, S9, ...
                             for i in range(0, 24, 4) for k in range(1 + i % 3)]
    bad = write_text(str(tmp_path / 'bad.txt'), 'a Angry S1\nb Contempt S2\n')
    with pytest.raises(ValueError, match=r"bad\.txt:2: unknown label 'Contempt'"):
        BU3DFEDataset(bad, [], num_folds=2, missing=None)
    short = write_text(str(tmp_path / 'short.txt'), 'a Angry\n')
    with pytest.raises(ValueError, match=r'short\.txt:1: expected "<frame folder or video> '):
        BU3DFEDataset(short, [], num_folds=2, missing=None)
    two = write_text(str(tmp_path / 'two.txt'), 'a Angry S1\nb Sad S2\n')
    with pytest.raises(ValueError, match='2 subjects cannot fill num_folds=10'):
        BU3DFEDataset(two, [], missing=None)
    with pytest.raises(ValueError, match='fold must be 1..3'):
        BU3DFEDataset(bad, [], num_folds=3, fold=4)
    with pytest.raises(ValueError, match=r'metainfo=dict\(classes='):
        SubjectFoldDataset(bad, [], num_folds=2, missing=None)
    generic = SubjectFoldDataset(bad, [], num_folds=2, missing=None,
                                 metainfo=dict(classes=('contempt', 'angry')))
    assert sorted(labels_of(generic) + labels_of(SubjectFoldDataset(
        bad, [], num_folds=2, split='test', missing=None,
        metainfo=dict(classes=('contempt', 'angry'))))) == [0, 1]
    with pytest.raises(FileNotFoundError, match='subject list not found: .*nope.txt'):
        BU3DFEDataset(str(tmp_path / 'nope.txt'), [])


# ---------------------------------------------------------------- converters

BU_FOLDERS = {'F001': ['Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise'],
              'F002': ['AN', 'DI', 'FE', 'HA', 'SA', 'SU'],
              'M001': ['angry', 'Happy'], 'M010': ['Surprise']}


def test_convert_bu4dfe(tmp_path):
    root = tmp_path / 'BU4DFE'
    for subject, expressions in BU_FOLDERS.items():
        for expression in expressions:
            write_frames(str(root / subject / expression), n=3 if subject != 'F001' else 12)
    (root / 'F001' / 'Angry' / '000.wrl').write_text('3D mesh, not a frame')
    os.makedirs(root / 'M010' / 'Sad')
    (root / 'M010' / 'Sad' / '._1.jpg').write_bytes(b'\x00\x05\x16\x07')  # macOS, no frame
    out = str(tmp_path / 'lists' / 'bu.txt')
    with pytest.raises(ValueError, match=r'M010/Sad: no \.jpg/\.jpeg/\.png/\.bmp frames'):
        write_bu4dfe_list(str(root), out)
    assert write_bu4dfe_list(str(root), out, skip_empty=True) == [
        f'wrote 15 sequences of 4 subjects to {out}; passed over 1 folders (first: '
        f'{root}/M010/Sad)']
    lines = [ln for ln in open(out).read().splitlines() if not ln.startswith('#')]
    assert lines[0] == 'F001/Angry Angry F001' and 'F002/HA Happy F002' in lines
    test = BU3DFEDataset(out, PIPELINE, data_root=str(root), num_folds=4, fold=1, split='test')
    assert test.subjects == ['F001'] and labels_of(test) == [0, 1, 2, 3, 4, 5]
    assert_frame_order(test, 0)
    assert len(BU3DFEDataset(out, [], data_root=str(root), num_folds=4, fold=1)) == 9
    with pytest.raises(FileExistsError, match='exists; pass --overwrite'):
        write_bu4dfe_list(str(root), out, skip_empty=True)
    write_frames(str(root / 'M010' / 'Neutral'), n=1)
    with pytest.raises(ValueError, match=r"M010/Neutral: unknown expression folder 'Neutral'"):
        write_bu4dfe_list(str(root), out, skip_empty=True, overwrite=True)
    assert 'wrote 15 sequences of 4 subjects' in write_bu4dfe_list(
        str(root), out, skip_unknown=True, skip_empty=True, overwrite=True)[0]


def write_xml(path, subject=None):
    body = f'<Subject id="{subject}"/>' if subject else '<ActionUnit Number="12"/>'
    write_text(path, f'<?xml version="1.0"?>\n<Session>{body}</Session>\n')


def test_convert_mmi(tmp_path):
    root = tmp_path / 'Sessions'
    videos = {'1': ('S001-001', 'S001'), '2': ('S001-002', None), '30': ('S002-030', 'S002'),
              '31': ('S002-031', None), '40': ('S005-040', None)}
    for session, (name, xml_subject) in videos.items():
        write_video(str(root / session / f'{name}.avi'), n=12 if session == '1' else 2)
        write_xml(str(root / session / f'{name}-oao_aucs.xml'), xml_subject)
    write_xml(str(root / '31' / 'session.xml'), 'S002')
    labels = write_text(str(tmp_path / 'labels.csv'),
                        'name,label,subject\nS001-001,happiness,\nS001-002,SU,S001\n'
                        'S002-030,Sad,S9\nS002-031,disgust,\nS005-040,fear,S005\n')
    (root / '1' / '._S001-001.avi').write_bytes(b'\x00\x05\x16\x07')  # macOS, no video
    assert sorted(find_videos(str(root))) == ['S001-001', 'S001-002', 'S002-030', 'S002-031',
                                              'S005-040']
    out = str(tmp_path / 'mmi.txt')
    printed = write_mmi_list(str(root), out, labels)
    assert printed == [f"note: {labels}:4: subject 'S9' in the CSV, 'S002' in the XML; the XML "
                       'is used', f'wrote 5 videos of 3 subjects to {out}']
    lines = [ln for ln in open(out).read().splitlines() if not ln.startswith('#')]
    assert lines == ['1/S001-001.avi Happy S001', '2/S001-002.avi Surprise S001',
                     '30/S002-030.avi Sad S002', '31/S002-031.avi Disgust S002',
                     '40/S005-040.avi Fear S005']
    test = MMIDataset(out, PIPELINE, data_root=str(root), num_folds=3, fold=1, split='test')
    assert test.subjects == ['S001'] and labels_of(test) == [3, 5]
    assert_frame_order(test, 0)
    bad = write_text(str(tmp_path / 'bad.csv'), 'S001-001,happy,S001\nS001-002,bored,S001\n')
    with pytest.raises(ValueError, match=r"bad\.csv:2: unknown label 'bored'"):
        write_mmi_list(str(root), str(tmp_path / 'x.txt'), bad)
    nosub = write_text(str(tmp_path / 'nosub.csv'), 'S005-040,fear\n')
    with pytest.raises(ValueError, match=r'nosub\.csv:1: no subject for S005-040'):
        write_mmi_list(str(root), str(tmp_path / 'x.txt'), nosub)
    absent = write_text(str(tmp_path / 'absent.csv'), 'S001-001,happy,S001\nS009-001,sad,S9\n')
    with pytest.raises(FileNotFoundError, match=r'absent\.csv:2: no video S009-001\.avi'):
        write_mmi_list(str(root), str(tmp_path / 'x.txt'), absent)
    assert re.search(r'wrote 1 videos .* 1 labelled videos not found', write_mmi_list(
        str(root), str(tmp_path / 'x.txt'), absent, skip_missing=True)[-1])


@pytest.mark.parametrize('tool, args, message', [
    ('convert_bu4dfe', ['{tmp}/none', '{tmp}/list.txt'], 'error: BU-4DFE root not found: '),
    ('convert_mmi', ['{tmp}', '{tmp}/list.txt', '--labels', '{tmp}/labels.csv'],
     'error: labels CSV not found: '),
])
def test_converter_tools_end_with_one_line(tool, args, message, tmp_path):
    """The tools parse their arguments and make one call; errors are one line, exit code 1."""
    done = subprocess.run(
        [sys.executable, osp.join('tools', 'data', f'{tool}.py'),
         *[a.format(tmp=tmp_path) for a in args]], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 1 and done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
