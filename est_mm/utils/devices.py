"""``--device`` names checked against the devices this machine has, in one line."""
from typing import List, Optional

import torch

_CHECKS = {  # device type -> (is it usable here, how many)
    'cuda': (lambda: torch.cuda.is_available(), lambda: torch.cuda.device_count()),
    'mps': (lambda: torch.backends.mps.is_available(), lambda: 1),
    'xpu': (lambda: hasattr(torch, 'xpu') and torch.xpu.is_available(),
            lambda: torch.xpu.device_count()),
}


def available_devices() -> List[str]:
    """The devices PyTorch can use here: ``['cpu']`` plus ``cuda:0`` ... and the like."""
    found = ['cpu']
    for kind, (usable, count) in _CHECKS.items():
        if usable():
            n = count()
            found += [kind] if kind == 'mps' else [f'{kind}:{i}' for i in range(n)]
    return found


def resolve_device(device: Optional[str], option: str = '--device') -> torch.device:
    """``device`` as a :class:`torch.device` (None: ``cuda`` if there is one, else ``cpu``);
    ValueError with one line naming ``option`` and the devices this machine has when it lacks
    ``device`` or the name is not a device."""
    if device is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    here = ', '.join(available_devices())
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f'{option} {device}: not a device name (devices here: {here})') \
            from None
    if dev.type == 'cpu':
        return dev
    usable, count = _CHECKS.get(dev.type, (lambda: False, lambda: 0))
    if not usable():
        raise ValueError(f'{option} {device}: this machine has no {dev.type} device (devices '
                         f'here: {here})')
    if dev.index is not None and dev.index >= count():
        raise ValueError(f'{option} {device}: this machine has {count()} {dev.type} '
                         f'device(s) (devices here: {here})')
    return dev
