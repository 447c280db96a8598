"""Training-loop hooks (registered into mmaction2's HOOKS on import): checkpoint metadata for
inference, per-epoch reseeding for exact resume, checkpoint rotation that never deletes the last
complete checkpoint before its successor is written, the writer of the confusion-matrix files
and the collector of damaged-frame reports. ``import est_mm`` imports this module;
``configs/_base_/default_runtime.py`` enables all five."""
from .hooks import ESTMetaHook, EpochSeedHook, FERReportHook, SafeCheckpointHook, est_checkpoint_meta

__all__ = ['ESTMetaHook', 'EpochSeedHook', 'FERReportHook', 'SafeCheckpointHook',
           'est_checkpoint_meta']
