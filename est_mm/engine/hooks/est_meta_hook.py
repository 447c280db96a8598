"""Store in every checkpoint what inference needs besides the weights, so a checkpoint alone says
how it must be fed: ``checkpoint['meta']['est']``, the :class:`~est_mm.inference_spec.InferenceSpec`
of the training config in its checkpoint form."""
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmaction.registry import HOOKS
from ...inference_spec import META_KEY, spec_from_config


def est_checkpoint_meta(cfg, classes: Optional[Sequence[str]] = None, model=None) -> dict:
    """``checkpoint['meta']['est']`` for a model trained with ``cfg`` (``classes`` replace the
    config's names; ``model``'s data-preprocessor buffers replace the configured mean/std)."""
    spec = spec_from_config(cfg, classes)
    preprocessor = getattr(model, 'data_preprocessor', None) if model is not None else None
    values = {k: getattr(preprocessor, k, None) for k in ('mean', 'std')}
    if all(hasattr(v, 'flatten') for v in values.values()):  # the values really used
        from dataclasses import replace
        spec = replace(spec, **{k: v.flatten().tolist() for k, v in values.items()})
    return spec.to_checkpoint_meta()


@HOOKS.register_module()
class ESTMetaHook(Hook):
    """Adds ``checkpoint['meta']['est']`` (:func:`est_checkpoint_meta`, classes from the
    training set's ``dataset_meta``) before every checkpoint is saved; nothing for a config
    without a SnippetSampling step. The SSOP permutations are
    already in the state dict. :func:`est_mm.inference_spec.resolve_spec` prefers these values
    over a config's."""

    priority = 'LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.setdefault('meta', {})
        classes = (meta.get('dataset_meta') or {}).get('classes')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        try:
            meta[META_KEY] = est_checkpoint_meta(runner.cfg, classes, model)
        except ValueError:  # not an EST config (no SnippetSampling): nothing to store
            pass
