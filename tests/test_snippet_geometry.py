"""The snippet geometry: one torch-free implementation (est_mm/snippet_geometry.py) that the
transform, inference, ONNX and the timeline use, and one declaration per config
(configs/_base_/snippet.py) that the samplers, the neck and the head all agree with."""
import glob
import inspect
import os.path as osp
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config, DictAction

import est_mm  # noqa: F401  (registers the transforms and models)
from est_mm.apis.visualize import snippet_spans
from est_mm.datasets.transforms import SnippetGeometry, SnippetSampling
from mmaction.registry import MODELS, TRANSFORMS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODULE = osp.join(ROOT, 'est_mm', 'snippet_geometry.py')
CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                                          recursive=True)
                 if '_base_' not in p)
LENGTHS = (1, 2, 3, 16, 104, 105, 106, 500)
CUSTOM = dict(num_snippets=4, frames_per_snippet=3, snippet_len=8, snippet_stride=8,
              unified_len=40, max_start=8, test_start=4, test_offsets=(0, 2, 4))
register_all_modules()


# ---------------------------------------------------------------- the reference (old code)
def old_unified(s: SimpleNamespace, test_mode: bool) -> np.ndarray:
    """SnippetSampling.unified_indices before the geometry module existed."""
    window_starts = np.arange(s.num_snippets) * s.snippet_stride
    if test_mode:
        start = s.test_start
        offsets = np.broadcast_to(np.asarray(s.test_offsets),
                                  (s.num_snippets, s.frames_per_snippet))
    else:
        start = np.random.randint(0, s.max_start + 1)
        offsets = np.stack([
            np.sort(np.random.choice(s.snippet_len, s.frames_per_snippet, replace=False))
            for _ in range(s.num_snippets)
        ])
    return start + window_starts[:, None] + offsets


def old_to_original(s: SimpleNamespace, unified, total: int) -> np.ndarray:
    inds = (np.asarray(unified, dtype=np.int64) * total) // s.unified_len
    return np.minimum(inds, total - 1)


def old_snippet_spans(window, num_snippets=7, snippet_len=15, stride=10, start=15,
                      unified_len=105):
    """visualize.snippet_spans before the geometry module existed."""
    length = window.end - window.start
    spans = []
    for i in range(num_snippets):
        a = start + i * stride
        lo = window.start + (a * length) // unified_len
        hi = window.start + max(((a + snippet_len) * length) // unified_len, lo - window.start + 1)
        spans.append((lo, min(hi, window.end)))
    return spans


def settings(**kw) -> SimpleNamespace:
    return SimpleNamespace(**SnippetGeometry(**kw).to_dict())


# ---------------------------------------------------------------- unit tests of the geometry
@pytest.mark.parametrize('kw', [{}, CUSTOM])
def test_test_indices_equal_the_transform_in_test_mode(kw):
    g, t = SnippetGeometry(**kw), SnippetSampling(test_mode=True, **kw)
    for total in LENGTHS:
        expected = t(dict(total_frames=total))['frame_inds']
        got = g.test_indices(total)
        assert got.dtype == np.int64 and got.shape == (g.clip_len, )
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(
            got, old_to_original(settings(**kw), old_unified(settings(**kw), True).ravel(), total))


def test_test_unified_is_the_official_grid():
    expected = [[w + o for o in (0, 3, 6, 9, 12)] for w in range(15, 76, 10)]
    assert SnippetGeometry().test_unified().tolist() == expected


@pytest.mark.parametrize('kw', [{}, CUSTOM])
def test_train_draws_are_the_old_ones_from_the_same_global_stream(kw):
    g, s = SnippetGeometry(**kw), settings(**kw)
    for seed in range(5):
        np.random.seed(seed)
        new = [g.train_unified() for _ in range(50)]
        after_new = np.random.random()
        np.random.seed(seed)
        old = [old_unified(s, False) for _ in range(50)]
        after_old = np.random.random()
        for a, b in zip(new, old):
            np.testing.assert_array_equal(a, b)
        assert after_new == after_old  # the stream was consumed identically


def test_train_draws_of_the_transform_are_the_old_ones():
    t, s = SnippetSampling(), settings()
    for total in LENGTHS:
        np.random.seed(total)
        got = t(dict(total_frames=total))['frame_inds']
        np.random.seed(total)
        np.testing.assert_array_equal(got, old_to_original(s, old_unified(s, False).ravel(), total))


def test_train_draw_with_a_random_state_matches_the_global_stream():
    g = SnippetGeometry()
    np.random.seed(3)
    a = g.train_unified()
    b = g.train_unified(np.random.RandomState(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('kw', [{}, CUSTOM])
def test_spans_equal_the_old_formula(kw):
    g = SnippetGeometry(**kw)
    old_kw = dict(num_snippets=g.num_snippets, snippet_len=g.snippet_len,
                  stride=g.snippet_stride, start=g.test_start, unified_len=g.unified_len)
    for total in LENGTHS + tuple(range(1, 230)):
        for start in (0, 37):
            window = SimpleNamespace(start=start, end=start + total)
            expected = old_snippet_spans(window, **old_kw)
            assert snippet_spans(window, g) == expected
            assert snippet_spans(window, SnippetSampling(**kw)) == expected
            assert [(start + a, start + b) for a, b in g.test_spans(total).tolist()] == expected
    if not kw:
        window = SimpleNamespace(start=5, end=300)
        assert snippet_spans(window) == old_snippet_spans(window)


def test_spans_cover_the_test_indices_of_videos_not_shorter_than_unified_len():
    """(Shorter videos: the span's end is floor((a + snippet_len) * T / unified_len), exclusive,
    which can miss the window's last sampled frame, e.g. T = 16; kept as the plot always had it.)"""
    g = SnippetGeometry()
    for total in (105, 106, 211, 500, 1000):
        inds = g.test_indices(total).reshape(g.num_snippets, g.frames_per_snippet)
        for (a, b), row in zip(g.test_spans(total), inds):
            assert a <= row.min() and row.max() < b <= total


@pytest.mark.parametrize('total', [0, -3])
def test_no_frames_is_an_error(total):
    g = SnippetGeometry()
    for call in (g.test_indices, g.test_spans, lambda n: g.to_original([0], n)):
        with pytest.raises(ValueError, match='need at least 1 frame'):
            call(total)


@pytest.mark.parametrize('kwargs, message', [
    (dict(frames_per_snippet=16), 'frames_per_snippet'),
    (dict(max_start=31), r'max_start \(31\) \+ span of 7 windows \(75\) = 106 exceeds'),
    (dict(test_start=31), 'test_start'),
    (dict(unified_len=80), 'unified_len'),
    (dict(test_offsets=(0, 3, 6, 9, 15)), 'must lie in'),
    (dict(test_offsets=(0, 3, 6, 9)), 'must have'),
    (dict(test_offsets=(0, 6, 3, 9, 12)), 'strictly increasing'),
    (dict(num_snippets=0), 'num_snippets must be an integer >= 1, got 0'),
    (dict(num_snippets=7.0), 'num_snippets must be an integer'),
    (dict(max_start=True), 'max_start must be an integer'),
])
def test_geometry_and_transform_reject_the_same_arguments(kwargs, message):
    for build in (SnippetGeometry, SnippetSampling):
        with pytest.raises(ValueError, match='^SnippetSampling: .*' + message):
            build(**kwargs)


def test_geometry_is_frozen_and_normalises_its_fields():
    g = SnippetGeometry(num_snippets=np.int64(7), test_offsets=[0, 3, 6, 9, 12])
    assert g == SnippetGeometry() and hash(g) == hash(SnippetGeometry())
    assert type(g.num_snippets) is int and g.test_offsets == (0, 3, 6, 9, 12)
    assert g.clip_len == 35 and g.span == 75
    with pytest.raises(AttributeError):
        g.num_snippets = 5


def test_from_dict_ignores_type_and_test_mode():
    g = SnippetGeometry.from_dict(dict(type='SnippetSampling', test_mode=True, **CUSTOM))
    assert g == SnippetGeometry(**CUSTOM)
    assert SnippetGeometry.from_dict(g.to_dict()) == g
    assert g.to_dict()['test_offsets'] == [0, 2, 4]
    with pytest.raises(TypeError, match="unknown keys \\['clip_len'\\]"):
        SnippetGeometry.from_dict(dict(clip_len=35))


def test_transform_is_a_view_of_its_geometry():
    t = TRANSFORMS.build(dict(type='SnippetSampling', **CUSTOM))
    assert t.geometry == SnippetGeometry(**CUSTOM)
    for name in SnippetGeometry.field_names():
        assert getattr(t, name) == getattr(t.geometry, name)
    assert t.clip_len == 12 and t.test_mode is False
    assert repr(t) == ('SnippetSampling(num_snippets=4, frames_per_snippet=3, snippet_len=8, '
                       'snippet_stride=8, unified_len=40, max_start=8, test_start=4, '
                       'test_offsets=(0, 2, 4), test_mode=False)')


def test_module_imports_without_torch():
    """snippet_geometry.py loaded by path with torch, mmcv and mmengine made unimportable."""
    code = (
        "import sys, importlib.util\n"
        "for name in ('torch', 'mmcv', 'mmengine', 'mmaction'):\n"
        "    sys.modules[name] = None\n"
        f"spec = importlib.util.spec_from_file_location('snippet_geometry', {MODULE!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "g = m.SnippetGeometry()\n"
        "print(g.test_indices(105).tolist()[:3], g.test_spans(105).tolist()[0],"
        " g.train_unified().shape)\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '[15, 18, 21] [15, 30] (7, 5)' in proc.stdout


def test_module_source_imports_nothing_but_the_standard_library_and_numpy():
    with open(MODULE, encoding='utf-8') as f:
        imports = re.findall(r'^\s*(?:from|import)\s+([\w.]+)', f.read(), re.M)
    assert set(imports) <= {'dataclasses', 'typing', 'numpy'}, imports


# ---------------------------------------------------------------- configs agree
def _default(registry_type: str, arg: str):
    return inspect.signature(MODELS.get(registry_type).__init__).parameters[arg].default


def snippet_disagreements(cfg) -> list:
    """Where the config's samplers, neck and head do not all use one snippet geometry (its
    ``snippet`` variable). Values the model dicts leave out are the classes' defaults."""
    reference = SnippetGeometry.from_dict(cfg.snippet)
    problems = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if not cfg.get(loader):
            continue
        steps = [s for s in cfg[loader].dataset.pipeline if s['type'] == 'SnippetSampling']
        if len(steps) != 1:
            problems.append(f'{loader}: {len(steps)} SnippetSampling steps')
            continue
        sampler = TRANSFORMS.build(dict(steps[0]))
        if sampler.geometry != reference:
            problems.append(f'{loader}: {sampler.geometry} != snippet {reference}')
        if sampler.test_mode != (loader != 'train_dataloader'):
            problems.append(f'{loader}: test_mode={sampler.test_mode}')
    neck, head = cfg.model.neck, cfg.model.cls_head
    for where, spec, arg, expected in (
            ('neck', neck, 'num_snippets', reference.num_snippets),
            ('neck', neck, 'frames_per_snippet', reference.frames_per_snippet),
            ('cls_head', head, 'num_snippets', reference.num_snippets)):
        value = spec.get(arg, _default(spec.type, arg))
        if value != expected:
            problems.append(f'model.{where}.{arg}={value}, snippet says {expected}')
    return problems


def test_every_runnable_config_is_checked():
    assert len(CONFIGS) >= 17
    assert {'configs/est_r18_toy.py', 'configs/analysis/est_r18_dfew_missing10.py',
            'configs/analysis/est_r18_bu3dfe_missing10.py',
            'configs/ablation/transformer-baseline_r18_dfew.py'} <= set(CONFIGS)


@pytest.mark.parametrize('path', CONFIGS)
def test_samplers_neck_and_head_agree_with_the_declared_geometry(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert snippet_disagreements(cfg) == []
    assert SnippetGeometry.from_dict(cfg.snippet) == SnippetGeometry()  # the paper's


@pytest.mark.parametrize('change, expected', [
    (lambda c: c.model.cls_head.update(num_snippets=5), 'model.cls_head.num_snippets=5'),
    (lambda c: c.model.neck.pop('frames_per_snippet'), None),  # AASFE's default is 5
    (lambda c: c.model.neck.update(frames_per_snippet=4), 'model.neck.frames_per_snippet=4'),
    (lambda c: c.test_dataloader.dataset.pipeline[1].update(test_start=10), 'test_dataloader'),
    (lambda c: c.train_dataloader.dataset.pipeline[1].update(max_start=20), 'train_dataloader'),
    (lambda c: c.train_dataloader.dataset.pipeline[1].update(test_mode=True), 'test_mode=True'),
    (lambda c: c.test_dataloader.dataset.pipeline.pop(1), '0 SnippetSampling steps'),
    (lambda c: c.snippet.update(num_snippets=6), 'snippet says 6'),
])
def test_the_check_catches_a_disagreement(change, expected):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/est_r18_dfew.py'))
    change(cfg)
    problems = snippet_disagreements(cfg)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def _documented_child_config() -> str:
    """The example child config in the comment of configs/_base_/snippet.py."""
    with open(osp.join(ROOT, 'configs', '_base_', 'snippet.py'), encoding='utf-8') as f:
        text = f.read()
    block = text[text.index('#   _base_ = '):text.index('\n# (configs/*_val.py')]
    return '\n'.join(line[4:] for line in block.splitlines())


def test_the_documented_child_config_changes_the_geometry_everywhere(tmp_path):
    child = tmp_path / 'configs' / 'analysis' / 'est_r18_dfew_5x4.py'
    child.parent.mkdir(parents=True)
    code = _documented_child_config().replace(
        "'../est_r18_dfew.py'", repr(osp.join(ROOT, 'configs', 'est_r18_dfew.py')))
    child.write_text(code)
    cfg = Config.fromfile(str(child))
    assert snippet_disagreements(cfg) == []
    geometry = SnippetGeometry.from_dict(cfg.snippet)
    assert (geometry.num_snippets, geometry.frames_per_snippet) == (5, 4)
    model = MODELS.build(cfg.model)
    assert model.neck.num_frames == geometry.clip_len == 20
    assert model.cls_head.num_snippets == 5 and model.cls_head.ssop.permutations.shape[1] == 5
    sampler = TRANSFORMS.build(dict(cfg.test_dataloader.dataset.pipeline[1]))
    assert sampler(dict(total_frames=50))['frame_inds'].shape == (20, )


def test_the_documented_cfg_options_change_the_geometry_everywhere():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'est_r18_dfew.py'))
    with open(osp.join(ROOT, 'configs', '_base_', 'snippet.py'), encoding='utf-8') as f:
        text = f.read()
    block = text[text.index('name every copy, e.g.\n'):text.index('\nsnippet = dict(')]
    options = dict(o.split('=') for o in ' '.join(block.splitlines()[1:]).replace('#', '').split())
    assert len(options) == 5
    cfg.merge_from_dict({k: DictAction._parse_iterable(v) for k, v in options.items()})
    cfg.snippet.num_snippets = 5  # what the options amount to
    assert snippet_disagreements(cfg) == []
    assert MODELS.build(cfg.model).cls_head.num_snippets == 5


@pytest.mark.parametrize('layout', ['repo', 'copied side by side', 'copied alone'])
def test_onnx_backend_finds_the_geometry_without_torch(tmp_path, layout):
    """onnx_backend.py loaded on its own takes snippet_geometry.py from its folder or parent."""
    import shutil
    backend = osp.join(ROOT, 'est_mm', 'deploy', 'onnx_backend.py')
    if layout != 'repo':
        backend = shutil.copy(backend, tmp_path)
        if layout == 'copied side by side':
            shutil.copy(MODULE, tmp_path)
    code = (
        "import sys, importlib.util\n"
        "sys.modules['torch'] = None\n"
        f"spec = importlib.util.spec_from_file_location('b', {backend!r})\n"
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)\n"
        "print(b.SnippetGeometry().test_indices(105).tolist()[-1])\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120)
    if layout == 'copied alone':
        assert proc.returncode == 1 and 'needs snippet_geometry.py' in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ['87']
