"""tools/demo_batch.py: a checkpoint that cannot be loaded, a missing list or a folder with no
video is one line; Ctrl-C stops the workers and a rerun does the rest."""
import os
import subprocess
import sys

from helpers.cli import ROOT, TOY_CONFIG, demo_batch


def test_batch_model_error_and_missing_list_are_one_line(short_video, tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_text('not a checkpoint')
    for workers in ('1', '2'):
        rc, out, err = demo_batch(short_video, '--config', TOY_CONFIG, '--checkpoint', str(bad),
                             '--workers', workers, '--out-dir', str(tmp_path / 'o'),
                             '--no-progress')
        assert rc == 1
        assert len(err.strip().splitlines()) == 1 and str(bad) in err, err
    rc, out, err = demo_batch('--list', str(tmp_path / 'missing.txt'), '--config', TOY_CONFIG,
                         '--checkpoint', str(bad))
    assert rc == 1
    assert len(err.strip().splitlines()) == 1 and 'missing.txt' in err, err


# enough that the SIGINT, sent within 50 ms of the first video's end, finds most still to do
# (each takes seconds on 2 workers)
VIDEOS = 12


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
    for i in range(VIDEOS):
        shutil.copy(short_video, videos / f'v{i:02d}.mp4')
    out = tmp_path / 'out'
    args = [sys.executable, 'tools/demo_batch.py', str(videos), '--config', TOY_CONFIG,
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
    assert len(glob.glob(finished)) == done and 1 <= done < VIDEOS  # nothing after the exit
    rc, out_text, err = demo_batch(*args[2:])
    assert rc == 0, err
    assert len(glob.glob(finished)) == VIDEOS
    assert f'{VIDEOS - done} video(s) done, {done} finished before (skipped)' in out_text + err


def test_batch_with_no_video_names_the_folder_and_the_extensions(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('not a video')
    rc, out, err = demo_batch(str(empty), '--config', TOY_CONFIG, '--checkpoint', 'never_read.pth')
    assert rc == 1 and out == ''
    from est_mm.datasets.fer_video_dataset import VIDEO_EXTENSIONS
    assert '.mp4' in VIDEO_EXTENSIONS
    assert err.strip().splitlines() == [
        f"no videos found in {empty} (folders are searched recursively for "
        f"{' '.join(VIDEO_EXTENSIONS)}, any case; names starting with '.' skipped)"]
