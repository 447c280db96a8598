"""Shared helpers of the analysis tools: configs, models, datasets and the machine description."""
import os
import platform
from typing import Optional

import torch
from mmengine.config import Config

import est_mm  # noqa: F401  (registers est_mm's components)
from mmaction.utils import register_all_modules


def load_config(config, cfg_options: Optional[dict] = None) -> Config:
    """Config file (or Config) with ``--cfg-options`` merged."""
    from ..utils.config import load_config as read, merge_cfg_options
    register_all_modules()
    if isinstance(config, Config):
        return merge_cfg_options(config, cfg_options)
    return read(config, cfg_options)


def build_model(cfg: Config, checkpoint: Optional[str] = None, device: str = 'cpu',
                classes_must_match: bool = True):
    """The config's model in eval mode with ``checkpoint`` loaded, and its
    :class:`~est_mm.inference_spec.InferenceSpec` (written into ``cfg``'s test pipeline);
    :class:`~est_mm.inference_spec.SpecMismatchError` (one line) when they do not fit, including
    class names other than the config's (the dataset's labels are indices into them).
    Without a checkpoint: the model with random weights and None."""
    if checkpoint is None:
        from mmaction.registry import MODELS
        return MODELS.build(cfg.model).to(device).eval(), None
    from ..engine.prepare import prepare_model
    model, spec, _ = prepare_model(cfg, checkpoint, classes_must_match=classes_must_match)
    return model.to(device).eval(), spec


def frames_per_clip(model) -> int:
    """Frames one clip gives the model: the neck's ``num_frames`` (35 for EST)."""
    neck = getattr(model, 'neck', None)
    return int(getattr(neck, 'num_frames', 35))


def machine_info() -> dict:
    """CPU model, core count, torch version and, if present, the GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(cpu=cpu, cores=os.cpu_count(), torch_threads=torch.get_num_threads(),
                torch=torch.__version__, python=platform.python_version())
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    if hasattr(os, 'getloadavg'):
        info['load_avg_1min'] = round(os.getloadavg()[0], 2)
    return info


def machine_line(info: dict) -> str:
    gpu = f", GPU {info['gpu']}" if info.get('gpu') else ', no GPU'
    load = (f"; load average {info['load_avg_1min']:.2f} when measured (other processes)"
            if info.get('load_avg_1min') is not None else '')
    return (f"machine: {info['cpu']}, {info['cores']} cores (torch threads "
            f"{info['torch_threads']}){gpu}; torch {info['torch']}, Python {info['python']}"
            f"{load}")
