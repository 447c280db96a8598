from .checkpoint import torchvision_resnet_state_dict
from .files import (OutputExistsError, latest_checkpoint, refuse_existing, remove_checkpoints,
                    work_dir_checkpoints)
from .runner import build_runner, cfg_options_argument, launcher_arguments
from .safe_checkpoint import (CheckpointError, UnsafeCheckpointError, atomic_torch_save,
                              check_checkpoint, describe_load_error, safe_load_checkpoint)

__all__ = [
    'build_runner', 'cfg_options_argument', 'launcher_arguments', 'torchvision_resnet_state_dict',
    'CheckpointError', 'UnsafeCheckpointError', 'atomic_torch_save', 'check_checkpoint',
    'describe_load_error',
    'safe_load_checkpoint', 'OutputExistsError', 'latest_checkpoint', 'refuse_existing',
    'remove_checkpoints', 'work_dir_checkpoints'
]
