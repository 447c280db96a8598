"""Bring third-party ResNet checkpoints (e.g. face-pretrained ResNet-18 from MS-Celeb / FER+) into
the plain torchvision layout that mmaction2's ResNet reads with ``torchvision_pretrain=True``."""
import re
from collections import OrderedDict
from typing import Dict

import torch

_WRAPPER_KEYS = ('state_dict', 'model', 'model_state_dict', 'net')
_PREFIXES = ('module.', 'backbone.', 'model.', 'encoder.', 'features.')
_RESNET_KEY = re.compile(r'^(conv1\.weight|bn1\.\w+|layer[1-4]\.\d+\.(conv\d|bn\d|downsample\.[01])'
                         r'\.\w+)$')


def torchvision_resnet_state_dict(checkpoint, source: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """Unwraps ``state_dict``-style containers, strips DataParallel/backbone prefixes and drops the
    classifier (``fc.*``). Raises ValueError naming ``source`` if no ResNet weights are found."""
    state = checkpoint
    while isinstance(state, dict):
        inner = next((state[k] for k in _WRAPPER_KEYS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict):
        raise ValueError(f'{source}: no state dict found (got {type(state).__name__})')
    out = OrderedDict()
    for key, value in state.items():
        if not torch.is_tensor(value):
            continue
        name = key
        stripped = True
        while stripped:
            stripped = False
            for prefix in _PREFIXES:
                if name.startswith(prefix):
                    name, stripped = name[len(prefix):], True
        if _RESNET_KEY.match(name):
            out[name] = value
    if 'conv1.weight' not in out or not any(k.startswith('layer4.') for k in out):
        raise ValueError(f'{source}: does not look like a torchvision-layout ResNet '
                         f'(no conv1.weight / layer4.* among {len(state)} keys)')
    return out


def convert_resnet_file(src: str, dst: str, overwrite: bool = False) -> str:
    """tools/convert/resnet_checkpoint.py: reads ``src`` with
    :func:`~.safe_checkpoint.safe_load_checkpoint` (torch's safe loading), writes its
    torchvision-layout ResNet state dict to ``dst`` atomically and returns the one-line summary.
    Refusals raise ValueError (FileExistsError for an existing ``dst`` without
    ``overwrite``) with one line naming the file; nothing is written then."""
    import os.path as osp

    from .files import atomic_write
    from .safe_checkpoint import CheckpointError, safe_load_checkpoint
    if osp.exists(dst) and not overwrite:
        raise FileExistsError(f'{dst} exists; pass --overwrite to replace it')
    try:  # missing, empty, truncated, unsafe, ONNX: one line naming src
        checkpoint = safe_load_checkpoint(src, map_location='cpu')
    except CheckpointError as err:
        raise ValueError(str(err)) from err
    state = torchvision_resnet_state_dict(checkpoint, src)
    with atomic_write(dst) as tmp:
        torch.save(state, tmp)
    return (f'{dst}: {len(state)} tensors '
            f'({sum(v.numel() for v in state.values()) / 1e6:.2f} M values)')
