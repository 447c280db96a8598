"""The bad-input matrix (README, "What happens when something goes wrong").

Every input is made for real in tmp_path: tiny mp4v videos written with OpenCV (32 px: decord
0.6 cannot decode some widths such as 8/16/24/48), a real mp4 cut to half its bytes, random bytes,
gray/RGBA/mixed-size frames, names with spaces, non-ASCII and non-UTF-8 bytes, split files in
latin-1. Each test checks the stated behaviour: it works, or one line names the file and the
problem at start-up / scan time, or at load time with ``on_bad_sample='error'|'skip'``. The last
tests do the same from the command line: ``tools/data/check_dataset.py --deep`` and
``tools/train.py``.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

import est_mm  # noqa: F401  (registers datasets and transforms)
from est_mm.datasets import (BadSampleError, DFEWDataset, FERVideoDataset, probe_sample,
                             fer_video_dataset)
from est_mm.datasets.transforms import SnippetSampling, VideoOrFramesDecode, VideoOrFramesInit

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE = 32


# ---------------------------------------------------------------- making the inputs

def write_video(path, num_frames, size=SIZE):
    """An mp4v video whose frame k has brightness 20 + 10 k."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 10, (size, size))
    for k in range(num_frames):
        writer.write(np.full((size, size, 3), 20 + 10 * k, np.uint8))
    writer.release()
    return path


def write_frames(folder, num_frames=4, size=SIZE, kind='rgb', ext='jpg'):
    os.makedirs(folder, exist_ok=True)
    for k in range(1, num_frames + 1):
        v = 20 * k
        img = {'rgb': np.full((size, size, 3), v, np.uint8),
               'gray': np.full((size, size), v, np.uint8),
               'rgba': np.full((size, size, 4), (v, v, v, 100), np.uint8)}[kind]
        with open(osp.join(folder, f'{k}.{ext}'), 'wb') as f:  # cv2.imwrite crashes on
            f.write(cv2.imencode(f'.{ext}', img)[1].tobytes())  # non-UTF-8 names
    return folder


def make_bad(kind, root):
    """One bad sample of ``kind`` under ``root``; returns its path (video or frame folder)."""
    if kind == 'corrupt video':
        path = osp.join(root, 'corrupt.mp4')
        with open(path, 'wb') as f:
            f.write(np.random.RandomState(0).bytes(4000))
    elif kind == 'truncated video':
        data = open(write_video(osp.join(root, 'whole.mp4'), 20), 'rb').read()
        path = osp.join(root, 'truncated.mp4')
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
    elif kind == 'zero-frame video':
        path = write_video(osp.join(root, 'zero_frames.mp4'), 0)
        assert osp.getsize(path) > 0  # a real container without frames
    elif kind == '0-byte video':
        path = osp.join(root, 'empty.mp4')
        open(path, 'wb').close()
    elif kind == 'empty frame folder':
        path = osp.join(root, 'no_images')
        os.makedirs(path)
        with open(osp.join(path, 'notes.txt'), 'w') as f:
            f.write('no frames here')
    elif kind == 'unreadable frames':
        path = osp.join(root, 'garbage_frames')
        os.makedirs(path)
        for k in (1, 2, 3):
            with open(osp.join(path, f'{k}.jpg'), 'wb') as f:
                f.write(b'not a jpeg' * k)
    return path


def pipeline(test_mode=False):
    return [VideoOrFramesInit(), SnippetSampling(test_mode=test_mode), VideoOrFramesDecode()]


def fer_dataset(root, lines, test_mode=False, **kwargs):
    """A FERVideoDataset over ``lines`` ('<path> <label>', str or raw bytes), paths relative
    to ``root``."""
    data = b''.join(line if isinstance(line, bytes) else line.encode() for line in lines)
    ann = osp.join(root, 'list.txt')
    with open(ann, 'wb') as f:
        f.write(data)
    return FERVideoDataset(ann, pipeline=pipeline(test_mode), data_prefix=dict(video=str(root)),
                           num_classes=7, test_mode=test_mode, **kwargs)


@pytest.fixture
def logged(monkeypatch):
    """The warning lines of on_bad_sample='skip' (mmengine's print_log, captured)."""
    lines = []
    monkeypatch.setattr(fer_video_dataset, 'print_log', lambda msg, **kw: lines.append(msg))
    return lines


def one_line(err):
    text = str(err.value)
    assert '\n' not in text, text
    return text


# ---------------------------------------------------------------- bad samples, at load time

BAD_SAMPLES = ['corrupt video', 'truncated video', 'zero-frame video', '0-byte video',
               'empty frame folder', 'unreadable frames']
PROBLEM = {'corrupt video': 'cannot read video', 'truncated video': 'cannot read video',
           'zero-frame video': 'cannot read video', '0-byte video': 'video file is empty',
           'empty frame folder': 'has no', 'unreadable frames': 'cannot read image'}


@pytest.mark.parametrize('kind', BAD_SAMPLES)
def test_bad_sample_error_skip_and_deep_check(kind, tmp_path, logged):
    root = str(tmp_path)
    bad = make_bad(kind, root)
    write_frames(osp.join(root, 'good'))
    lines = ['good 1\n', f'{osp.relpath(bad, root)} 2\n']

    # on_bad_sample='error' (default): the dataset builds (the file exists), loading it raises
    # one line naming the file and the problem
    ds = fer_dataset(root, lines)
    with pytest.raises(BadSampleError) as err:
        ds[1]
    text = one_line(err)
    assert bad in text and PROBLEM[kind] in text and "on_bad_sample='skip'" in text

    # 'skip': another sample comes back; one warning line names the file; counted
    ds = fer_dataset(root, lines, on_bad_sample='skip')
    for _ in range(3):
        assert ds[1]['frame_dir'] == osp.join(root, 'good')
        assert len(ds[1]['imgs']) == 35
    assert list(ds.bad_samples) == [bad] and PROBLEM[kind] in ds.bad_samples[bad]
    assert len(logged) == 1 and bad in logged[0] and '\n' not in logged[0]
    assert "on_bad_sample='skip'" in logged[0]

    # found before training: the probe of check_dataset.py --deep, and deep_check at start-up
    assert probe_sample(osp.join(root, 'good')) is None
    assert bad in probe_sample(bad) and PROBLEM[kind] in probe_sample(bad)
    with pytest.raises(BadSampleError) as err:
        fer_dataset(root, lines, deep_check=True)
    assert bad in one_line(err) and '1 of 2 samples' in str(err.value)
    with pytest.warns(UserWarning, match='dropped 1 of 2 samples'):
        ds = fer_dataset(root, lines, deep_check=True, on_bad_sample='skip')
    assert len(ds) == 1 and list(ds.bad_samples) == [bad]


def test_unreadable_last_frame_is_found_by_the_probe(tmp_path):
    folder = write_frames(str(tmp_path / 'clip'), 5)
    with open(osp.join(folder, '5.jpg'), 'wb') as f:
        f.write(b'\xff\xd8 cut')
    problem = probe_sample(folder, 'frames')
    assert problem == (f'cannot read image {osp.join(folder, "5.jpg")}: truncated JPEG: no '
                       'image data (no start-of-scan marker; 6 bytes)')


def test_skip_gives_up_when_nothing_loads(tmp_path, logged):
    """A wrong data_root or pipeline is not 'one bad clip': 'skip' stops after 100 failures in a
    row instead of looping, with one line."""
    root = str(tmp_path)
    lines = [f'{osp.relpath(make_bad(k, root), root)} 0\n'
             for k in ('corrupt video', 'empty frame folder')]
    ds = fer_dataset(root, lines, on_bad_sample='skip')
    with pytest.raises(BadSampleError, match='100 samples in a row failed to load') as err:
        ds[0]
    one_line(err)
    assert len(logged) == 2  # one warning per bad file, not per attempt


def test_test_mode_never_replaces_a_sample(tmp_path):
    """A test clip replaced by another would count twice in the metric: in test_mode, 'skip'
    drops unreadable clips at start-up (deep check) and a failure at load time still raises."""
    root = str(tmp_path)
    bad = make_bad('corrupt video', root)
    write_frames(osp.join(root, 'good'))
    write_frames(osp.join(root, 'good 2'))
    lines = ['good 1\n', 'corrupt.mp4 2\n', 'good 2 3\n']
    with pytest.warns(UserWarning, match='dropped 1 of 3 samples'):
        ds = fer_dataset(root, lines, test_mode=True, on_bad_sample='skip')
    assert len(ds) == 2 and list(ds.bad_samples) == [bad]
    shutil.rmtree(osp.join(root, 'good 2'))  # goes bad after the start-up check
    with pytest.raises(BadSampleError, match='test samples are not replaced') as err:
        ds[1]
    assert osp.join(root, 'good 2') in one_line(err)


def test_skip_warning_comes_from_dataloader_workers(tmp_path):
    """With num_workers > 0 the skip happens in a worker process: its warning line is printed
    there (bad_samples of the main process stays empty)."""
    root = str(tmp_path)
    bad = make_bad('truncated video', root)
    write_frames(osp.join(root, 'good'))
    with open(osp.join(root, 'list.txt'), 'w') as f:
        f.write('good 0\ntruncated.mp4 1\n')
    script = f"""
import torch
import est_mm
from est_mm.datasets import FERVideoDataset
from est_mm.datasets.transforms import SnippetSampling, VideoOrFramesDecode, VideoOrFramesInit
ds = FERVideoDataset({osp.join(root, 'list.txt')!r}, data_prefix=dict(video={root!r}),
                     pipeline=[VideoOrFramesInit(), SnippetSampling(), VideoOrFramesDecode()],
                     on_bad_sample='skip')
loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=1, collate_fn=lambda b: b)
batch = next(iter(loader))
print('loaded', [s['frame_dir'] for s in batch], 'main process bad_samples', ds.bad_samples)
"""
    proc = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    warning = [line for line in proc.stdout.splitlines() if 'skipped a sample' in line]
    assert len(warning) == 1 and bad in warning[0] and 'WARNING' in warning[0]
    good = osp.join(root, 'good')
    assert f"loaded [{good!r}, {good!r}] main process bad_samples {{}}" in proc.stdout


# ---------------------------------------------------------------- inputs that work

@pytest.mark.parametrize('num_frames', [1, 3])
@pytest.mark.parametrize('test_mode', [False, True])
def test_one_and_three_frame_videos_work(num_frames, test_mode, tmp_path):
    write_video(str(tmp_path / 'short.mp4'), num_frames)
    ds = fer_dataset(str(tmp_path), ['short.mp4 0\n'], test_mode=test_mode, deep_check=True)
    out = ds[0]
    assert out['total_frames'] == num_frames and len(out['imgs']) == 35
    assert all(img.shape == (SIZE, SIZE, 3) for img in out['imgs'])
    assert out['frame_inds'].max() == num_frames - 1 or not test_mode


def test_gray_and_rgba_frames_become_rgb(tmp_path):
    folder = str(tmp_path / 'clip')
    write_frames(folder, 2, kind='gray', ext='png')  # 1.png 2.png
    os.rename(osp.join(folder, '2.png'), osp.join(folder, '3.png'))
    write_frames(str(tmp_path / 'rgba'), 2, kind='rgba', ext='png')
    shutil.move(str(tmp_path / 'rgba' / '2.png'), osp.join(folder, '2.png'))
    cv2.imwrite(osp.join(folder, '4.jpg'), np.full((SIZE, SIZE), 80, np.uint8))  # gray JPEG
    ds = fer_dataset(str(tmp_path), ['clip 0\n'], test_mode=True, deep_check=True)
    out = ds[0]
    assert out['total_frames'] == 4
    assert all(img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8 for img in out['imgs'])
    means = {int(i): round(float(img.mean())) for i, img in zip(out['frame_inds'], out['imgs'])}
    assert means == {0: 20, 1: 40, 2: 40, 3: 80}  # gray, RGBA (alpha dropped), gray, gray JPEG


def test_mixed_frame_sizes_are_resized_to_frame_0(tmp_path):
    """Every frame comes out at the size of the clip's frame 0, whichever frames training samples.
    8 frames: frame 0 (unified frames 0-13) is 32x32, frame 1 (14-26) 16x20, frames 2-7 48x64.
    Each of the 30 training starts is run with the earliest and the latest 5 frames of every
    window; the starts from 14 on never sample frame 0, from 27 on they sample only 48x64 frames.
    """
    folder = write_frames(str(tmp_path / 'clip'), 8)
    cv2.imwrite(osp.join(folder, '2.jpg'), np.full((16, 20, 3), 40, np.uint8))
    for k in range(3, 9):
        cv2.imwrite(osp.join(folder, f'{k}.jpg'), np.full((48, 64, 3), 20 * k, np.uint8))
    cases = set()  # (frame 0 sampled, frame 1 sampled, a 48x64 frame sampled)
    starts = range(SnippetSampling().max_start + 1)
    assert len(starts) == 30
    for start in starts:
        for offsets in ((0, 1, 2, 3, 4), (10, 11, 12, 13, 14)):
            sampler = SnippetSampling(test_mode=True, test_start=start, test_offsets=offsets)
            out = VideoOrFramesDecode()(sampler(VideoOrFramesInit()(dict(frame_dir=folder))))
            assert out['img_shape'] == (SIZE, SIZE), (start, offsets)
            assert all(img.shape == (SIZE, SIZE, 3) for img in out['imgs'])
            inds = set(out['frame_inds'].tolist())
            cases.add((0 in inds, 1 in inds, len(inds - {0, 1}) > 0))
    # frame 0 with others; 16x20 and 48x64 without frame 0; only 48x64 frames
    assert {(True, True, True), (False, True, True), (False, False, True)} <= cases
    np.random.seed(0)  # and the training pipeline itself, a few random starts
    ds = fer_dataset(str(tmp_path), ['clip 0\n'])
    assert {ds[0]['img_shape'] for _ in range(10)} == {(SIZE, SIZE)}


def test_spaces_and_non_ascii_in_paths_work(tmp_path):
    write_frames(str(tmp_path / 'clip é 1'))
    write_video(str(tmp_path / 'vidéos' / 'my clip ü.mp4'), 3)
    ds = fer_dataset(str(tmp_path), ['clip é 1 0\n', 'vidéos/my clip ü.mp4 1\n'],
                     deep_check=True)
    assert ds[0]['frame_dir'] == str(tmp_path / 'clip é 1') and len(ds[0]['imgs']) == 35
    assert ds[1]['filename'] == str(tmp_path / 'vidéos' / 'my clip ü.mp4')
    assert len(ds[1]['imgs']) == 35


def test_non_utf8_bytes_in_paths(tmp_path):
    """A frame folder and a video whose names hold the latin-1 byte 0xe9: the list file that
    names them is not UTF-8 (one line: file, line, byte offset); with
    encoding_errors='surrogateescape' both load (cv2.imread used to crash on such names)."""
    raw = os.fsencode(str(tmp_path))
    try:
        os.makedirs(raw + b'/clip\xe9 2')
    except OSError:
        pytest.skip('this file system refuses non-UTF-8 names')
    write_frames(os.fsdecode(raw + b'/clip\xe9 2'))
    os.rename(write_video(str(tmp_path / 'video.mp4'), 3), raw + b'/vid\xe9o.mp4')
    lines = [b'# made on latin-1\n', b'clip\xe9 2 0\n', b'vid\xe9o.mp4 1\n']
    with pytest.raises(ValueError) as err:
        fer_dataset(str(tmp_path), lines)
    assert one_line(err).startswith(f'{tmp_path}/list.txt:2: not valid utf-8 text: byte 0xe9 at '
                                    f'byte offset {len(lines[0]) + 4}; ')
    ds = fer_dataset(str(tmp_path), lines, encoding_errors='surrogateescape', deep_check=True)
    assert ds[0]['frame_dir'] == os.fsdecode(raw + b'/clip\xe9 2')
    assert [len(ds[i]['imgs']) for i in (0, 1)] == [35, 35]


def test_split_file_in_latin1(tmp_path):
    """A latin-1 list naming a UTF-8 folder: one line with the byte offset by default,
    encoding='latin-1' reads it (and finds 'clip é 1' on disk)."""
    write_frames(str(tmp_path / 'clip é 1'))
    lines = ['clip \xe9 1 3\n'.encode('latin-1')]
    with pytest.raises(ValueError, match=r'list\.txt:1: not valid utf-8 text: byte 0xe9 at byte '
                       r"offset 5; .*encoding='latin-1'") as err:
        fer_dataset(str(tmp_path), lines)
    one_line(err)
    ds = fer_dataset(str(tmp_path), lines, encoding='latin-1')
    assert ds[0]['frame_dir'] == str(tmp_path / 'clip é 1') and ds[0]['label'] == 3


# ---------------------------------------------------------------- split files (DFEW layout)

def dfew_tree(root, ids, csv_text, split='train', fold=1):
    for vid in ids:
        write_frames(osp.join(root, 'Clip', 'clip_224x224', f'{vid:05d}'), 2)
    csv_dir = osp.join(root, 'EmoLabel_DataSplit', f'{split}(single-labeled)')
    os.makedirs(csv_dir, exist_ok=True)
    path = osp.join(csv_dir, f'set_{fold}.csv')
    with open(path, 'wb') as f:
        f.write(csv_text if isinstance(csv_text, bytes) else csv_text.encode())
    return path


def test_folder_listed_but_missing(tmp_path):
    csv = dfew_tree(str(tmp_path), [1, 2], 'video_name,label\n1,1\n2,2\n3,3\n')
    with pytest.raises(FileNotFoundError) as err:
        DFEWDataset(str(tmp_path), pipeline=[])
    assert one_line(err).startswith(f'{csv}:4: frame folder not found: ')
    assert '00003' in str(err.value) and "missing='skip'" in str(err.value)
    with pytest.warns(UserWarning, match=r'skipped 1 of 3 videos .*first: .*00003'):
        ds = DFEWDataset(str(tmp_path), pipeline=[], missing='skip')
    assert len(ds) == 2


@pytest.mark.parametrize('row, message', [
    ('2,8', r"set_1\.csv:3: label must be 1\.\.7, got '8'"),
    ('2,0', r"set_1\.csv:3: label must be 1\.\.7, got '0'"),
    ('2,Happy', r"set_1\.csv:3: label must be 1\.\.7, got 'Happy'"),
])
def test_unknown_or_out_of_range_label(tmp_path, row, message):
    dfew_tree(str(tmp_path), [1, 2], f'video_name,label\n1,1\n{row}\n')
    with pytest.raises(ValueError, match=message) as err:
        DFEWDataset(str(tmp_path), pipeline=[])
    one_line(err)
    write_frames(str(tmp_path / 'clip'))
    with pytest.raises(ValueError, match=r'list\.txt:1: label 7 outside \[0, 7\)'):
        fer_dataset(str(tmp_path), ['clip 7\n'])


def test_empty_split(tmp_path):
    csv = dfew_tree(str(tmp_path), [], 'video_name,label\n\n')
    with pytest.raises(ValueError) as err:
        DFEWDataset(str(tmp_path), pipeline=[])
    assert one_line(err) == f'annotation list has no samples: {csv}'
    with pytest.raises(ValueError, match='no samples: .*list.txt'):
        fer_dataset(str(tmp_path), ['# nothing listed\n'])


def test_duplicate_entries(tmp_path):
    """The same clip listed twice (here once as 4 and once as 00004): 'warn' (default) keeps
    both with one warning naming the file and line of the repeat, 'drop' keeps the first,
    'error' refuses."""
    csv = dfew_tree(str(tmp_path), [1, 4, 6], 'video_name,label\n1,1\n4,2\n6,3\n00004,2\n1,5\n')
    with pytest.warns(UserWarning) as record:
        ds = DFEWDataset(str(tmp_path), pipeline=[])
    messages = [str(w.message) for w in record if 'listed again' in str(w.message)]
    assert messages == [
        f'DFEWDataset: {csv}:5: {tmp_path}/Clip/clip_224x224/00004 is listed again (first at '
        f'{csv}:3); 2 repeated listing(s) in {csv}, 1 with another label: kept every listing; '
        f"duplicates='drop' keeps the first only"]
    assert len(ds) == 5
    assert [(d.where, d.first, d.same_label) for d in ds.duplicates] == [
        (f'{csv}:5', f'{csv}:3', True), (f'{csv}:6', f'{csv}:2', False)]
    with pytest.warns(UserWarning, match='kept the first listing only'):
        ds = DFEWDataset(str(tmp_path), pipeline=[], duplicates='drop')
    assert [ds[i]['label'] for i in range(len(ds))] == [0, 1, 2]
    with pytest.raises(ValueError) as err:
        DFEWDataset(str(tmp_path), pipeline=[], duplicates='error')
    assert one_line(err).startswith(f'{csv}:5: {tmp_path}/Clip/clip_224x224/00004 is listed '
                                    f'again (first at {csv}:3)')
    with pytest.raises(ValueError, match="duplicates must be 'warn', 'error' or 'drop'"):
        DFEWDataset(str(tmp_path), pipeline=[], duplicates='keep')


def test_split_csv_with_a_latin1_byte(tmp_path):
    csv = dfew_tree(str(tmp_path), [1], b'video_name,label\n1,1\n1,1 \xe9t\xe9\n')
    with pytest.raises(ValueError) as err:
        DFEWDataset(str(tmp_path), pipeline=[])
    assert one_line(err).startswith(f'{csv}:3: not valid utf-8 text: byte 0xe9 at byte offset '
                                    f'25; ')


def test_bad_policy_arguments(tmp_path):
    write_frames(str(tmp_path / 'clip'))
    for kwargs, message in ((dict(on_bad_sample='ignore'), "on_bad_sample must be 'error' or "
                             "'skip'"), (dict(deep_check='yes'), 'deep_check must be True or '
                                         'False'), (dict(encoding='no-such-codec'),
                                                    'unknown encoding: no-such-codec')):
        with pytest.raises(ValueError, match=message):
            fer_dataset(str(tmp_path), ['clip 0\n'], **kwargs)


# ---------------------------------------------------------------- from the command line

@pytest.fixture(scope='module')
def toy_tree(module_tmp):
    """Toy DFEW layout at 32 px: fold-1 train ids 1 4 6 7 9 11 14, test 2 3 5 8 10 12 13."""
    from est_mm.datasets.toy import generate_toy_dataset
    root = str(module_tmp.mktemp('bad_inputs') / 'toy')
    generate_toy_dataset(root, train_per_class=1, test_per_class=1, frame_size=SIZE,
                         min_frames=3, max_frames=8, progress=False)
    return root


def run_tool(args, timeout=600):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=ROOT))


def test_check_dataset_deep_names_every_bad_input(toy_tree, tmp_path):
    root = str(tmp_path / 'dfew')
    shutil.copytree(toy_tree, root)
    frames = osp.join(root, 'Clip', 'clip_224x224')
    shutil.rmtree(osp.join(frames, '00001'))  # listed, missing
    shutil.rmtree(osp.join(frames, '00004'))
    make_bad('empty frame folder', frames)
    os.rename(osp.join(frames, 'no_images'), osp.join(frames, '00004'))  # empty folder
    with open(osp.join(frames, '00006', '1.jpg'), 'wb') as f:  # first frame corrupt
        f.write(b'garbage')
    last = max(os.listdir(osp.join(frames, '00007')), key=lambda n: int(n.split('.')[0]))
    with open(osp.join(frames, '00007', last), 'wb') as f:  # last frame corrupt
        f.write(b'\xff\xd8\xff')
    shutil.rmtree(osp.join(frames, '00009'))  # gray, RGBA and mixed sizes: load (listed)
    write_frames(osp.join(frames, '00009'), 3, kind='gray', ext='png')
    cv2.imwrite(osp.join(frames, '00009', '4.png'), np.zeros((50, 40, 4), np.uint8))
    train_csv = osp.join(root, 'EmoLabel_DataSplit', 'train(single-labeled)', 'set_1.csv')
    with open(train_csv, 'a') as f:
        f.write('11,5\n')  # a duplicate (the 9th line)
    # videos (val): corrupt, truncated, zero-frame, 0-byte; and 1-/3-frame clips with odd names
    videos = osp.join(root, 'videos')
    os.makedirs(videos)
    bad_videos = [make_bad(k, videos) for k in ('corrupt video', 'truncated video',
                                                'zero-frame video')]
    empty_video = make_bad('0-byte video', videos)
    write_video(osp.join(videos, 'one frame.mp4'), 1)
    write_video(osp.join(videos, 'clip é 3.mp4'), 3)
    with open(osp.join(videos, 'list.txt'), 'w') as f:
        f.write(''.join(f'{osp.basename(p)} 0\n' for p in bad_videos + [empty_video]) +
                'one frame.mp4 1\nclip é 3.mp4 2\n')
    # test: a split file with a latin-1 byte, and one with an out-of-range label
    with open(osp.join(root, 'latin1.csv'), 'wb') as f:
        f.write(b'video_name,label\n2,1\n3,2 caf\xe9\n')
    with open(osp.join(root, 'label.csv'), 'w') as f:
        f.write('video_name,label\n2,1\n3,9\n')
    config = tmp_path / 'bad_inputs_cfg.py'
    config.write_text(
        f"train_dataloader = dict(dataset=dict(type='DFEWDataset', data_root={root!r}, fold=1, "
        f"split='train', pipeline=[]))\n"
        f"val_dataloader = dict(dataset=dict(type='FERVideoDataset', ann_file='list.txt', "
        f"data_root={videos!r}, data_prefix=dict(video={videos!r}), num_classes=7, "
        f"pipeline=[]))\n"
        f"test_dataloader = dict(dataset=dict(type='ConcatDataset', datasets=[dict("
        f"type='DFEWDataset', data_root={root!r}, ann_file='latin1.csv', pipeline=[]), dict("
        f"type='DFEWDataset', data_root={root!r}, ann_file='label.csv', pipeline=[])]))\n")
    proc = run_tool(['tools/data/check_dataset.py', str(config), '--deep'])
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr[-3000:]
    assert 'samples: 7 present of 8 listed' in out  # 7 + the duplicate; 00001 missing
    assert f'missing on disk: 1\n    {osp.join(frames, "00001")}\n' in out
    assert f'empty (no images / 0-byte video): 1\n    {osp.join(frames, "00004")}\n' in out
    assert f'cannot read image {osp.join(frames, "00006", "1.jpg")}: not a JPEG, PNG ' in out
    assert f'cannot read image {osp.join(frames, "00007", last)}: truncated JPEG: ' in out
    assert (f'frames of another size (not an error: resized when loaded): 1\n    '
            f'{osp.join(frames, "00009", "4.png")} is 40x50 where 3 of the 4 frames are 32x32; '
            "loading resizes every frame to the first frame's 32x32\n") in out  # gray, RGBA: fine
    assert (f"listed more than once (duplicates='warn'): 1\n    {train_csv}:9: "
            f"{osp.join(frames, '00011')} (first at {train_csv}:7)\n") in out
    assert 'samples: 6 present of 6 listed' in out
    assert f'empty (no images / 0-byte video): 1\n    {empty_video}\n' in out
    assert 'unreadable or damaged (corrupt, truncated, zero frames, bad image): 3\n' in out
    for path in bad_videos:
        assert f'    cannot read video {path} (corrupt, truncated, no frames or not a video)' in out
    assert 'one frame.mp4' not in out and 'clip é 3' not in out
    assert (f'cannot build the dataset: ValueError: {root}/latin1.csv:3: not valid utf-8 text: '
            f'byte 0xe9 at byte offset 28; ') in out
    assert f"cannot build the dataset: ValueError: {root}/label.csv:3: label must be 1..7" in out
    assert out.rstrip().endswith('FAILED: 10 problem(s) found')  # 4 train, 4 val, 2 test


def train_cmd(root, work_dir, *extra):
    """One epoch of the toy config; batch 7 = all 7 training clips in one iteration, so every
    clip is loaded whatever order the shuffle gives."""
    opts = [f'{split}_dataloader.{key}' for split in ('train', 'test')
            for key in (f'dataset.data_root={root}', 'num_workers=0', 'persistent_workers=False',
                        'batch_size=7')]
    return ['tools/train.py', 'configs/est_r18_toy.py', '--work-dir', str(work_dir),
            '--cfg-options', *opts, f'train_dataloader.dataset.pipeline.3.scale=({SIZE},{SIZE})',
            'train_cfg.max_epochs=1', 'default_hooks.checkpoint.save_optimizer=False',
            'default_hooks.logger.interval=1', *extra]


def test_training_skips_or_stops_on_a_corrupt_clip(toy_tree, tmp_path):
    """One training clip's frames replaced by a corrupt file: with on_bad_sample='skip' the
    epoch completes and a warning names the clip; by default the run stops with a last line
    that names it."""
    root = str(tmp_path / 'dfew')
    shutil.copytree(toy_tree, root)
    clip = osp.join(root, 'Clip', 'clip_224x224', '00004')
    shutil.rmtree(clip)
    os.makedirs(clip)
    with open(osp.join(clip, '1.jpg'), 'wb') as f:
        f.write(np.random.RandomState(1).bytes(2000))

    proc = run_tool(train_cmd(root, tmp_path / 'skip',
                              'train_dataloader.dataset.on_bad_sample=skip'))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    warnings = [line for line in out.splitlines() if 'skipped a sample' in line]
    assert len(warnings) == 1, warnings
    assert f'cannot read image {osp.join(clip, "1.jpg")}' in warnings[0]
    assert 'Epoch(train) [1][1/1]' in out.replace('  ', ' ')  # 7 clips, batch 7
    assert osp.isfile(tmp_path / 'skip' / 'epoch_1.pth')

    proc = run_tool(train_cmd(root, tmp_path / 'error'))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert f'cannot read image {osp.join(clip, "1.jpg")}' in last
    assert 'Traceback' not in proc.stderr  # tools/train.py ends with the one line only
    assert "on_bad_sample='skip'" in last
    assert not osp.exists(tmp_path / 'error' / 'epoch_1.pth')


# ---------------------------------------------------------------- names and messages, defined once

def test_a_failure_is_described_by_the_first_line_of_its_error():
    from est_mm.datasets.integrity import describe_failure
    err = RuntimeError('bad header in 3.jpg\nwhile decoding frame 3 of the clip')
    assert describe_failure('/data/clip', err) == '/data/clip: bad header in 3.jpg'
    decord = RuntimeError('[21:55:43] /src/video_reader.cc:270: cannot find video stream')
    assert describe_failure('/data/v.mp4', decord) == '/data/v.mp4: cannot find video stream'


def test_video_extensions_are_defined_once():
    """One tuple, in fer_video_dataset, for the datasets and face extraction alike."""
    import ast
    where = []
    for folder, _, files in os.walk(osp.join(ROOT, 'est_mm')):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                tree = ast.parse(open(path, encoding='utf-8').read())
                where += [osp.relpath(path, ROOT) for node in ast.walk(tree)
                          if isinstance(node, (ast.Assign, ast.AnnAssign))
                          for target in (node.targets if isinstance(node, ast.Assign)
                                         else [node.target])
                          if isinstance(target, ast.Name) and target.id == 'VIDEO_EXTENSIONS']
    assert where == ['est_mm/datasets/fer_video_dataset.py']
    assert {'.mp4', '.avi', '.3gp', '.mts', '.m2ts', '.vob'} <= set(
        fer_video_dataset.VIDEO_EXTENSIONS)


def test_appledouble_files_are_not_frames(tmp_path):
    """macOS leaves ``._<name>`` files beside copied ones; even one that decodes as an image is
    no frame (it was read as frame 4 of 1.jpg..5.jpg)."""
    folder = write_frames(str(tmp_path / 'clip'), 5)
    cv2.imwrite(osp.join(folder, '._5.jpg'), np.full((SIZE, SIZE, 3), 250, np.uint8))
    results = VideoOrFramesInit()(dict(frame_dir=folder))
    assert results['total_frames'] == 5 and '._5.jpg' not in str(results['frame_paths'])
    results['frame_inds'] = np.arange(5)
    means = [round(float(img.mean())) for img in VideoOrFramesDecode()(results)['imgs']]
    assert means == [20, 40, 60, 80, 100]
    only_apple = str(tmp_path / 'apple')
    os.makedirs(only_apple)
    cv2.imwrite(osp.join(only_apple, '._1.jpg'), np.zeros((SIZE, SIZE, 3), np.uint8))
    assert 'has no' in probe_sample(only_apple, 'frames')


def test_afew_lists_every_video_extension_but_no_appledouble(tmp_path):
    from est_mm.datasets import AFEWDataset
    angry = tmp_path / 'Train_AFEW' / 'Angry'
    for name in ('001.avi', '002.3gp', '003.MTS', '._001.avi', 'Thumbs.db'):
        write_video(str(angry / 'x.avi'), 1)
        os.rename(angry / 'x.avi', angry / name)
    ds = AFEWDataset(str(tmp_path), [], missing=None)
    assert sorted(osp.basename(ds.get_data_info(i)['filename']) for i in range(len(ds))) == [
        '001.avi', '002.3gp', '003.MTS']
