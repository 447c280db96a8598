"""tools/data/check_dataset.py (est_mm.datasets.check): counts per class, missing/empty samples
by name, exit codes; --deep decodes every frame and lists odd files."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

import est_mm  # noqa: F401
from est_mm.datasets import toy
from est_mm.datasets.check import check_datasets
from helpers.cli import TOY_CONFIG, run

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def toy_set(module_tmp):
    out = str(module_tmp.mktemp('check') / 'toy')
    toy.generate_toy_dataset(out, train_per_class=1, test_per_class=1, frame_size=16,
                             min_frames=2, max_frames=3, progress=False)
    return out


def test_cli_on_the_toy_config_passes(toy_set):
    """The documented command, in a fresh interpreter."""
    cmd = [sys.executable, osp.join('tools', 'data', 'check_dataset.py'),
           osp.join('configs', 'est_r18_toy.py'), '--cfg-options',
           f'train_dataloader.dataset.data_root={toy_set}',
           f'test_dataloader.dataset.data_root={toy_set}']
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count('samples: 7 present of 7 listed') == 2  # train and test of fold 1
    assert '[val] no val_dataloader in the config; passed over' in out
    for name in ('Happy', 'Sad', 'Neutral', 'Angry', 'Surprise', 'Disgust', 'Fear'):
        assert f' {name} ' in out
    assert 'missing on disk: 0' in out and out.rstrip().endswith('non-empty')


def write_video(path, n=3, size=32):
    os.makedirs(osp.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 10, (size, size))
    for i in range(n):
        writer.write(np.full((size, size, 3), 20 * i, np.uint8))
    writer.release()


@pytest.fixture
def broken_config(tmp_path, toy_set):
    """DFEW (a deleted and an emptied frame folder), MAFW (a missing and a 0-byte clip) and a
    FERV39k whose setup file is absent."""
    dfew = str(tmp_path / 'dfew')
    shutil.copytree(toy_set, dfew)
    frames = osp.join(dfew, 'Clip', 'clip_224x224')
    shutil.rmtree(osp.join(frames, '00001'))  # fold-1 train: 1 4 6 7 9 11 14
    for name in os.listdir(osp.join(frames, '00004')):
        os.remove(osp.join(frames, '00004', name))
    mafw = tmp_path / 'mafw'
    split = mafw / 'Train & Test Set' / 'single' / 'no_caption' / 'set_1'
    split.mkdir(parents=True)
    (split / 'test.txt').write_text('00001.mp4 anger\n00002.mp4 fear\n00003.mp4 fear\n'
                                    '00004.mp4 contempt\n')
    write_video(str(mafw / 'data' / 'clips' / '00001.mp4'))
    write_video(str(mafw / 'data' / 'clips' / '00004.mp4'))
    (mafw / 'data' / 'clips' / '00003.mp4').write_bytes(b'')
    config = tmp_path / 'cfg.py'
    config.write_text(
        f"train_dataloader = dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict("
        f"type='DFEWDataset', data_root={dfew!r}, fold=1, split='train', pipeline=[])))\n"
        f"val_dataloader = dict(dataset=dict(type='MAFWDataset', data_root={str(mafw)!r}, "
        f"split='test', pipeline=[dict(type='NoSuchTransform')]))\n"
        f"test_dataloader = dict(dataset=dict(type='FERV39kDataset', data_root={dfew!r}, "
        f"split='test', pipeline=[]))\n")
    return str(config), frames, str(mafw)


def test_missing_and_empty_are_named_with_exit_code_1(broken_config, capsys):
    config, frames, mafw = broken_config
    assert check_datasets(config, progress=False) == 1
    out = capsys.readouterr().out
    assert '[train] train_dataloader.dataset.dataset: DFEWDataset' in out
    assert 'samples: 6 present of 7 listed' in out
    assert f'missing on disk: 1\n    {osp.join(frames, "00001")}\n' in out
    assert f'empty (no images / 0-byte video): 1\n    {osp.join(frames, "00004")}\n' in out
    # MAFW: the pipeline is not built (NoSuchTransform), missing and 0-byte clips are named
    assert 'samples: 3 present of 4 listed' in out
    assert f'missing on disk: 1\n    {osp.join(mafw, "data", "clips", "00002.mp4")}' in out
    assert osp.join(mafw, 'data', 'clips', '00003.mp4') in out
    assert '      7 contempt         1' in out and '      2 fear             1' in out
    assert 'cannot build the dataset: FileNotFoundError: FERV39k setup file not found' in out
    assert 'FAILED: 5 problem(s) found' in out  # DFEW 2, MAFW 2, FERV39k 1 (no build)


def test_max_list_and_split_choice(broken_config, capsys):
    config, frames, _ = broken_config
    os.rename(osp.join(frames, '00006'), osp.join(frames, 'moved'))
    assert check_datasets(config, ['train'], max_list=0, progress=False) == 1
    out = capsys.readouterr().out
    assert 'missing on disk: 2\n    ... and 2 more\n' in out and '[val]' not in out
    assert check_datasets(config, ['train'], progress=False, cfg_options={
        'train_dataloader.dataset.dataset.split': 'test'}) == 0
    assert 'OK: every listed sample' in capsys.readouterr().out


def write_frames(folder, n=5, size=32):
    os.makedirs(folder, exist_ok=True)
    for k in range(1, n + 1):
        cv2.imwrite(osp.join(folder, f'{k}.jpg'), np.full((size, size, 3), 30 * k, np.uint8))
    return folder


def write_mjpeg(path, n=10, size=32, corrupt=None):
    """A Motion-JPEG AVI; ``corrupt``: a 0-based frame whose JPEG data is zeroed."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10, (size, size))
    for k in range(n):
        writer.write(np.random.RandomState(k).randint(0, 255, (size, size, 3), np.uint8))
    writer.release()
    if corrupt is not None:
        data = bytearray(open(path, 'rb').read())
        starts = [i for i in range(len(data) - 1) if data[i:i + 2] == b'\xff\xd8']
        assert len(starts) == n
        data[starts[corrupt]:starts[corrupt + 1] - 16] = bytes(
            starts[corrupt + 1] - 16 - starts[corrupt])
        open(path, 'wb').write(bytes(data))
    return path


@pytest.fixture(scope='module')
def odd_samples(module_tmp):
    """Frame folders and videos whose first and last frame decode, each with one oddity in
    the middle; listed in a FERVideoDataset config."""
    root = module_tmp.mktemp('odd')
    write_frames(str(root / 'ok'))
    copy = write_frames(str(root / 'copy'))
    (root / 'copy' / 'copy_3.png').write_text('a text file saved with an image name')
    write_frames(str(root / 'apple'))
    (root / 'apple' / '._5.jpg').write_bytes(b'\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X')
    write_frames(str(root / 'size'))
    cv2.imwrite(str(root / 'size' / '4.jpg'), np.zeros((40, 48, 3), np.uint8))
    write_frames(str(root / 'notes'))
    (root / 'notes' / 'notes.txt').write_text('shot on a Tuesday')
    write_mjpeg(str(root / 'good.avi'))
    write_mjpeg(str(root / 'bad.avi'), corrupt=5)
    (root / 'list.txt').write_text('ok 0\ncopy 1\napple 2\nsize 3\nnotes 4\ngood.avi 5\n'
                                   'bad.avi 6\n')
    config = root / 'cfg.py'
    config.write_text(
        f"val_dataloader = dict(dataset=dict(type='FERVideoDataset', ann_file='list.txt', "
        f"data_root={str(root)!r}, data_prefix=dict(video={str(root)!r}), num_classes=7, "
        f"pipeline=[]))\n")
    return str(config), str(root), copy


def test_deep_decodes_every_frame_and_lists_odd_files(odd_samples, capsys):
    config, root, copy = odd_samples
    assert check_datasets(config, ['val'], progress=False) == 0  # all there, none empty
    capsys.readouterr()
    assert check_datasets(config, ['val'], deep=True, progress=False) == 1
    out = capsys.readouterr().out
    assert ('  unreadable or damaged (corrupt, truncated, zero frames, bad image): 2\n'
            f'    cannot read image {osp.join(copy, "copy_3.png")}: not a JPEG, PNG or BMP image, '
            'or damaged beyond decoding (starts with 61 20 74 65)\n'
            f'    cannot decode frame 6 of 10 of video {root}/bad.avi (corrupt or truncated '
            'data)\n') in out
    assert ('  frames of another size (not an error: resized when loaded): 1\n'
            f'    {root}/size/4.jpg is 48x40 where 4 of the 5 frames are 32x32; loading resizes '
            "every frame to the first frame's 32x32\n") in out
    assert ('  files the loader ignores (not an error): 2\n'
            f'    {root}/apple: ignored by the loader: AppleDouble (macOS ._*) ._5.jpg\n'
            f'    {root}/notes: ignored by the loader: not an image notes.txt\n') in out
    assert out.rstrip().endswith('FAILED: 2 problem(s) found')


def test_deep_with_workers_reports_the_same(odd_samples, capsys):
    config = odd_samples[0]
    check_datasets(config, ['val'], deep=True, progress=False)
    alone = capsys.readouterr().out
    assert check_datasets(config, ['val'], deep=True, workers=3, progress=False) == 1
    assert capsys.readouterr().out == alone


@pytest.mark.parametrize('tool', ['check_dataset', 'convert_mmi', 'convert_bu4dfe',
                                  'make_toy_dataset'])
def test_data_tools_help_comes_before_heavy_imports(tool):
    """--help is answered before torch, mmaction, OpenCV or est_mm are imported."""
    path = osp.join('tools', 'data', f'{tool}.py')
    code = ('import runpy, sys\n'
            f"sys.argv = [{path!r}, '--help']\n"
            'try:\n'
            f"    runpy.run_path({path!r}, run_name='__main__')\n"
            'except SystemExit:\n'
            '    pass\n'
            "print(sorted(m for m in ('torch', 'mmaction', 'cv2', 'est_mm') if m in sys.modules))")
    done = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and 'usage:' in done.stdout, done.stderr
    assert done.stdout.rstrip().endswith('[]')


def test_workers_must_be_positive():
    done = subprocess.run([sys.executable, osp.join('tools', 'data', 'check_dataset.py'), 'x.py',
                           '--deep', '--workers', '0'], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and 'argument --workers: must be >= 1, got 0' in done.stderr


# --- check_dataset's progress bars -----------------------------------------------------------

@pytest.mark.parametrize('flag', [None, '--progress'])
def test_check_dataset_bars_only_on_a_terminal_unless_asked(toy_set, flag):
    rc, out, err = run('tools/data/check_dataset.py', TOY_CONFIG, '--splits', 'test', '--deep',
                       *([flag] if flag else []), '--cfg-options',
                       f'test_dataloader.dataset.data_root={toy_set}', timeout=120)
    assert rc == 0, out + err
    assert ('decoding every frame' in err) == (flag == '--progress'), err
