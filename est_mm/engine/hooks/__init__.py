from .checkpoint_hook import SafeCheckpointHook
from .epoch_seed_hook import EpochSeedHook
from .est_meta_hook import ESTMetaHook, est_checkpoint_meta
from .fer_report_hook import FERReportHook

__all__ = ['ESTMetaHook', 'EpochSeedHook', 'FERReportHook', 'SafeCheckpointHook',
           'est_checkpoint_meta']
