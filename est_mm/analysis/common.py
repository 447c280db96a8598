"""Shared helpers of the analysis tools: configs, models, datasets and the machine description."""
import os
import platform
from typing import Optional, Sequence, Tuple

import torch
from mmengine.config import Config

import est_mm  # noqa: F401  (registers est_mm's components)
from mmaction.utils import register_all_modules


def load_config(config, cfg_options: Optional[dict] = None) -> Config:
    """Config file (or Config) with ``--cfg-options`` merged."""
    register_all_modules()
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_model(cfg: Config, checkpoint: Optional[str] = None, device: str = 'cpu'):
    """The config's model in eval mode, with ``checkpoint`` loaded (torch's safe loading) if
    given; returns (model, checkpoint meta dict)."""
    from mmengine.runner import load_checkpoint

    from mmaction.registry import MODELS
    register_all_modules()
    model = MODELS.build(cfg.model)
    meta = {}
    if checkpoint is not None:
        meta = load_checkpoint(model, checkpoint, map_location='cpu',
                               logger='silent').get('meta', {}) or {}
    return model.to(device).eval(), meta


def pipeline_step(pipeline: Sequence[dict], type_name: str) -> Optional[dict]:
    """The first step of ``pipeline`` of type ``type_name`` (a copy), or None."""
    for step in pipeline:
        if step.get('type') == type_name:
            return dict(step)
    return None


def frame_size(cfg: Config) -> Tuple[int, int]:
    """(H, W) of the frames the config's test pipeline feeds the model (its Resize scale);
    224×224 if it has none."""
    resize = pipeline_step(cfg.test_dataloader.dataset.pipeline, 'Resize')
    if resize is None or not isinstance(resize.get('scale'), (tuple, list)):
        return 224, 224
    w, h = resize['scale']
    return int(h), int(w)


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
