"""What a trained EST needs besides its weights to be fed correctly, resolved in one place.

:class:`InferenceSpec` holds the class names, the frame size, the test-time snippet sampling and
the normalisation, each with where it came from (``sources``: ``'config'``, ``'checkpoint'``,
``'option'`` or ``'default'``). :func:`resolve_spec` makes it from a config and a checkpoint's
meta: the checkpoint's values win (``notes`` say where the config differs), and every difference
that makes the checkpoint unusable with the config (class count, snippets per clip, parameter
shapes) is collected into one :class:`SpecMismatchError` line. :func:`est_mm.engine.prepare.prepare_model`
builds on it: the one "config + checkpoint -> model, spec" path of the inferencer, the ONNX
exporter, ``tools/test.py`` and the analysis tools.

Stored forms: ``checkpoint['meta']['est']`` (:meth:`InferenceSpec.to_checkpoint_meta`, written by
``ESTMetaHook``) and the ONNX file's metadata (:meth:`InferenceSpec.to_onnx_metadata`: each field
of :meth:`InferenceSpec.to_dict` as JSON, read by ``est_mm/deploy/onnx_backend.py``).

This module imports no torch, mmengine or mmaction at import time; the functions that read
configs, registries or state dicts import them when called.
"""
import json
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .snippet_geometry import SnippetGeometry

__all__ = ['InferenceSpec', 'SpecMismatchError', 'META_KEY', 'pipeline_step', 'spec_from_config',
           'resolve_spec', 'apply_spec', 'state_dict_problems']

META_KEY = 'est'  # checkpoint['meta'][META_KEY]
FIELDS = ('classes', 'frame_size', 'sampling', 'mean', 'std', 'to_rgb', 'layout')
#: state-dict keys of branches that only run in training; a checkpoint may lack or add them
TRAINING_ONLY_PREFIXES = ('cls_head.ssop.', )


class SpecMismatchError(ValueError):
    """A checkpoint that does not fit its config: one line saying what differs and what to do."""


def pipeline_step(pipeline: Optional[Sequence], type_name: str) -> Optional[dict]:
    """The first step of ``pipeline`` whose ``type`` is ``type_name`` (a copy), or None."""
    for step in pipeline or []:
        if isinstance(step, Mapping) and step.get('type') == type_name:
            return dict(step)
    return None


def _size_text(hw) -> str:
    return f'{hw[0]}x{hw[1]}' if hw else 'unchanged'


@dataclass(frozen=True)
class InferenceSpec:
    """How frames must be fed to a trained model.

    Args:
        classes: class names, index = output column.
        sampling: the test-time snippet sampling.
        frame_size: ``(H, W)`` frames are resized to; None keeps their size.
        mean, std: per-channel normalisation ``(x - mean) / std`` of RGB 0-255 frames.
        to_rgb: the data preprocessor swaps channels first (BGR -> RGB).
        layout: the data preprocessor's ``format_shape`` (``'NCHW'``: clips
            ``[N, T, 3, H, W]``).
        sources: field -> where its value came from.
        notes: where the checkpoint's value replaced a different config value.
    """
    classes: Tuple[str, ...]
    sampling: SnippetGeometry
    frame_size: Optional[Tuple[int, int]] = None
    mean: Tuple[float, ...] = (0.0, 0.0, 0.0)
    std: Tuple[float, ...] = (1.0, 1.0, 1.0)
    to_rgb: bool = False
    layout: str = 'NCHW'
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    notes: Tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, 'classes', tuple(str(c) for c in self.classes))
        if not isinstance(self.sampling, SnippetGeometry):
            set_(self, 'sampling', SnippetGeometry.from_dict(self.sampling))
        if self.frame_size is not None:
            size = tuple(int(v) for v in self.frame_size)
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f'frame_size must be (H, W) >= 1, got {self.frame_size!r}')
            set_(self, 'frame_size', size)
        set_(self, 'mean', tuple(float(v) for v in self.mean))
        set_(self, 'std', tuple(float(v) for v in self.std))
        if len(self.mean) != len(self.std) or not all(self.std):
            raise ValueError(f'mean {self.mean} and std {self.std} need one non-zero std per '
                             'mean')
        set_(self, 'to_rgb', bool(self.to_rgb))
        set_(self, 'sources', dict(self.sources))
        set_(self, 'notes', tuple(self.notes))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def clip_len(self) -> int:
        """Frames per clip, ``T``."""
        return self.sampling.clip_len

    # ------------------------------------------------------------------ plain forms
    def to_dict(self) -> dict:
        """JSON-able: ``frame_size`` as ``[H, W]``, ``sampling`` as SnippetGeometry fields."""
        return dict(classes=list(self.classes),
                    frame_size=list(self.frame_size) if self.frame_size else None,
                    sampling=self.sampling.to_dict(), mean=list(self.mean), std=list(self.std),
                    to_rgb=self.to_rgb, layout=self.layout, sources=dict(self.sources))

    @classmethod
    def from_dict(cls, d: Mapping) -> 'InferenceSpec':
        unknown = sorted(set(d) - set(FIELDS) - {'sources', 'notes'})
        if unknown:
            raise ValueError(f'InferenceSpec: unknown keys {unknown}')
        return cls(**{k: v for k, v in d.items() if v is not None or k == 'frame_size'})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> 'InferenceSpec':
        return cls.from_dict(json.loads(text))

    def to_onnx_metadata(self) -> Dict[str, str]:
        """ONNX ``metadata_props``: each field of :meth:`to_dict` as a JSON string."""
        return {k: json.dumps(v) for k, v in self.to_dict().items()}

    def to_checkpoint_meta(self) -> dict:
        """``checkpoint['meta']['est']``: ``classes``, ``frame_size`` as the Resize scale
        ``[w, h]``, ``test_sampling`` (a full ``SnippetSampling`` step) and
        ``data_preprocessor`` (mean, std, to_rgb, format_shape). Builtins only."""
        return dict(
            classes=list(self.classes),
            frame_size=[self.frame_size[1], self.frame_size[0]] if self.frame_size else None,
            test_sampling=dict(type='SnippetSampling', **self.sampling.to_dict(),
                               test_mode=True),
            data_preprocessor=dict(type='ActionDataPreprocessor', mean=list(self.mean),
                                   std=list(self.std), to_rgb=self.to_rgb,
                                   format_shape=self.layout))

    def summary(self) -> str:
        """One line: classes, frame size, clip length, normalisation."""
        return (f'{self.num_classes} classes ({", ".join(self.classes)}), frames '
                f'{_size_text(self.frame_size)}, {self.clip_len} frames per clip '
                f'(test start {self.sampling.test_start}, offsets '
                f'{list(self.sampling.test_offsets)}), mean {list(self.mean)}, std '
                f'{list(self.std)}')


# ---------------------------------------------------------------------------- reading sources
def _split_dataset(cfg, splits=('test', 'val', 'train')) -> Optional[Mapping]:
    """The dataset dict of the first of ``splits`` whose dataloader has one, unwrapped
    (RepeatDataset, ...) down to the dict that holds the pipeline."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        dataset = loader.get('dataset') if loader else None
        while isinstance(dataset, Mapping) and 'pipeline' not in dataset \
                and isinstance(dataset.get('dataset'), Mapping):
            dataset = dataset['dataset']
        if isinstance(dataset, Mapping):
            return dataset
    return None


def _test_pipeline(cfg) -> Optional[list]:
    dataset = _split_dataset(cfg)
    return list(dataset['pipeline']) if dataset and dataset.get('pipeline') else None


def _config_classes(cfg) -> Optional[List[str]]:
    """The test dataset's class names: its ``target_classes``, ``metainfo.classes`` or its
    class's ``METAINFO`` (the registry is imported for the last)."""
    dataset = _split_dataset(cfg)
    if not dataset:
        return None
    if dataset.get('target_classes'):
        return [str(c) for c in dataset['target_classes']]
    metainfo = dataset.get('metainfo') or {}
    if metainfo.get('classes'):
        return [str(c) for c in metainfo['classes']]
    type_name = dataset.get('type')
    if not isinstance(type_name, str):
        return None
    from mmaction.registry import DATASETS  # est_mm's datasets: registered by est_mm/__init__
    try:
        dataset_cls = DATASETS.get(type_name)
    except Exception:  # noqa: BLE001 - an unknown type: the build will say so
        return None
    classes = (getattr(dataset_cls, 'METAINFO', None) or {}).get('classes')
    return [str(c) for c in classes] if classes else None


def _config_num_classes(cfg) -> Optional[int]:
    head = (cfg.get('model') or {}).get('cls_head') or {}
    value = head.get('num_classes')
    return int(value) if value is not None else None


def _fixed_resize(pipeline) -> Optional[Tuple[int, int]]:
    """(H, W) of a pipeline's fixed-size Resize (``keep_ratio=False``), else None."""
    resize = pipeline_step(pipeline, 'Resize')
    if not resize or resize.get('keep_ratio', True):
        return None
    scale = resize.get('scale')
    if not isinstance(scale, (tuple, list)) or len(scale) != 2 or min(scale) <= 0:
        return None
    return int(scale[1]), int(scale[0])  # mmcv scale is (w, h)


def config_fields(cfg) -> dict:
    """Every spec field the config defines (classes may be None, frame_size None without a
    fixed-size Resize); raises ValueError without a SnippetSampling step."""
    pipeline = _test_pipeline(cfg)
    sampling = pipeline_step(pipeline, 'SnippetSampling')
    if sampling is None:
        raise ValueError("the config's test pipeline has no SnippetSampling step")
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor') or {}
    mean, std = preprocessor.get('mean'), preprocessor.get('std')
    if mean is None or std is None:  # ActionDataPreprocessor without normalisation
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return dict(classes=_config_classes(cfg), frame_size=_fixed_resize(pipeline),
                sampling=SnippetGeometry.from_dict(sampling), mean=tuple(mean), std=tuple(std),
                to_rgb=bool(preprocessor.get('to_rgb', False)),
                layout=preprocessor.get('format_shape', 'NCHW'))


def checkpoint_fields(meta: Optional[Mapping]) -> dict:
    """The spec fields a checkpoint's meta defines (``meta['est']``, written by ESTMetaHook;
    class names also from ``meta['dataset_meta']``); absent fields are left out."""
    meta = meta or {}
    est = meta.get(META_KEY) or {}
    out = {}
    classes = est.get('classes') or (meta.get('dataset_meta') or {}).get('classes')
    if classes:
        out['classes'] = [str(c) for c in classes]
    scale = est.get('frame_size')
    if isinstance(scale, (list, tuple)) and len(scale) == 2:
        out['frame_size'] = (int(scale[1]), int(scale[0]))
    if est.get('test_sampling'):
        out['sampling'] = SnippetGeometry.from_dict(est['test_sampling'])
    stored = est.get('data_preprocessor') or {}
    if stored.get('mean') is not None and stored.get('std') is not None:
        out['mean'], out['std'] = tuple(stored['mean']), tuple(stored['std'])
    for key, name in (('to_rgb', 'to_rgb'), ('format_shape', 'layout')):
        if stored.get(key) is not None:
            out[name] = stored[key]
    return out


def spec_from_config(cfg, classes: Optional[Sequence[str]] = None) -> InferenceSpec:
    """The spec a config alone gives (``classes`` replaces the config's names); class names
    '0'..'K-1' when the config names none or a different number than its model has."""
    fields = config_fields(cfg)
    sources = {k: 'config' for k in FIELDS}
    if classes is not None:
        fields['classes'] = list(classes)
    num = _config_num_classes(cfg)
    if not fields['classes'] or (num is not None and len(fields['classes']) != num):
        fields['classes'] = [str(i) for i in range(num or 0)]
        sources['classes'] = 'default'
    return InferenceSpec(**fields, sources=sources)


def _fmt(name, value) -> str:
    if name == 'frame_size':
        return _size_text(value)
    if name == 'sampling':
        return (f'{value.num_snippets}x{value.frames_per_snippet} frames, start '
                f'{value.test_start}, offsets {list(value.test_offsets)}, unified '
                f'{value.unified_len}')
    if name == 'classes':
        return f'[{", ".join(value)}]'
    return str(list(value) if isinstance(value, tuple) else value)


def _shapes_text(problems: List[str], limit: int = 3) -> str:
    more = f' (+{len(problems) - limit} more)' if len(problems) > limit else ''
    return '; '.join(problems[:limit]) + more


def state_dict_problems(model_shapes: Mapping[str, Sequence[int]],
                        checkpoint_shapes: Mapping[str, Sequence[int]]) -> List[str]:
    """Parameter differences between the config's model and the checkpoint, one string each
    (keys under :data:`TRAINING_ONLY_PREFIXES` may be missing or extra)."""
    def needed(key):
        return not key.startswith(TRAINING_ONLY_PREFIXES)

    problems = []
    for key, shape in model_shapes.items():
        if key in checkpoint_shapes and tuple(checkpoint_shapes[key]) != tuple(shape):
            problems.append(f'{key} {list(checkpoint_shapes[key])} in the checkpoint vs '
                            f'{list(shape)} in the config')
    missing = [k for k in model_shapes if k not in checkpoint_shapes and needed(k)]
    extra = [k for k in checkpoint_shapes if k not in model_shapes and needed(k)]
    if missing:
        problems.append(f'{len(missing)} parameters missing from the checkpoint '
                        f'({", ".join(missing[:2])}{", ..." if len(missing) > 2 else ""})')
    if extra:
        problems.append(f'{len(extra)} checkpoint parameters not in the config\'s model '
                        f'({", ".join(extra[:2])}{", ..." if len(extra) > 2 else ""})')
    return problems


def resolve_spec(cfg, meta: Optional[Mapping] = None, *, config: str = 'the config',
                 checkpoint: str = 'the checkpoint',
                 model_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                 checkpoint_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                 overrides: Optional[Mapping] = None,
                 classes_must_match: bool = False) -> InferenceSpec:
    """The spec for ``checkpoint`` (its ``meta``) run with ``cfg``: the checkpoint's values
    where it has them, else the config's; ``overrides`` (e.g. a command-line frame size)
    win over both. Raises :class:`SpecMismatchError`, one line naming both files, when the
    checkpoint cannot work with the config's model: another number of classes, other snippets
    per clip, other parameter shapes (given ``model_shapes`` / ``checkpoint_shapes``), or, with
    ``classes_must_match`` (evaluation on the config's labels), other class names."""
    from_config = spec_from_config(cfg)
    from_ckpt = checkpoint_fields(meta)
    fields, sources, notes, problems = {}, {}, [], []
    config_classes_named = from_config.sources['classes'] == 'config'
    for name in FIELDS:
        ours = getattr(from_config, name)
        if name in from_ckpt:
            theirs = from_ckpt[name]
            theirs_cmp = theirs if name != 'classes' else tuple(theirs)
            if name == 'sampling' and theirs_cmp is not None and \
                    (theirs.num_snippets, theirs.frames_per_snippet) != \
                    (ours.num_snippets, ours.frames_per_snippet):
                problems.append(f'{theirs.num_snippets} snippets x {theirs.frames_per_snippet} '
                                f'frames per clip in the checkpoint vs {ours.num_snippets} x '
                                f'{ours.frames_per_snippet} in the config')
            elif name == 'classes' and ours and len(theirs) != len(ours):
                problems.append(f'{len(theirs)} classes in the checkpoint ({", ".join(theirs)})'
                                f' vs {len(ours)} in the config ({", ".join(ours)})')
            elif theirs_cmp != (tuple(ours) if isinstance(ours, (list, tuple)) else ours) and \
                    (name != 'classes' or config_classes_named):
                if name == 'classes' and classes_must_match:
                    problems.append(f'classes [{", ".join(theirs)}] in the checkpoint vs '
                                    f'[{", ".join(ours)}] in the config (labels are indices)')
                notes.append(f'{name.replace("_", " ")} {_fmt(name, theirs)} '
                             f'(config: {_fmt(name, ours)})')
            fields[name], sources[name] = theirs, 'checkpoint'
        else:
            fields[name], sources[name] = ours, from_config.sources[name]
    for name, value in (overrides or {}).items():
        if value is not None:
            fields[name], sources[name] = value, 'option'
    if model_shapes is not None and checkpoint_shapes is not None:
        shape_problems = state_dict_problems(model_shapes, checkpoint_shapes)
        if shape_problems:
            problems.append('parameter shapes differ: ' + _shapes_text(shape_problems))
    if problems:
        raise SpecMismatchError(
            f'{checkpoint} does not fit {config}: {"; ".join(problems)}. Use the config the '
            'checkpoint was trained with (or one whose model, classes and snippets match it)')
    return InferenceSpec(**fields, sources=sources, notes=tuple(notes))


# ---------------------------------------------------------------------------- applying a spec
def apply_spec(cfg, spec: InferenceSpec):
    """Writes ``spec`` into ``cfg`` (in place, returned): the test pipeline's SnippetSampling and
    Resize (one is added after the decoding step if the pipeline has none) and the model's data
    preprocessor. Then the config's own test pipeline and model run as the spec says."""
    dataset = _split_dataset(cfg, ('test', ))
    if dataset is not None and dataset.get('pipeline') is not None:
        pipeline = [dict(s) for s in dataset['pipeline']]
        has_resize = False
        for step in pipeline:
            if step.get('type') == 'SnippetSampling':
                step.update(spec.sampling.to_dict(), test_mode=True)
            elif step.get('type') == 'Resize' and spec.frame_size:
                step.update(scale=(spec.frame_size[1], spec.frame_size[0]), keep_ratio=False)
                has_resize = True
        if spec.frame_size and not has_resize:
            at = next((i + 1 for i, s in enumerate(pipeline)
                       if str(s.get('type', '')).endswith('Decode')), None)
            if at is not None:
                pipeline.insert(at, dict(type='Resize', keep_ratio=False,
                                         scale=(spec.frame_size[1], spec.frame_size[0])))
        dataset['pipeline'] = pipeline
    model = cfg.get('model')
    if isinstance(model, Mapping) and isinstance(model.get('data_preprocessor'), Mapping):
        model['data_preprocessor'].update(mean=list(spec.mean), std=list(spec.std),
                                          to_rgb=spec.to_rgb)
    return cfg
