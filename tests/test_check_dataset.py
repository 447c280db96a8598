"""tools/data/check_dataset.py: counts per class, missing/empty samples by name, exit codes."""
import importlib.util
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

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'check_dataset', osp.join(REPO, 'tools', 'data', 'check_dataset.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def toy_set(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('check') / 'toy')
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
    tool = load_tool()
    assert tool.main([config, '--no-progress']) == 1
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
    tool = load_tool()
    os.rename(osp.join(frames, '00006'), osp.join(frames, 'moved'))
    assert tool.main([config, '--splits', 'train', '--max-list', '0', '--no-progress']) == 1
    out = capsys.readouterr().out
    assert 'missing on disk: 2\n    ... and 2 more\n' in out and '[val]' not in out
    assert tool.main([config, '--splits', 'train', '--no-progress', '--cfg-options',
                      'train_dataloader.dataset.dataset.split=test']) == 0
    assert 'OK: every listed sample' in capsys.readouterr().out
