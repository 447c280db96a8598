"""ONNX export (tools/deployment/export_onnx.py) and the onnxruntime backend (ONNXModel)."""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.deploy import ONNXModel
from est_mm.deploy.onnx_backend import PARTS, part_path, preprocess_clips
from est_mm.deploy.onnx_export import max_abs_diffs, pytorch_outputs, random_clips, read_clip
from est_mm.inference_spec import spec_from_config
from est_mm.snippet_geometry import SnippetGeometry
from mmaction.registry import DATASETS, MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'  # 64x64 frames, DFEW class names, test start 15
OUTPUTS = ('scores', 'frame_weights', 'snippet_attention', 'logits')
# what the checkpoint's meta says instead (it wins): 32x32, other names, another test start
CKPT_CLASSES = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']
CKPT_SIZE = (32, 32)
CKPT_SAMPLING = dict(SnippetGeometry().to_dict(), test_start=10)


def export_tool(*args):
    proc = subprocess.run([sys.executable, 'tools/deployment/export_onnx.py', *args], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def max_diff_line(output):
    """{output name: value} from the tool's 'max abs diff:' line."""
    line = [ln for ln in output.splitlines() if ln.startswith('max abs diff:')][-1]
    return {k: float(v) for k, v in re.findall(r'(\w+) ([0-9.e+-]+|inf)', line)
            if k in OUTPUTS}


@pytest.fixture(scope='module')
def model_and_checkpoint(module_tmp):
    """An untrained toy model whose checkpoint meta disagrees with the toy config."""
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(ROOT, CONFIG)).model).eval()
    path = str(module_tmp.mktemp('ckpt') / 'untrained.pth')
    est = dict(classes=CKPT_CLASSES, frame_size=list(CKPT_SIZE),
               test_sampling=dict(type='SnippetSampling', **CKPT_SAMPLING, test_mode=True),
               data_preprocessor=dict(type='ActionDataPreprocessor', mean=[0.0] * 3,
                                      std=[255.0] * 3, format_shape='NCHW'))
    torch.save({'meta': {'est': est, 'dataset_meta': {'classes': CKPT_CLASSES}},
                'state_dict': model.state_dict()}, path)
    return model, path


@pytest.fixture(scope='module')
def exported(model_and_checkpoint, module_tmp):
    _, checkpoint = model_and_checkpoint
    out = str(module_tmp.mktemp('onnx') / 'est_toy.onnx')
    rc, output = export_tool(CONFIG, checkpoint, '--out', out)
    return rc, output, out


@pytest.fixture(scope='module')
def onnx_model(exported):
    assert exported[0] == 0, exported[1]
    return ONNXModel(exported[2], providers=['CPUExecutionProvider'])


def test_export_verifies_within_tolerance(exported):
    rc, output, out = exported
    assert rc == 0, output
    assert osp.isfile(out) and not [f for f in os.listdir(osp.dirname(out)) if f.endswith('.tmp')]
    for kind in ('random', 'resized'):
        for batch in (1, 2):
            assert f'{kind} clips, batch {batch}:' in output
    diffs = max_diff_line(output)
    assert set(diffs) == set(OUTPUTS) and all(v <= 1e-4 for v in diffs.values()), output
    assert 'OK' in output
    assert "using the checkpoint's" in output and 'frame size 32x32 (config: 64x64)' in output


def test_exported_file_has_the_usual_permissions(exported):
    mask = os.umask(0o022)
    os.umask(mask)
    for path in (exported[2], *(part_path(exported[2], p) for p in PARTS)):
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask, path


def test_export_writes_verified_part_graphs_with_the_same_spec(exported, onnx_model):
    import onnx
    rc, output, out = exported
    assert rc == 0, output
    assert [part_path(out, p) for p in PARTS] == [
        out[:-5] + '.backbone.onnx', out[:-5] + '.snippet.onnx', out[:-5] + '.head.onnx']
    (line, ) = [ln for ln in output.splitlines() if ln.startswith('parts chained, max abs diff')]
    assert line.endswith('OK (tolerance 0.0001)'), output
    for kind in ('random', 'resized'):
        assert f'{kind} clips, batch 2 (parts):' in output
    main = onnx.load(out, load_external_data=False)
    main_meta = {p.key: p.value for p in main.metadata_props}
    for part, (name, outputs) in PARTS.items():
        proto = onnx.load(part_path(out, part), load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta.pop('est_mm_part') == part
        for key in ('classes', 'frame_size', 'sampling', 'mean', 'std', 'to_rgb', 'sources',
                    'checkpoint_sha256', 'config', 'est_mm_format'):
            assert meta[key] == main_meta[key], (part, key)
        assert [i.name for i in proto.graph.input] == [name]
        assert [o.name for o in proto.graph.output] == list(outputs)
    parts = onnx_model.parts()
    assert parts is onnx_model.parts()  # loaded once, shared by every track's engine
    assert (parts.classes, parts.frame_size) == (CKPT_CLASSES, CKPT_SIZE)


def test_metadata_is_the_checkpoints_spec(onnx_model):
    import onnx
    assert onnx_model.classes == CKPT_CLASSES
    assert onnx_model.frame_size == CKPT_SIZE
    assert onnx_model.sampling == CKPT_SAMPLING
    assert onnx_model.num_frames == 35
    assert onnx_model.mean == [0.0] * 3 and onnx_model.std == [255.0] * 3
    assert onnx_model.spec['sources']['frame_size'] == 'checkpoint'
    proto = onnx.load(onnx_model.path, load_external_data=False)
    (inp, ) = proto.graph.input
    assert inp.name == 'clips'
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == \
        ['N', 35, 3, *CKPT_SIZE]
    geometry = SnippetGeometry.from_dict(CKPT_SAMPLING)
    for n in (1, 7, 40, 105, 300):
        np.testing.assert_array_equal(onnx_model.frame_indices(n), geometry.test_indices(n))


@pytest.mark.parametrize('batch', [1, 3])
def test_matches_pytorch_at_dynamic_batch(onnx_model, model_and_checkpoint, batch):
    model, _ = model_and_checkpoint
    clips = random_clips(batch, 35, (40, 36), seed=batch, smooth=True)  # uint8 [N, 35, H, W, 3]
    expected = pytorch_outputs(model, preprocess_clips(clips, CKPT_SIZE, 35))
    scores, weights, attention, logits = onnx_model.run(clips, return_logits=True)
    got = dict(scores=scores, frame_weights=weights, snippet_attention=attention, logits=logits)
    assert scores.shape == (batch, 7) and weights.shape == (batch, 7, 5)
    assert attention.shape == (batch, 7)
    assert all(v <= 1e-4 for v in max_abs_diffs(expected, got).values())
    np.testing.assert_allclose(scores.sum(1), 1, atol=1e-5)
    listed = onnx_model.run([list(c) for c in clips])  # lists of frames: the same
    for a, b in zip(listed, (scores, weights, attention)):
        np.testing.assert_array_equal(a, b)


def test_inferencer_and_onnx_agree_when_the_meta_disagrees_with_the_config(
        onnx_model, model_and_checkpoint):
    """Same classes, sampling, frame size and probabilities from the PyTorch inferencer and the
    exported file, for a checkpoint whose meta (32x32, other names, start 10) is not its
    config's (64x64, DFEW names, start 15)."""
    from est_mm.apis.inference import ESTInferencer
    _, checkpoint = model_and_checkpoint
    with pytest.warns(UserWarning, match=r'frame size 32x32 \(config: 64x64\)'):
        inferencer = ESTInferencer(osp.join(ROOT, CONFIG), checkpoint, device='cpu')
    assert inferencer.classes == onnx_model.classes == CKPT_CLASSES
    assert inferencer.spec.sampling.to_dict() == onnx_model.sampling == CKPT_SAMPLING
    assert inferencer.spec.frame_size == onnx_model.frame_size == CKPT_SIZE
    frames = np.random.RandomState(0).randint(0, 256, (40, 48, 56, 3), dtype=np.uint8)
    (window, ) = inferencer(frames).windows
    inds = onnx_model.frame_indices(len(frames))
    assert inds.tolist() == window.frame_inds
    scores, weights, attention = onnx_model.run([[frames[i] for i in inds]])
    np.testing.assert_allclose(scores[0], window.scores, atol=1e-4)
    np.testing.assert_allclose(weights[0], window.frame_weights, atol=1e-4)
    np.testing.assert_allclose(attention[0], window.snippet_attention, atol=1e-4)
    onnx_backend = ESTInferencer(None, onnx_model.path, backend='onnxruntime')
    assert onnx_backend.classes == CKPT_CLASSES and onnx_backend.size == CKPT_SIZE[::-1]
    np.testing.assert_allclose(onnx_backend(frames).scores, window.scores, atol=1e-4)


def test_numpy_preprocessing_equals_the_config_test_pipeline(toy_root):
    """preprocess_clips (ONNX side) on the sampled frames == the config's test pipeline output
    (32 px toy frames resized to the toy config's 64 px)."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    cfg.test_dataloader.dataset.data_root = toy_root
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    spec = spec_from_config(cfg)
    for i in range(2):
        expected = dataset[i]['inputs'].numpy()  # uint8 [35, 3, 64, 64]
        frames = read_clip(dataset.get_data_info(i)['frame_dir'], spec.sampling)
        assert frames[0].shape[:2] == (32, 32)
        got = preprocess_clips([frames], spec.frame_size, spec.clip_len)[0]
        assert got.shape == expected.shape == (35, 3, 64, 64)
        np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_backend_runs_without_torch(onnx_model):
    """onnx_backend.py loaded on its own, with torch made unimportable: the whole model and the
    part graphs."""
    backend = osp.join(ROOT, 'est_mm', 'deploy', 'onnx_backend.py')
    code = (
        "import sys, importlib.util, numpy as np\n"
        "sys.modules['torch'] = None\n"
        f"spec = importlib.util.spec_from_file_location('b', {backend!r})\n"
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)\n"
        f"m = b.ONNXModel({onnx_model.path!r})\n"
        "p, w, a = m.run([[np.zeros((30, 30, 3), np.uint8)] * m.num_frames] * 2)\n"
        "print(m.classes[int(p[0].argmax())], p.shape, w.shape, a.shape)\n"
        "parts = m.parts()\n"
        "f = parts.frames([np.zeros((30, 30, 3), np.uint8)] * 5)\n"
        "R, w = parts.snippets(f[None])\n"
        "s, a = parts.window(np.repeat(R[None], 7, axis=1))\n"
        "print('parts', f.shape[0], R.shape[0], w.shape, s.shape, a.shape)\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '(2, 7) (2, 7, 5) (2, 7)' in proc.stdout
    assert 'parts 5 1 (1, 5) (7,) (7,)' in proc.stdout


def test_readme_snippet_runs_where_torch_cannot_be_imported(onnx_model, tmp_path):
    """The ONNX snippet of docs/deploy.md, exactly as written, with ``import est_mm.deploy`` and
    torch blocked (a sitecustomize that makes ``import torch`` fail)."""
    with open(osp.join(ROOT, 'docs', 'deploy.md'), encoding='utf-8') as f:
        guide = f.read()
    snippet = next(s for s in re.findall(r'```python\n(.*?)```', guide, re.S)
                   if 'from onnx_backend import ONNXModel' in s)
    # the guide: where est_mm is installed, est_mm.deploy gives the same class without torch
    snippet = snippet.replace('from onnx_backend import', 'from est_mm.deploy import')
    snippet = snippet.replace("'est_r18_dfew.onnx'", repr(onnx_model.path))
    (tmp_path / 'sitecustomize.py').write_text("import sys\nsys.modules['torch'] = None\n")
    setup = ("import numpy as np\n"
             "frames = list(np.random.RandomState(0).randint(0, 256, (50, 30, 30, 3), np.uint8))\n")
    check = "import sys\nassert sys.modules.get('torch') is None\nprint('no torch')\n"
    proc = subprocess.run([sys.executable, '-c', setup + snippet + check], cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{ROOT}'),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] in CKPT_CLASSES and 'no torch' in proc.stdout


def test_refuses_to_overwrite(exported, model_and_checkpoint):
    _, checkpoint = model_and_checkpoint
    out = exported[2]
    before = os.stat(out)
    rc, output = export_tool(CONFIG, checkpoint, '--out', out)
    assert rc == 1 and 'exists; pass --overwrite' in output
    after = os.stat(out)
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_gate_fails_on_a_tampered_model(exported, model_and_checkpoint, tmp_path):
    import onnx
    from onnx import numpy_helper
    _, checkpoint = model_and_checkpoint
    proto = onnx.load(exported[2])
    (init, ) = [i for i in proto.graph.initializer if i.name.endswith('classifier.5.bias')]
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + 0.5, init.name))
    tampered = str(tmp_path / 'tampered.onnx')
    onnx.save(proto, tampered)
    rc, output = export_tool(CONFIG, checkpoint, '--out', tampered, '--verify-only',
                             '--verify-clips', '1')
    assert rc == 1, output
    diffs = max_diff_line(output)
    assert diffs['logits'] > 0.4 and diffs['frame_weights'] <= 1e-4, output
    assert 'FAILED' in output


def test_max_abs_diffs_flags_nan_and_shape():
    ref = {k: np.zeros((2, 3), np.float32) for k in OUTPUTS}
    bad = dict(ref, scores=np.full((2, 3), np.nan, np.float32), logits=np.zeros((1, 3)))
    diffs = max_abs_diffs(ref, bad)
    assert diffs['scores'] == float('inf') and diffs['logits'] == float('inf')
    assert diffs['frame_weights'] == 0.0


# ---------------------------------------------------------------------------- streaming parts
FPS = 25.0


def _crops(num, seed):
    """Face-crop-like frames of another size than the model's (resized by the preprocessing)."""
    return random_clips(1, num, (40, 36), seed=seed, smooth=True)[0]


def _stream(engine, frames):
    records = []
    for i, frame in enumerate(frames):
        records += engine.push(i, i / FPS, frame if engine.needs(i) else None)
    return records + engine.finish()


@pytest.fixture(scope='module')
def inferencers(onnx_model, model_and_checkpoint):
    """The PyTorch and the ONNX Runtime inferencer of the same checkpoint, stride 10."""
    from est_mm.apis.inference import ESTInferencer
    _, checkpoint = model_and_checkpoint
    with pytest.warns(UserWarning, match='frame size 32x32'):
        torch_inf = ESTInferencer(osp.join(ROOT, CONFIG), checkpoint, device='cpu', stride=10)
    onnx_inf = ESTInferencer(None, onnx_model.path, backend='onnxruntime', stride=10)
    return dict(pytorch=torch_inf, onnxruntime=onnx_inf)


def test_onnx_streaming_matches_pytorch_streaming_and_the_whole_clip_model(
        inferencers, onnx_model):
    from est_mm.streaming import StreamingEST
    frames = _crops(135, seed=7)
    records = {b: _stream(StreamingEST.from_inferencer(inf), frames)
               for b, inf in inferencers.items()}
    ours, theirs = records['onnxruntime'], records['pytorch']
    assert [r.start for r in ours] == [r.start for r in theirs] == [0, 10, 20, 30]
    for a, b in zip(ours, theirs):
        assert a.frame_inds == b.frame_inds and a.label_name == b.label_name
        for key in ('scores', 'frame_weights', 'snippet_attention'):
            np.testing.assert_allclose(getattr(a, key), getattr(b, key), atol=1e-4, rtol=0)
        scores, weights, attention = onnx_model.run([[frames[j] for j in a.frame_inds]])
        np.testing.assert_allclose(a.scores, scores[0], atol=1e-4, rtol=0)
        np.testing.assert_allclose(a.frame_weights, weights[0], atol=1e-4, rtol=0)
        np.testing.assert_allclose(a.snippet_attention, attention[0], atol=1e-4, rtol=0)
    # the comparison can fail: windows differ from each other by far more than the tolerance
    assert np.abs(np.subtract(ours[0].scores, ours[-1].scores)).max() > 1e-3


def test_onnx_track_streams_with_tail_give_the_onnx_inferencers_windows(inferencers):
    """Two tracks through TrackStreams on ONNX Runtime, keep_tail: each track's windows are the
    ONNX inferencer's on that track (the grid, then its last window)."""
    from est_mm.streaming import TrackStreams
    inferencer = inferencers['onnxruntime']
    tracks = {1: _crops(127, seed=8), 2: _crops(60, seed=9)}  # a tail window; a short track
    streams = TrackStreams.from_inferencer(inferencer, keep_tail=True)
    records = []
    for i in range(127):
        records += streams.push(i, i / FPS, {t: f[i] for t, f in tracks.items() if i < len(f)})
        if i == 60:
            records += streams.end(2)
    records += streams.finish()
    for track, frames in tracks.items():
        expected = inferencer(frames, fps=FPS).windows
        got = [r for r in records if r.track == track]
        assert [(r.start, r.end) for r in got] == [(w.start, w.end) for w in expected]
        for r, w in zip(got, expected):
            assert r.frame_inds == w.frame_inds
            np.testing.assert_allclose(r.scores, w.scores, atol=1e-4, rtol=0)
            np.testing.assert_allclose(r.snippet_attention, w.snippet_attention, atol=1e-4,
                                       rtol=0)
    assert [(r.track, r.start) for r in records] == [(2, 0), (1, 0), (1, 10), (1, 20), (1, 22)]


def test_onnx_streaming_embeds_every_sampled_frame_once(inferencers):
    """With stride 10 the backbone part graph (our ONNXPart wrapper of the real session) sees
    each sampled frame once however many windows use it."""
    from est_mm.streaming import StreamingEST
    inferencer = inferencers['onnxruntime']
    frames = _crops(155, seed=10)
    engine = StreamingEST.from_inferencer(inferencer)
    backbone = engine.parts.backbone
    known = {engine.preprocess([f])[0].tobytes(): i for i, f in enumerate(frames)}
    assert len(known) == len(frames)
    seen, calls = [], []

    def run(x):
        calls.append(len(x))
        seen.extend(known[img.tobytes()] for img in x)
        return type(backbone).run(backbone, x)

    backbone.run = run
    try:
        records = _stream(engine, frames)
    finally:
        del backbone.run
    assert [r.start for r in records] == [0, 10, 20, 30, 40, 50]
    used = {j for r in records for j in r.frame_inds}
    assert len(used) == 35 + 5 * 5
    assert len(seen) == len(set(seen)) == engine.frames_embedded
    # also embedded: the snippets of later windows complete before the track ended (frame 154)
    rel = inferencer.spec.sampling.test_indices(105).reshape(7, 5)
    ahead = {j for s in range(60, 155, 10) for row in s + rel if row[-1] <= 154 for j in row}
    assert ahead - used and set(seen) == used | ahead
    assert set(calls) == {5}  # one batch per snippet, as its last frame arrives


def _link(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        os.symlink(src, dst)
    return str(dst)


def test_missing_or_mismatched_part_graphs_are_one_line(onnx_model, tmp_path):
    import onnx

    from est_mm.apis.inference import ESTInferencer
    from est_mm.streaming import TrackStreams
    main = _link(onnx_model.path, tmp_path / 'm.onnx')
    inferencer = ESTInferencer(None, main, backend='onnxruntime')  # fine without parts
    with pytest.raises(ValueError) as err:
        TrackStreams.from_inferencer(inferencer)
    message = str(err.value)
    assert '\n' not in message and message.startswith(f'{tmp_path}/m.backbone.onnx: no such file')
    assert 'm.snippet.onnx, m.head.onnx' in message
    assert f'export_onnx.py CONFIG CHECKPOINT --out {main} --overwrite' in message
    _link(part_path(onnx_model.path, 'backbone'), tmp_path / 'm.backbone.onnx')
    _link(part_path(onnx_model.path, 'head'), tmp_path / 'm.head.onnx')
    proto = onnx.load(part_path(onnx_model.path, 'snippet'))
    for what, key, value in (('classes', 'classes', '["a", "b"]'),
                             ('checkpoint', 'checkpoint_sha256', '0' * 64)):
        changed = onnx.ModelProto()
        changed.CopyFrom(proto)
        for prop in changed.metadata_props:
            if prop.key == key:
                prop.value = value
        onnx.save(changed, str(tmp_path / 'm.snippet.onnx'))
        with pytest.raises(ValueError) as err:
            ESTInferencer(None, main, backend='onnxruntime').onnx.parts()
        message = str(err.value)
        assert '\n' not in message, message
        assert message.startswith(f'{tmp_path}/m.snippet.onnx: does not match {main} ({what} '
                                  'differ); re-export with python tools/deployment/export_onnx.py')
    (tmp_path / 'm.snippet.onnx').unlink()
    _link(part_path(onnx_model.path, 'head'), tmp_path / 'm.snippet.onnx')  # the wrong part
    with pytest.raises(ValueError, match=r"m.snippet.onnx: not the snippet part graph .*'head'"):
        ESTInferencer(None, main, backend='onnxruntime').onnx.parts()
    with pytest.raises(ValueError, match=r'the backbone part graph of an export, not a whole'):
        ONNXModel(str(tmp_path / 'm.backbone.onnx'))


def test_verify_only_checks_the_parts_and_fails_on_a_tampered_one(
        exported, model_and_checkpoint, tmp_path):
    import onnx
    from onnx import numpy_helper
    _, checkpoint = model_and_checkpoint
    main = _link(exported[2], tmp_path / 'v.onnx')
    for part in ('backbone', 'snippet'):
        _link(part_path(exported[2], part), part_path(main, part))
    proto = onnx.load(part_path(exported[2], 'head'))
    (init, ) = [i for i in proto.graph.initializer if i.name.endswith('classifier.5.bias')]
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + 0.5, init.name))
    onnx.save(proto, part_path(main, 'head'))
    rc, output = export_tool(CONFIG, checkpoint, '--out', main, '--verify-only',
                             '--verify-clips', '1')
    assert rc == 1 and 'and its parts: FAILED verification' in output, output
    assert max_diff_line(output)['logits'] <= 1e-4  # the whole graph is fine
    (line, ) = [ln for ln in output.splitlines() if ln.startswith('parts chained')]
    diffs = {k: float(v) for k, v in re.findall(r'(\w+) ([0-9.e+-]+|inf)', line) if k in OUTPUTS}
    assert diffs['logits'] > 0.4 and diffs['frame_weights'] <= 1e-4, output


def test_no_parts_export_refuses_then_removes_stale_part_files(model_and_checkpoint, tmp_path):
    from est_mm.deploy.onnx_export import ExportSettings, export_and_verify
    from est_mm.utils.files import OutputExistsError
    _, checkpoint = model_and_checkpoint
    out = str(tmp_path / 'n.onnx')
    stale = part_path(out, 'head')
    with open(stale, 'w') as f:
        f.write('an older export')
    lines = []
    with pytest.raises(OutputExistsError) as err:
        export_and_verify(CONFIG, checkpoint, ExportSettings(out=out, parts=False), lines.append)
    assert str(err.value) == f'{stale} exists' and lines == []
    result = export_and_verify(CONFIG, checkpoint, ExportSettings(
        out=out, parts=False, overwrite=True, verify_clips=1), lines.append)
    assert result.passed and result.written == [out] and result.removed == [stale], lines
    assert sorted(os.listdir(tmp_path)) == ['n.onnx']


def test_the_tool_says_what_stopped_the_export_in_one_line(model_and_checkpoint, tmp_path):
    _, checkpoint = model_and_checkpoint
    rc, output = export_tool(CONFIG, checkpoint, '--out', str(tmp_path / 'v.onnx'),
                             '--verify-only')
    assert rc == 1 and output.strip() == f'{tmp_path / "v.onnx"}: no such file to verify'
