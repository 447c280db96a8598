from .checkpoint_hook import SafeCheckpointHook
from .damaged_frame_hook import DamagedFrameHook
from .epoch_seed_hook import EpochSeedHook
from .est_meta_hook import ESTMetaHook, est_checkpoint_meta
from .fer_report_hook import FERReportHook

__all__ = ['DamagedFrameHook', 'ESTMetaHook', 'EpochSeedHook', 'FERReportHook',
           'SafeCheckpointHook', 'est_checkpoint_meta']
