"""Fine-tuning from a checkpoint trained on other classes (``load_from``): only the final
classifier layer is touched, and one line says how.

* the same class names in another order: its rows are re-mapped by name;
* other or partly shared classes: the rows of shared names are kept, the others keep the fresh
  initialisation of the config's model;
* a checkpoint that names no classes: re-initialised when its shape differs, else loaded as is.

Names match as :func:`~est_mm.datasets.fer_video_dataset.class_mapping` matches them (any
case, the usual synonyms: ``happiness`` = ``Happy``). Everything else, the SSOP branch
included, loads as it is. :class:`ClassMappingHook` applies it to the Runner's checkpoint before
mmengine loads it into the model.
"""
from typing import List, Mapping, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from mmaction.registry import HOOKS
from ..datasets.fer_video_dataset import class_mapping
from ..inference_spec import checkpoint_fields


def checkpoint_classes(checkpoint: Mapping) -> Optional[List[str]]:
    """The class names a checkpoint was trained on (``meta['est']`` or ``meta['dataset_meta']``,
    as ESTMetaHook and the official converter write them), or None."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    return checkpoint_fields(meta if isinstance(meta, Mapping) else None).get('classes')


def final_layer(model) -> Optional[str]:
    """State-dict prefix of the model's final classifier layer (``cls_head.classifier.<last>``
    of an ESTHead, ``cls_head.fc_cls`` of mmaction2's heads), or None."""
    head = getattr(model, 'cls_head', None)
    classifier = getattr(head, 'classifier', None)
    if isinstance(classifier, torch.nn.Sequential):
        linear = [name for name, m in classifier.named_children()
                  if isinstance(m, torch.nn.Linear)]
        return f'cls_head.classifier.{linear[-1]}' if linear else None
    if isinstance(getattr(head, 'fc_cls', None), torch.nn.Linear):
        return 'cls_head.fc_cls'
    return None


def _names(classes: Sequence[str]) -> str:
    return f'[{", ".join(classes)}]'


def _rows(source: Optional[Sequence[str]], target: Sequence[str]) -> Optional[List[Optional[int]]]:
    """For each config class, the checkpoint row holding it (None: no counterpart); None when
    the checkpoint names no classes."""
    if not source:
        return None
    return class_mapping(target, source, owner='load_from')


def _describe(layer: str, source, target, rows, ckpt_rows: int) -> Optional[str]:
    """The one line for mapping checkpoint classes ``source`` onto ``target``, or None when
    the layer loads as it is."""
    if rows is None:
        if ckpt_rows == len(target):
            return None
        return (f'{layer} (final classifier layer) re-initialised: the checkpoint names no '
                f'classes and has {ckpt_rows} outputs, the config {len(target)} '
                f'{_names(target)}; everything else loaded as it is')
    if rows == list(range(len(target))) and len(source) == len(target):
        return None
    if None not in rows and len(source) == len(target):
        return (f'{layer} (final classifier layer) re-mapped row by row by class name: '
                f'checkpoint {_names(source)} -> config {_names(target)}; everything else '
                f'loaded as it is')
    kept = [name for name, row in zip(target, rows) if row is not None]
    fresh = [name for name, row in zip(target, rows) if row is None]
    keep = (f'kept the rows of {", ".join(kept)}, initialised {", ".join(fresh)}' if kept
            else 'no class in common')
    return (f'{layer} (final classifier layer) re-initialised for the config\'s classes '
            f'{_names(target)} (checkpoint: {_names(source)}): {keep}; everything else loaded '
            f'as it is')


def _key(state: Mapping, name: str) -> Optional[str]:
    for key in (name, f'module.{name}'):
        if key in state:
            return key
    return None


def map_final_layer(checkpoint: dict, model, classes: Sequence[str]) -> Optional[str]:
    """Rewrite ``checkpoint['state_dict']``'s final classifier layer for a model whose classes
    are ``classes`` (see the module docstring); rows with no counterpart take the model's
    current values. Returns the one line saying what was done, or None (nothing to do)."""
    layer = final_layer(model)
    state = checkpoint.get('state_dict', checkpoint)
    weight_key = _key(state, f'{layer}.weight') if layer else None
    if weight_key is None or not classes:
        return None
    own = model.state_dict()
    source = checkpoint_classes(checkpoint)
    ckpt_rows = state[weight_key].shape[0]
    if source is not None and len(source) != ckpt_rows:
        source = None  # names that do not describe the layer: trust its shape only
    rows = _rows(source, list(classes))
    line = _describe(layer, source, list(classes), rows, ckpt_rows)
    if line is None:
        return None
    for part in ('weight', 'bias'):
        key = _key(state, f'{layer}.{part}')
        if key is None:
            continue
        new = own[f'{layer}.{part}'].detach().clone()
        for target_row, source_row in enumerate(rows or []):
            if source_row is not None:
                new[target_row] = state[key][source_row].to(new.dtype)
        state[key] = new
    return line


@HOOKS.register_module()
class ClassMappingHook(Hook):
    """Before a training run loads ``load_from``: :func:`map_final_layer` onto the training
    set's classes, and its line in the log. Test runs are left alone (``tools/test.py``
    checks the checkpoint's classes itself)."""

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = getattr(runner, '_train_loop', None)
        if not isinstance(loop, BaseLoop):
            return
        classes = (getattr(loop.dataloader.dataset, 'metainfo', None) or {}).get('classes')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        line = map_final_layer(checkpoint, model, list(classes or ()))
        if line is not None:
            print_log(f'load_from {runner.cfg.get("load_from")}: {line}', logger='current')
