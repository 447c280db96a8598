"""tools/analysis/video_speed.py: up to 4 faces composed into one clip, float32 and int8 rows on
the backends, shared and separate batching for the live path, bad choices refused while parsing."""
import os.path as osp
import runpy

import cv2
import pytest

from helpers.cli import ROOT, run

TOOL = 'tools/analysis/video_speed.py'


@pytest.fixture(scope='module')
def tool():
    """The tool's functions (its module, not run as __main__)."""
    return runpy.run_path(osp.join(ROOT, TOOL))


@pytest.mark.parametrize('option,value', [('--faces', '5'), ('--faces', '1,0'),
                                          ('--batching', 'both'), ('--sizes', '4k'),
                                          ('--paths', 'camera'), ('--detect-every', '0'),
                                          ('--detect-every', '4,x')])
def test_bad_choices_are_one_error_line(option, value):
    code, _, err = run(TOOL, 'c.py', 'w.pth', option, value)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f'video_speed.py: error: argument {option}: ')


def test_int8_rows_run_on_onnx_runtime_after_pytorch(tool, tmp_path, capsys):
    for name in ('f.onnx', 'f.int8.onnx'):
        (tmp_path / name).write_bytes(b'')
    args = tool['parse_args'](['c.py', 'w.pth', '--onnx', str(tmp_path / 'f.onnx'), '--int8',
                               str(tmp_path / 'f.int8.onnx'), '--paths', 'file',
                               '--batching', 'shared,separate', '--faces', '4'])
    assert args.faces == [4]
    assert tool['plan'](args) == [('file', 'pytorch', 'float32', 'shared', 4),
                                  ('file', 'onnxruntime', 'float32', 'shared', 4),
                                  ('file', 'onnxruntime', 'int8', 'shared', 4)]
    args.paths = ['file', 'live']  # separate batching is a live-path run only
    runs = tool['plan'](args)
    assert [r for r in runs if r[0] == 'live'] == [
        ('live', b, w, s, 4) for b, w in (('pytorch', 'float32'), ('onnxruntime', 'float32'),
                                          ('onnxruntime', 'int8')) for s in ('shared', 'separate')]
    args.detect_every = tool['parse_args'](['c.py', 'w.pth', '--detect-every', '4,10']).detect_every
    assert args.detect_every == [4, 10]  # each a row of every run
    assert [r[4] for r in tool['plan'](args) if r[:4] == ('live', 'pytorch', 'float32',
                                                          'shared')] == [4, 10]
    with pytest.raises(SystemExit):  # the live path runs the int8 export's part graphs
        tool['parse_args'](['c.py', 'w.pth', '--int8', str(tmp_path / 'f.int8.onnx')])
    assert 'f.int8.backbone.onnx: no such file' in capsys.readouterr().err.splitlines()[-1]


@pytest.fixture(scope='module')
def four_faces(tool, module_tmp, pyfeat_media):
    """The first frame (BGR) of a composed 2-frame 1080p clip of 4 faces."""
    pyfeat_media('single_face.mp4')
    path = str(module_tmp.mktemp('four') / 'four.mp4')
    tool['compose'](path, 4, 2, (1920, 1080), 30.0)
    cap = cv2.VideoCapture(path)
    ok, frame = cap.read()
    assert ok and cap.get(cv2.CAP_PROP_FRAME_COUNT) == 2
    cap.release()
    return frame


def test_four_faces_fill_a_2_by_2_grid(four_faces):
    assert four_faces.shape == (1080, 1920, 3)
    for y in (0, 540):  # 2 x 2 cells of 960 x 540, none left black
        for x in (0, 960):
            assert four_faces[y:y + 540, x:x + 960].mean() > 20


def test_the_detector_finds_one_face_in_each_cell(four_faces):
    from est_mm.faces import build_face_detector
    rgb = cv2.cvtColor(four_faces, cv2.COLOR_BGR2RGB)
    boxes = build_face_detector('retinaface').detect(rgb[None])[0]
    cells = sorted((int(b[1] + b[3] > 1080), int(b[0] + b[2] > 1920)) for b in boxes
                   if b[4] > 0.5)  # (row, column) of each face's centre
    assert cells == [(0, 0), (0, 1), (1, 0), (1, 1)]
