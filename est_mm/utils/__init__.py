"""Checkpoint, config, device and work-dir helpers. Names are imported on first use (PEP 562), so importing one
(e.g. ``est_mm.compat`` using :mod:`.safe_checkpoint`) does not import the others. The Runner
helpers of the tools are in :mod:`est_mm.engine.runner`."""
import importlib

_WHERE = {
    'torchvision_resnet_state_dict': 'checkpoint',
    'available_devices': 'devices', 'resolve_device': 'devices',
    'ConfigError': 'config', 'load_config': 'config', 'read_config': 'config',
    'merge_cfg_options': 'config',
    'OutputExistsError': 'files', 'check_writable_dir': 'files', 'latest_checkpoint': 'files',
    'refuse_existing': 'files', 'remove_checkpoints': 'files', 'work_dir_checkpoints': 'files',
    'CheckpointError': 'safe_checkpoint', 'CheckpointSaveError': 'safe_checkpoint',
    'UnsafeCheckpointError': 'safe_checkpoint', 'atomic_torch_save': 'safe_checkpoint',
    'check_checkpoint': 'safe_checkpoint', 'describe_load_error': 'safe_checkpoint',
    'safe_load_checkpoint': 'safe_checkpoint',
}

__all__ = list(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'.{_WHERE[name]}', __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
