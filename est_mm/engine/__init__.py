"""Training-loop hooks (registered into mmaction2's HOOKS on import): checkpoint metadata for
inference, per-epoch reseeding for exact resume, and checkpoint rotation that never deletes the
last complete checkpoint before its successor is written. ``configs/_base_/default_runtime.py``
imports this module (``custom_imports``) and enables all three."""
from .hooks import ESTMetaHook, EpochSeedHook, SafeCheckpointHook, est_checkpoint_meta

__all__ = ['ESTMetaHook', 'EpochSeedHook', 'SafeCheckpointHook', 'est_checkpoint_meta']
