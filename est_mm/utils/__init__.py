from .checkpoint import torchvision_resnet_state_dict
from .runner import build_runner, cfg_options_argument, launcher_arguments

__all__ = [
    'build_runner', 'cfg_options_argument', 'launcher_arguments', 'torchvision_resnet_state_dict'
]
