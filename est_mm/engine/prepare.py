"""Config + checkpoint -> model in eval mode and its :class:`~est_mm.inference_spec.InferenceSpec`:
the one path of the inferencer, the ONNX exporter, ``tools/test.py`` and the analysis tools."""
from typing import Dict, Mapping, Optional, Tuple

from mmaction.registry import MODELS
from mmaction.utils import register_all_modules

from .. import datasets, models  # noqa: F401  (registers est_mm's datasets and models)
from ..inference_spec import apply_spec, checkpoint_fields, resolve_spec
from ..utils.classes_file import apply_classes_files
from ..utils.errors import first_line
from ..utils.safe_checkpoint import CheckpointError, safe_load_checkpoint


def _state_dict(checkpoint: Mapping) -> dict:
    """The state dict of an mmengine checkpoint (or a bare one), ``module.`` prefixes removed."""
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping):
        return {}
    return {(k[len('module.'):] if isinstance(k, str) and k.startswith('module.') else k): v
            for k, v in state.items()}


def _shapes(state: Mapping) -> Dict[str, Tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items() if hasattr(v, 'shape')}


def prepare_model(cfg, checkpoint: Optional[str], *, config: Optional[str] = None,
                  overrides: Optional[Mapping] = None, classes_must_match: bool = False,
                  build: bool = True):
    """Config + checkpoint -> ``(model in eval mode on the CPU or None, spec, cfg)``.

    Reads ``checkpoint`` with torch's safe loading (:class:`~est_mm.utils.CheckpointError`, one
    line naming it), resolves the spec (:func:`~est_mm.inference_spec.resolve_spec`: :class:`~est_mm.inference_spec.SpecMismatchError` when
    they do not fit, parameter shapes included), writes it into ``cfg`` (:func:`apply_spec`),
    builds the model from the result and loads the weights. ``checkpoint=None``: random
    weights and the config's spec. ``build=False`` still builds a model to compare shapes, but
    returns None for it (``tools/test.py``, whose Runner builds its own)."""
    register_all_modules()
    config = config or getattr(cfg, 'filename', None) or 'the config'
    _fill_num_classes(cfg, checkpoint)
    try:
        model = MODELS.build(cfg.model)
    except Exception as err:  # noqa: BLE001 - one line naming the config
        raise ValueError(f'{config}: cannot build its model: {type(err).__name__}: '
                         f'{first_line(err)}') from None
    if checkpoint is None:
        spec = resolve_spec(cfg, None, config=config, overrides=overrides)
        apply_spec(cfg, spec)
        _use_spec_preprocessor(model, cfg)
        return (model.eval() if build else None), spec, cfg
    ckpt = safe_load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(ckpt, Mapping):
        raise CheckpointError(checkpoint, f'not a checkpoint dict ({type(ckpt).__name__})')
    state = _state_dict(ckpt)
    spec = resolve_spec(cfg, ckpt.get('meta'), config=config, checkpoint=str(checkpoint),
                        model_shapes=_shapes(model.state_dict()),
                        checkpoint_shapes=_shapes(state), overrides=overrides,
                        classes_must_match=classes_must_match)
    apply_spec(cfg, spec)
    if not build:
        return None, spec, cfg
    _use_spec_preprocessor(model, cfg)
    model.load_state_dict(state, strict=False)  # differences were checked above
    return model.eval(), spec, cfg


def _fill_num_classes(cfg, checkpoint: Optional[str]) -> None:
    """A head with ``num_classes=None`` (a config whose ``classes_file`` gives the classes):
    the number from that file where it is there, else from the checkpoint's class names."""
    apply_classes_files(cfg, missing_ok=True)
    head = (cfg.get('model') or {}).get('cls_head')
    if not isinstance(head, Mapping) or head.get('num_classes') is not None or not checkpoint:
        return
    meta = safe_load_checkpoint(checkpoint, map_location='cpu')
    classes = checkpoint_fields(meta.get('meta') if isinstance(meta, Mapping) else None)
    if classes.get('classes'):
        head['num_classes'] = len(classes['classes'])


def _use_spec_preprocessor(model, cfg) -> None:
    """Rebuilds ``model``'s data preprocessor from ``cfg`` (after :func:`apply_spec`)."""
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor')
    if isinstance(preprocessor, Mapping) and hasattr(model, 'data_preprocessor'):
        model.data_preprocessor = MODELS.build(dict(preprocessor))
