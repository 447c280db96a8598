"""Store in every checkpoint what inference needs besides the weights, so a checkpoint alone says
how it must be fed: ``checkpoint['meta']['est']``."""
import inspect
from typing import Optional, Sequence

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmaction.registry import HOOKS, TRANSFORMS

META_KEY = 'est'


def _plain(obj):
    """Builtins only (dict/list/tuple/str/int/float/bool/None), so torch's safe loading reads it."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, 'tolist'):
        return obj.tolist()
    return str(obj)


def _step(pipeline: Optional[Sequence], type_name: str) -> Optional[dict]:
    for step in pipeline or []:
        if isinstance(step, dict) and step.get('type') == type_name:
            return dict(step)
    return None


def full_transform_cfg(step: Optional[dict]) -> Optional[dict]:
    """``step`` with every argument its transform's ``__init__`` takes filled in (defaults), so
    the stored sampling does not depend on a later version's defaults. Plain builtins."""
    if step is None:
        return None
    step = dict(step)
    cls = TRANSFORMS.get(step['type']) if isinstance(step.get('type'), str) else None
    if cls is not None:
        try:
            params = inspect.signature(cls.__init__).parameters
        except (TypeError, ValueError):
            params = {}
        for name, param in params.items():
            if name != 'self' and param.default is not inspect.Parameter.empty and \
                    param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                step.setdefault(name, param.default)
    return _plain(step)


def est_checkpoint_meta(cfg, classes: Optional[Sequence[str]] = None) -> dict:
    """``dict(test_sampling, frame_size, classes, data_preprocessor)`` from a config: the test
    pipeline's ``SnippetSampling`` (``test_mode=True``; taken from the val or train pipeline if the
    config has no test loader), its ``Resize`` scale as (w, h), the class names and the model's
    data preprocessor (mean/std/format). Plain builtins only; the sampling has every argument
    filled in (:func:`full_transform_cfg`)."""
    pipelines = []
    for split in ('test', 'val', 'train'):
        loader = cfg.get(f'{split}_dataloader')
        if loader and loader.get('dataset') is not None:
            dataset = loader['dataset']
            while 'pipeline' not in dataset and isinstance(dataset.get('dataset'), dict):
                dataset = dataset['dataset']  # wrappers (RepeatDataset, ...)
            pipelines.append(dataset.get('pipeline'))
    sampling = resize = None
    for pipeline in pipelines:
        sampling = sampling or _step(pipeline, 'SnippetSampling')
        resize = resize or _step(pipeline, 'Resize')
    if sampling is not None:
        sampling = full_transform_cfg(dict(sampling, test_mode=True))
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor')
    scale = resize.get('scale') if resize else None
    return _plain(dict(
        test_sampling=sampling,
        frame_size=list(scale) if isinstance(scale, (list, tuple)) else scale,
        classes=list(classes) if classes is not None else None,
        data_preprocessor=dict(preprocessor) if preprocessor else None))


@HOOKS.register_module()
class ESTMetaHook(Hook):
    """Adds ``checkpoint['meta']['est'] = est_checkpoint_meta(runner.cfg, classes)`` before every
    checkpoint is saved (classes from the training set's ``dataset_meta``). The SSOP permutations
    are already in the state dict (``cls_head.ssop.permutations``). ``ESTInferencer`` prefers
    these values over its config's and warns where they disagree."""

    priority = 'LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.setdefault('meta', {})
        classes = (meta.get('dataset_meta') or {}).get('classes')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        info = est_checkpoint_meta(runner.cfg, classes)
        preprocessor = getattr(model, 'data_preprocessor', None)
        if info['data_preprocessor'] is not None and preprocessor is not None:
            for key in ('mean', 'std'):  # the values really used (buffers), not just the config
                value = getattr(preprocessor, key, None)
                if value is not None and hasattr(value, 'flatten'):
                    info['data_preprocessor'][key] = value.flatten().tolist()
        meta[META_KEY] = info
