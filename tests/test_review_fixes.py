"""Review fixes on the demo paths: a live run too short for one window names each short track and
exits 1; unwritable output folders, model-load errors in demo_batch, a text file renamed .mp4
and an MP4 piped on stdin are one line each; Ctrl-C is one line and exit 130."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from test_stream_demo import CONFIG, ROOT, checkpoint, demo, write_noise_video  # noqa: F401


def test_live_run_shorter_than_a_window_names_the_track_and_exits_1(checkpoint, tmp_path):
    video = write_noise_video(tmp_path / 'short.mp4', num=12)
    rc, out, err = demo(video, CONFIG, checkpoint, '--live', '--no-face-crop',
                        '--out-dir', str(tmp_path))
    lines = err.strip().splitlines()
    assert rc == 1, err
    assert '  face #1: no window: 12 frame(s), a window needs 105' in lines
    assert lines[-1] == (f'{video}: no window written: no face track lasted '
                         'the 105 frames a window needs (--window sets a shorter one)')


def batch(*args):
    proc = subprocess.run([sys.executable, 'tools/demo_batch.py', *args], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope='module')
def short_video(module_tmp):
    return write_noise_video(module_tmp.mktemp('rv') / 'clip.mp4', num=12)


@pytest.mark.skipif(not osp.isdir('/sys/kernel'), reason='needs /sys (unwritable even as root)')
@pytest.mark.parametrize('option', ['--out-dir', '--vid-out-dir'])
def test_unwritable_output_folder_is_one_line_before_the_model(option, short_video, tmp_path):
    rc, out, err = demo(short_video, CONFIG, str(tmp_path / 'missing.pth'), option, '/sys/x')
    assert rc == 1
    assert err.strip().startswith('/sys/x: cannot write to this folder (')  # not the checkpoint
    rc, out, err = batch(short_video, '--config', CONFIG, '--checkpoint',
                         str(tmp_path / 'missing.pth'), option, '/sys/x')
    assert rc == 1
    assert err.strip().startswith('/sys/x: cannot write to this folder (')


def test_batch_model_error_and_missing_list_are_one_line(short_video, tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_text('not a checkpoint')
    for workers in ('1', '2'):
        rc, out, err = batch(short_video, '--config', CONFIG, '--checkpoint', str(bad),
                             '--workers', workers, '--out-dir', str(tmp_path / 'o'),
                             '--no-progress')
        assert rc == 1
        assert len(err.strip().splitlines()) == 1 and str(bad) in err, err
    rc, out, err = batch('--list', str(tmp_path / 'missing.txt'), '--config', CONFIG,
                         '--checkpoint', str(bad))
    assert rc == 1
    assert len(err.strip().splitlines()) == 1 and 'missing.txt' in err, err


@pytest.mark.parametrize('tool', ['tools/demo.py'])
def test_ctrl_c_is_one_line_and_exit_130(tool, checkpoint, tmp_path):
    """SIGINT to the process group while the tool waits on stdin (demo) or works (batch)."""
    import signal
    import time
    if tool == 'tools/demo.py':
        args = ['-', CONFIG, checkpoint, '--out-dir', str(tmp_path), '--timeout', '600']
    else:
        video = write_noise_video(tmp_path / 'v.mp4', num=300)
        args = [video, '--config', CONFIG, '--checkpoint', checkpoint, '--no-face-crop',
                '--device', 'cpu', '--out-dir', str(tmp_path / 'o'), '--no-progress']
    proc = subprocess.Popen([sys.executable, tool, *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT), start_new_session=True)
    time.sleep(8)  # past the imports (not asserted on)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1].startswith('interrupted')


def test_ctrl_c_stops_demo_batch_and_its_workers_and_a_rerun_resumes(short_video, checkpoint,
                                                                     tmp_path):
    """Ctrl-C (SIGINT to the process group) once the first video is done: exit 130 with one
    line, no worker left writing (they ignore SIGINT and used to finish the whole list after
    the parent had gone), and the same command finishes the rest."""
    import glob
    import shutil
    import signal
    import time
    videos = tmp_path / 'videos'
    videos.mkdir()
    for i in range(24):
        shutil.copy(short_video, videos / f'v{i:02d}.mp4')
    out = tmp_path / 'out'
    args = [sys.executable, 'tools/demo_batch.py', str(videos), '--config', CONFIG,
            '--checkpoint', checkpoint, '--no-face-crop', '--window', '4', '--device', 'cpu',
            '--out-dir', str(out), '--workers', '2', '--no-progress']
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=ROOT),
                            start_new_session=True)
    from est_mm.apis.batch import DONE_DIR
    finished = str(out / DONE_DIR / '*.done')  # a video's marker: all its outputs written
    deadline = time.monotonic() + 300
    while not glob.glob(finished) and proc.poll() is None:  # the first video finished
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err and 'leaked' not in err, err
    assert err.strip().splitlines()[-1].startswith('interrupted: finished videos are kept')
    done = len(glob.glob(finished))
    time.sleep(2)
    assert len(glob.glob(finished)) == done and 1 <= done < 24  # nothing goes on after the exit
    rc, out_text, err = batch(*args[2:])
    assert rc == 0, err
    assert len(glob.glob(finished)) == 24
    assert f'{24 - done} video(s) done, {done} finished before (skipped)' in out_text + err


def test_mp4_and_empty_stdin_say_why(checkpoint, tmp_path):
    video = write_noise_video(tmp_path / 'index_at_end.mp4', num=400, faststart=False)
    with open(video, 'rb') as f:
        rc, out, err = demo('-', CONFIG, checkpoint, '--out-dir', str(tmp_path), stdin=f)
    assert rc == 1
    assert err.strip() == ('<stdin>: an MP4 cannot be read from a pipe (its index is at the '
                           'end): pass the path, or pipe ffmpeg -i VIDEO -c copy -f mpegts -')
    rc, out, err = demo('-', CONFIG, checkpoint, '--out-dir', str(tmp_path),
                        stdin=subprocess.DEVNULL)
    assert rc == 1
    assert err.strip() == '<stdin>: no data on stdin'


def test_text_renamed_mp4_is_our_line_only(tmp_path):
    path = tmp_path / 'notvideo.mp4'
    path.write_text('hello, not a video\n')
    code = ('import sys; from est_mm.video.reader import VideoFrames, VideoReadError\n'
            'try:\n    VideoFrames(sys.argv[1])\nexcept VideoReadError as err:\n'
            '    sys.exit(str(err))')
    proc = subprocess.run([sys.executable, '-c', code, str(path)], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f'{path}: cannot open video (not a video, corrupt, or an '
                                   'unsupported format)')


def test_batch_with_no_video_names_the_folder_and_the_extensions(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('not a video')
    rc, out, err = batch(str(empty), '--config', CONFIG, '--checkpoint', 'never_read.pth')
    assert rc == 1 and out == ''
    from est_mm.datasets.fer_video_dataset import VIDEO_EXTENSIONS
    assert '.mp4' in VIDEO_EXTENSIONS
    assert err.strip().splitlines() == [
        f"no videos found in {empty} (folders are searched recursively for "
        f"{' '.join(VIDEO_EXTENSIONS)}, any case; names starting with '.' skipped)"]
