"""est_mm.utils.devices: a --device this machine lacks names the devices it has, in one line."""
import pytest
import torch

from est_mm.utils.devices import available_devices, resolve_device
from helpers.cli import TOY_CONFIG, one_line, run


def test_missing_device_names_the_devices_here():
    here = ', '.join(available_devices())
    assert available_devices()[0] == 'cpu'
    assert resolve_device('cpu') == torch.device('cpu')
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ValueError) as err:
        resolve_device(f'cuda:{count}')
    assert str(err.value).startswith(f'--device cuda:{count}: this machine has ')
    assert str(err.value).endswith(f'(devices here: {here})')
    with pytest.raises(ValueError, match=r'^--device vulkan: this machine has no vulkan device '):
        resolve_device('vulkan')
    with pytest.raises(ValueError, match=r'^--device gpu0: not a device name \(devices here: '):
        resolve_device('gpu0')


@pytest.mark.skipif(torch.backends.mps.is_available(), reason='this machine has mps')
def test_analysis_tool_device_mps_is_one_line():
    rc, _, err = run('tools/analysis/complexity.py', TOY_CONFIG, '--device', 'mps')
    assert rc == 1
    assert one_line(err) == ('--device mps: this machine has no mps device (devices here: '
                             f'{", ".join(available_devices())})')
