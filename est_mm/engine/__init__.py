"""Training-loop hooks (registered into mmaction2's HOOKS on import): checkpoint metadata for
inference, per-epoch reseeding for exact resume, checkpoint rotation that never deletes the last
complete checkpoint before its successor is written, the writer of the confusion-matrix files,
the collector of damaged-frame reports, and the re-mapping of the final classifier layer
when ``load_from`` was trained on other classes. ``import est_mm`` imports this module;
``configs/_base_/default_runtime.py`` enables all six. Also :class:`ESTRunner` (RUNNERS), the Runner
with which mmaction2's own tools resolve a config's ``classes_file`` as est_mm's tools do."""
from .class_mapping import ClassMappingHook
from .est_runner import ESTRunner
from .hooks import ESTMetaHook, EpochSeedHook, FERReportHook, SafeCheckpointHook, est_checkpoint_meta

__all__ = ['ClassMappingHook', 'ESTMetaHook', 'ESTRunner', 'EpochSeedHook', 'FERReportHook',
           'SafeCheckpointHook', 'est_checkpoint_meta']
