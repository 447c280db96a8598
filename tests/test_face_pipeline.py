"""The face pipeline's pieces without the model: smoothing, timestamps of variable-frame-rate
files, unreadable inputs, finding videos through symbolic links, and the command lines of
tools/demo.py and tools/data/extract_faces.py (bad values refused while parsing, --help without
torch, Ctrl-C as one line)."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from est_mm.datasets.face_extraction import find_videos
from est_mm.faces.tracking import smooth_series
from est_mm.utils.stage_timer import StageTimer
from est_mm.video import ArrayFrames, VideoFrames, VideoReadError
from helpers.media import VFR_PTS_MS, write_vfr

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_smoothing_is_the_centred_moving_average():
    rng = np.random.default_rng(0)
    for n in (2, 5, 40):
        values = rng.normal(size=(n, 14)) * 100
        for window in (2, 3, 4, 5, 9, 60):
            before, after = window // 2, window - 1 - window // 2
            padded = np.concatenate([np.repeat(values[:1], before, 0), values,
                                     np.repeat(values[-1:], after, 0)])
            expected = np.stack([padded[t:t + window].mean(0) for t in range(n)])
            np.testing.assert_allclose(smooth_series(values, window), expected, atol=1e-9)
        for window in (0, 1):
            assert smooth_series(values, window) is values


def test_stage_timer_adds_up_per_stage():
    timer = StageTimer()
    for _ in range(3):
        with timer('detect'):
            pass
    timer.add('crop', 2.0)
    with pytest.raises(KeyError), timer('track'):
        raise KeyError('counted anyway')
    assert set(timer.seconds) == {'detect', 'crop', 'track'}
    assert timer.get('crop') == 2.0 and timer.get('est') == 0.0


def test_variable_frame_rate_times_come_from_timestamps(tmp_path):
    video = VideoFrames(write_vfr(tmp_path / 'vfr.mp4'))
    times = video.frame_times()
    assert len(times) == len(video) + 1 == 9
    np.testing.assert_allclose(times[:-1], np.array(VFR_PTS_MS) / 1000, atol=1e-3)
    assert times[-1] > 2.5 and video.duration == pytest.approx(times[-1])
    # the average rate puts frame 6 at 6 / fps ≈ 0.98 s; it is shown at 2.0 s
    assert abs(6 / video.fps - 2.0) > 0.5
    assert ArrayFrames(np.zeros((4, 8, 8, 3), np.uint8), fps=2.0).frame_times().tolist() == \
        [0.0, 0.5, 1.0, 1.5, 2.0]


def test_unreadable_inputs_say_what_they_are(tmp_path):
    with pytest.raises(VideoReadError, match='is a directory'):
        VideoFrames(str(tmp_path))
    fake = tmp_path / 'photo.mp4'  # a JPEG with a video extension
    cv2.imwrite(str(tmp_path / 'photo.jpg'), np.zeros((32, 32, 3), np.uint8))
    os.rename(tmp_path / 'photo.jpg', fake)
    with pytest.raises(VideoReadError) as info:
        VideoFrames(str(fake))
    message = str(info.value)
    assert message.startswith(f'{fake}: cannot open video') and '\n' not in message
    assert 'video_reader.cc' not in message and '[' not in message


def test_find_videos_follows_folder_links_once(tmp_path):
    for rel in ('videos/a/x.mp4', 'elsewhere/y.mp4', 'elsewhere/deep/z.avi'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b'0')
    os.symlink(tmp_path / 'elsewhere', tmp_path / 'videos' / 'linked')
    os.symlink(tmp_path / 'videos', tmp_path / 'videos' / 'a' / 'loop')  # back to the root
    videos, problems, skipped = find_videos([str(tmp_path / 'videos')])
    assert [name for _, name in videos] == ['a/x', 'linked/deep/z', 'linked/y']
    assert not problems
    assert len(skipped) == 1 and 'a/loop' in skipped[0] and 'already searched' in skipped[0]


def run_tool(*args, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, **kwargs)


@pytest.mark.parametrize('option,value', [
    ('--window', '0'), ('--smooth', '-3'), ('--max-faces', '0'), ('--stride', '-5'),
    ('--detect-every', '0'), ('--margin', '0'), ('--min-track-len', '0'), ('--max-gap', '-1'),
    ('--window', 'ten')])
def test_demo_refuses_bad_numbers_while_parsing(option, value):
    run = run_tool('tools/demo.py', 'v.mp4', 'c.py', 'w.pth', option, value)
    assert run.returncode == 2
    assert f'error: argument {option}: ' in run.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize('option,value', [
    ('--detect-every', '0'), ('--size', '0'), ('--margin', '-1'), ('--smooth', '-3'),
    ('--jpeg-quality', '101'), ('--workers', '0'), ('--max-side', '-1'),
    ('--score-threshold', '2')])
def test_extract_faces_refuses_bad_numbers_while_parsing(option, value):
    run = run_tool('tools/data/extract_faces.py', 'v.mp4', '--out', 'o', option, value)
    assert run.returncode == 2
    assert f'argument {option}: ' in run.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize('tool', ['tools/demo.py', 'tools/data/extract_faces.py',
                                  'tools/analysis/video_speed.py'])
def test_help_imports_neither_torch_nor_est_mm(tool):
    run = run_tool('-X', 'importtime', tool, '--help')
    assert run.returncode == 0 and 'usage:' in run.stdout
    imported = {line.split('|')[-1].strip().split('.')[0] for line in run.stderr.splitlines()
                if line.startswith('import time:')}
    assert 'argparse' in imported and not imported & {'torch', 'est_mm', 'mmengine'}


def test_demo_names_a_folder_given_as_video(tmp_path):
    run = run_tool('tools/demo.py', str(tmp_path), 'c.py', 'w.pth')
    assert run.returncode == 1
    assert run.stderr.strip() == f'{tmp_path}: is a directory; the demo takes one video file'


def test_extract_faces_ctrl_c_is_one_line(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / 'videos'
    src.mkdir()
    for name in ('a', 'b'):  # no face: the detector runs on every one of 600 frames
        writer = cv2.VideoWriter(str(src / f'{name}.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 25,
                                 (320, 240))
        for _ in range(600):
            writer.write(rng.integers(0, 255, (240, 320, 3), np.uint8))
        writer.release()
    out = tmp_path / 'faces'
    proc = subprocess.Popen([sys.executable, 'tools/data/extract_faces.py', str(src), '--out',
                             str(out), '--workers', '2', '--no-progress'], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 90
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: parent and workers
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert 'Traceback' not in stderr and 'KeyboardInterrupt' not in stderr
    assert stderr.strip().splitlines() == [
        'interrupted: finished folders are kept; run the same command again to resume']
