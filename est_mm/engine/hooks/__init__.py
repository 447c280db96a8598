from .checkpoint_hook import SafeCheckpointHook
from .epoch_seed_hook import EpochSeedHook
from .est_meta_hook import ESTMetaHook, est_checkpoint_meta

__all__ = ['ESTMetaHook', 'EpochSeedHook', 'SafeCheckpointHook', 'est_checkpoint_meta']
