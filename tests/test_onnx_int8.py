"""int8 export (tools/deployment/export_onnx.py --int8, est_mm.deploy.quantize)."""
import contextlib
import io
import json
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest

from est_mm.deploy import ONNXModel
from est_mm.deploy.onnx_backend import PARTS, part_path
from est_mm.deploy.quantize import (Int8Settings, Int8VerificationFailed, QuantizeError,
                                    export_int8, parse_source, split_holdout, window_indices)
from est_mm.snippet_geometry import SnippetGeometry
from helpers.cli import ROOT, TOY_CONFIG, one_line

EXPORT = 'tools/deployment/export_onnx.py'
SMALL = ('model.cls_head.num_encoder_layers=1', 'model.cls_head.num_decoder_layers=1',
         'model.cls_head.ffn_channels=256')


def _ops(path):
    return {n.op_type for n in onnx.load(path, load_external_data=False).graph.node}


@pytest.fixture(scope='module')
def split_config(module_tmp, toy_root):
    """The toy config reading its test split from the tiny toy set (7 clips)."""
    path = module_tmp.mktemp('cfg') / 'toy_split.py'
    path.write_text(f"_base_ = [{osp.join(ROOT, TOY_CONFIG)!r}]\n"
                    f"test_dataloader = dict(dataset=dict(data_root={toy_root!r}))\n")
    return str(path)


@pytest.fixture(scope='module')
def small_checkpoint(module_tmp):
    """An untrained toy model (seed 0) with a one-layer Transformer (SMALL): the same graphs as
    the toy model's, a fifth of the weights to trace and quantize on 2 cores."""
    import torch
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    from est_mm.utils.config import load_config
    register_all_modules()
    torch.manual_seed(0)
    options = {k: int(v) for k, v in (o.split('=') for o in SMALL)}
    cfg = load_config(osp.join(ROOT, TOY_CONFIG), options,
                      classes_files=False)
    path = str(module_tmp.mktemp('ckpt') / 'small.pth')
    torch.save({'meta': {}, 'state_dict': MODELS.build(cfg.model).state_dict()}, path)
    return path


def export_tool(*argv):
    """``tools/deployment/export_onnx.py argv`` in this process: (exit code, stdout, stderr)."""
    import runpy
    tool = runpy.run_path(osp.join(ROOT, EXPORT))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            rc = tool['main'](list(argv))
        except SystemExit as err:
            rc = err.code
    return rc, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope='module')
def exported(small_checkpoint, split_config, module_tmp):
    """float32 + int8 export of the small untrained model, calibrated on the split's clips."""
    out = str(module_tmp.mktemp('onnx') / 'toy.onnx')
    rc, stdout, stderr = export_tool(TOY_CONFIG, small_checkpoint, '--out', out,
                                     '--verify-clips', '0', '--int8', '--calibrate',
                                     f'{split_config}:test', '--cfg-options', *SMALL)
    assert rc == 0, stderr[-3000:]
    return out, stdout


def test_int8_export_writes_verified_int8_backbone_and_float_rest(exported):
    out, stdout = exported
    int8 = out.replace('.onnx', '.int8.onnx')
    assert 'int8: calibrating on 5 clips' in stdout and '2 held out' in stdout
    for label in ('whole graph', 'parts chained'):
        line = next(ln for ln in stdout.splitlines() if ln.strip().startswith(label))
        assert 'max |Δp|' in line and 'top-1 agreement' in line and line.endswith('OK')
    assert 'backbone features: cosine min' in stdout
    # int8 weights and QDQ where the Convs are; AA-SFE and the Transformer unchanged
    assert {'QuantizeLinear', 'DequantizeLinear'} <= _ops(int8)
    assert {'QuantizeLinear', 'DequantizeLinear'} <= _ops(part_path(int8, 'backbone'))
    assert 'QuantizeLinear' not in _ops(part_path(int8, 'head'))
    assert osp.getsize(part_path(int8, 'backbone')) < 0.35 * osp.getsize(part_path(out,
                                                                                  'backbone'))
    assert osp.getsize(int8) < osp.getsize(out)


def test_int8_files_carry_the_float_metadata_precision_and_calibration(exported):
    out, _ = exported
    int8 = out.replace('.onnx', '.int8.onnx')
    base, model = ONNXModel(out, providers=['CPUExecutionProvider']), \
        ONNXModel(int8, providers=['CPUExecutionProvider'])
    assert model.spec == base.spec
    assert model.metadata['checkpoint_sha256'] == base.metadata['checkpoint_sha256']
    assert model.metadata['precision'] == 'int8' and 'precision' not in base.metadata
    info = json.loads(model.metadata['int8_export'])
    assert info['format'] == 'QDQ' and info['per_channel']
    assert info['op_types'] == ['Conv', 'Relu', 'Add', 'MaxPool']
    # int8 tensors feed the backbone's convolutions, residual adds and pooling, and nothing of
    # AA-SFE or the Transformer
    import onnx
    graph = onnx.load(int8, load_external_data=False).graph
    dq_out = {o for n in graph.node if n.op_type == 'DequantizeLinear' for o in n.output}
    fed = [n for n in graph.node if n.op_type != 'QuantizeLinear' and set(n.input) & dq_out]
    assert {n.op_type for n in fed if n.name.startswith('/backbone/')} >= {'Conv', 'Add',
                                                                           'MaxPool'}
    assert not [n.name for n in fed if n.name.startswith(('/neck/', '/transformer/'))]
    assert info['calibration']['clips'] == 5 and info['verification']['holdout_clips'] == 2
    parts = model.parts()
    assert parts.backbone.metadata['precision'] == 'int8'
    assert parts.head.metadata['precision'] == 'float32'
    assert {parts.snippet.metadata['int8_export'], parts.head.metadata['int8_export']} == \
        {model.metadata['int8_export']}


def test_onnx_model_inferencer_and_streaming_parts_run_the_int8_file(exported):
    from est_mm.apis.inference import ESTInferencer
    out, _ = exported
    int8 = out.replace('.onnx', '.int8.onnx')
    clip = list(np.random.default_rng(0).integers(0, 256, (35, 40, 40, 3), dtype=np.uint8))
    model = ONNXModel(int8, providers=['CPUExecutionProvider'])
    scores, weights, attention = model.run([clip])
    assert scores.shape == (1, 7) and np.isclose(scores.sum(), 1, atol=1e-5)
    chained = model.parts().run_preprocessed(model.preprocess([clip]))['scores']
    np.testing.assert_allclose(chained, scores, atol=1e-5)
    inferencer = ESTInferencer(None, int8, backend='onnxruntime')
    assert inferencer.onnx.metadata['precision'] == 'int8'


def test_the_torch_free_backend_runs_the_int8_file(exported):
    """onnx_backend.py loaded by path with torch unimportable: the int8 graph and its parts."""
    int8 = exported[0].replace('.onnx', '.int8.onnx')
    backend = osp.join(ROOT, 'est_mm', 'deploy', 'onnx_backend.py')
    code = ("import sys, importlib.util, numpy as np\n"
            "sys.modules['torch'] = None\n"
            f"spec = importlib.util.spec_from_file_location('b', {backend!r})\n"
            "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)\n"
            f"m = b.ONNXModel({int8!r}, providers=['CPUExecutionProvider'])\n"
            "p, _, _ = m.run([[np.zeros((30, 30, 3), np.uint8)] * m.num_frames])\n"
            "f = m.parts().frames([np.zeros((30, 30, 3), np.uint8)] * 5)\n"
            "print(m.metadata['precision'], p.shape, f.shape, 'torch' in sys.modules and "
            "sys.modules['torch'] is not None)\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ['int8', '(1,', '7)', '(5,', '512)', 'False']


def test_thresholds_fail_the_int8_export_and_write_nothing(exported, split_config, tmp_path):
    out, _ = exported
    target = str(tmp_path / 'strict.int8.onnx')
    s = Int8Settings(calibrate=[f'{split_config}:test'], out=target, max_dp=0.0, max_clips=3)
    with pytest.raises(Int8VerificationFailed, match='not written: int8 differs'):
        export_int8(out, s, log=lambda *a: None)
    assert not any(osp.exists(p) for p in [target] + [part_path(target, p) for p in PARTS])
    assert list(tmp_path.iterdir()) == []  # no temporary files left


def test_the_tool_refuses_a_bad_calibration_source_in_one_line_before_exporting(
        small_checkpoint, tmp_path):
    rc, _, stderr = export_tool(TOY_CONFIG, small_checkpoint, '--out',
                                str(tmp_path / 'x.onnx'), '--int8', '--calibrate', 'nosuch_dir')
    assert rc == 1 and 'nosuch_dir: no such video, frame folder' in one_line(stderr)
    out = str(tmp_path / 'x.onnx')
    rc, _, stderr = export_tool(TOY_CONFIG, small_checkpoint, '--out', out, '--int8-out', out,
                                '--int8', '--calibrate', str(tmp_path))
    assert rc == 1 and 'would replace the float32 file' in one_line(stderr)
    assert list(tmp_path.iterdir()) == []
    for argv, message in ((['--int8'], '--int8 needs --calibrate'),
                          (['--calibrate', 'x'], '--calibrate is for --int8'),
                          (['--int8', '--calibrate', 'x', '--no-parts'], 'cannot be combined')):
        rc, _, stderr = export_tool(TOY_CONFIG, small_checkpoint, *argv)
        assert rc == 2 and message in stderr


def test_parse_source_kinds(tmp_path):
    video = tmp_path / 'a.mp4'
    video.write_bytes(b'')
    assert parse_source(f'{TOY_CONFIG}:test') == ('split', TOY_CONFIG, 'test')
    assert parse_source(str(tmp_path)) == ('folder', str(tmp_path), None)
    assert parse_source(str(video)) == ('video', str(video), None)
    for src, message in (('missing.py:val', 'missing.py: no such config'),
                         (f'{TOY_CONFIG}:dev', "split 'dev' is not one of train, val, test"),
                         (TOY_CONFIG, 'a config needs its split, e.g.'),
                         ('nosuch', 'nosuch: no such video, frame folder or CONFIG.py:SPLIT')):
        with pytest.raises(QuantizeError, match=re.escape(message)):
            parse_source(src)


def test_holdout_is_seeded_by_source_and_never_empty():
    def names(clips):
        return [int(c) for c in clips]
    clips = [(f'video{i // 3}', np.array(i)) for i in range(12)]  # 4 sources, 3 windows each
    calib, held = split_holdout(clips, 0.25, seed=0)
    assert sorted(names(calib + held)) == list(range(12)) and len(held) == 3
    assert len({i // 3 for i in names(held)}) == 1  # one whole source held out
    assert not {i // 3 for i in names(held)} & {i // 3 for i in names(calib)}
    assert names(split_holdout(clips, 0.25, seed=0)[1]) == names(held)
    assert any(names(split_holdout(clips, 0.25, seed=k)[1]) != names(held) for k in (1, 2, 3))
    one_video = [('v', np.array(i)) for i in range(4)]
    assert [len(x) for x in split_holdout(one_video, 0.5, seed=0)] == [2, 2]
    assert [len(x) for x in split_holdout(one_video[:2], 0.9, seed=0)] == [1, 1]
    with pytest.raises(QuantizeError, match='at least 2'):
        split_holdout(one_video[:1], 0.25, seed=0)


def test_video_windows_are_the_demos_spread_over_the_video():
    geometry = SnippetGeometry()
    windows = window_indices(1000, geometry, 4)
    assert len(windows) == 4 and windows[0][0] == geometry.test_indices(105)[0]
    assert windows[-1][-1] < 1000 and all(len(w) == 35 for w in windows)
    assert [w.tolist() for w in window_indices(50, geometry, 4)] == \
        [geometry.test_indices(50).tolist()]
