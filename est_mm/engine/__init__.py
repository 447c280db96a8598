"""Training-loop hooks (registered into mmaction2's HOOKS on import): checkpoint metadata for
inference, per-epoch reseeding for exact resume, and checkpoint rotation that never deletes the
last complete checkpoint before its successor is written. ``import est_mm`` imports this module;
``configs/_base_/default_runtime.py`` enables all three."""
from .hooks import ESTMetaHook, EpochSeedHook, SafeCheckpointHook, est_checkpoint_meta

__all__ = ['ESTMetaHook', 'EpochSeedHook', 'SafeCheckpointHook', 'est_checkpoint_meta']
