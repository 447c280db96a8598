"""tools/demo.py makes its output folders (--out-dir, --vid-out-dir, a --jsonl file's folder) only
when it writes a file there: a run that fails leaves none behind."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'


def _demo(*args):
    proc = subprocess.run([sys.executable, 'tools/demo.py', *args], cwd=ROOT, text=True,
                          capture_output=True, env=dict(os.environ, PYTHONPATH=ROOT),
                          timeout=600)
    return proc.returncode, proc.stderr.strip().splitlines()


def _video(path, frames=3):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    return str(path)


def test_a_failed_demo_leaves_no_output_folder(tmp_path):
    video = _video(tmp_path / 'clip.mp4')
    missing = str(tmp_path / 'missing.pth')
    new = tmp_path / 'new'
    outputs = ['--out-dir', str(new / 'out'), '--vid-out-dir', str(new / 'videos'),
               '--jsonl', str(new / 'lines' / 'clip.jsonl')]
    rc, err = _demo(video, CONFIG, missing, *outputs)  # a file: the model cannot load
    assert rc == 1 and missing in err[-1] and 'Traceback' not in '\n'.join(err)
    assert not new.exists()
    rc, err = _demo(video, CONFIG, missing, '--live', '--out-dir', str(new / 'out'))
    assert rc == 1 and missing in err[-1]
    assert not new.exists()
    gone = str(tmp_path / 'gone.mp4')  # a live source that cannot be opened
    rc, err = _demo(gone, CONFIG, missing, '--live', '--out-dir', str(new / 'out'))
    assert rc == 1 and gone in err[-1]
    assert not new.exists()


def test_a_live_run_without_a_window_writes_no_json_lines_file(tmp_path):
    from est_mm.apis.inference import ESTInferencer
    from est_mm.streaming import LiveOptions, run_live
    inferencer = ESTInferencer(osp.join(ROOT, CONFIG), None, device='cpu')  # random weights
    target = tmp_path / 'new' / 'clip.jsonl'
    summary = run_live(_video(tmp_path / 'clip.mp4', frames=5), inferencer, str(target),
                       LiveOptions(crop_faces=False), status=None)
    assert summary['frames'] == 5 and summary['windows'] == 0
    assert not (tmp_path / 'new').exists()
