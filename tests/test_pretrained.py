"""A torchvision-layout (face-)pretrained ResNet checkpoint reaches every backbone weight."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torchvision
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.utils import torchvision_resnet_state_dict
from mmaction.registry import MODELS
from mmaction.utils import register_all_modules
from helpers.checkpoints import tv_to_mmaction
from helpers.cli import one_line, run

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
register_all_modules()


@pytest.fixture
def face_checkpoint(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(num_classes=8)  # e.g. FER+ head with 8 classes
    for m in tv.modules():  # make running stats non-trivial
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    wrapped = {'epoch': 40, 'state_dict': {'module.' + k: v for k, v in tv.state_dict().items()}}
    path = tmp_path / 'resnet18_ferplus.pth.tar'
    torch.save(wrapped, path)
    return path, tv.state_dict()


def test_converter_then_config_loads_every_weight(face_checkpoint, tmp_path):
    src, reference = face_checkpoint
    dst = tmp_path / 'resnet18_face_tv.pth'
    out = subprocess.run([sys.executable, 'tools/convert/resnet_checkpoint.py', str(src), str(dst)],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cfg = Config.fromfile(osp.join(ROOT, 'configs/est_r18_dfew.py'))
    cfg.model.backbone.pretrained = str(dst)
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone.state_dict()
    expected = {k: v for k, v in reference.items() if not k.startswith('fc.')}
    for name, value in expected.items():
        assert torch.equal(backbone[tv_to_mmaction(name)], value), name
    params = {k for k, _ in model.backbone.named_parameters()}
    assert params <= {tv_to_mmaction(k) for k in expected}  # every backbone parameter was covered


def test_converter_refuses_non_resnet_and_existing_output(tmp_path):
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'linear.weight': torch.ones(2, 2)}}, bad)
    with pytest.raises(ValueError, match='does not look like a torchvision-layout ResNet'):
        torchvision_resnet_state_dict(torch.load(bad), str(bad))
    dst = tmp_path / 'exists.pth'
    dst.write_bytes(b'keep me')
    out = subprocess.run([sys.executable, 'tools/convert/resnet_checkpoint.py', str(bad), str(dst)],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and 'exists' in out.stderr
    assert dst.read_bytes() == b'keep me'


# --- the ResNet converter on an empty file ---------------------------------------------------

def test_resnet_converter_empty_file_is_one_line(tmp_path):
    empty = tmp_path / 'resnet18_face.pth'
    empty.write_bytes(b'')
    rc, _, err = run('tools/convert/resnet_checkpoint.py', str(empty), str(tmp_path / 'out.pth'),
                     timeout=120)
    assert rc == 1
    assert one_line(err) == f'{empty}: empty file (0 bytes), not a checkpoint'
    assert not (tmp_path / 'out.pth').exists()
