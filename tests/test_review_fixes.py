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
