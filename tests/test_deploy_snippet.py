"""The torch-free ONNX snippet of the deployment guide, run as written: in a folder holding only the
files its prose says to copy and an exported model, by an interpreter that cannot import torch,
mmengine, mmaction, mmcv or est_mm."""
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.deploy import ONNXModel
from est_mm.deploy.onnx_export import ExportSettings, export_and_verify
from mmaction.registry import MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'
MARKER = '<!-- torch-free snippet -->'
BLOCKED = ('torch', 'torchvision', 'mmengine', 'mmaction', 'mmcv', 'est_mm')
# what a machine without the training stack has: an import of any of BLOCKED fails
BLOCKER = f'''import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f'No module named {{name!r}} (torch-free check)', name=name)


sys.meta_path.insert(0, _NotInstalled())
'''


def guide_path():
    """docs/deploy.md, where the ONNX part of the README lives (README.md before the move)."""
    path = osp.join(ROOT, 'docs', 'deploy.md')
    return path if osp.isfile(path) else osp.join(ROOT, 'README.md')


def torch_free_section():
    """(prose before the marker, since the last heading; the python block right after it)."""
    with open(guide_path(), encoding='utf-8') as f:
        text = f.read()
    assert text.count(MARKER) == 1, f'{guide_path()}: one {MARKER} expected'
    before, after = text.split(MARKER)
    prose = re.split(r'^#+ ', before, flags=re.M)[-1]
    block = re.match(r'\s*```python\n(.*?)```', after, re.S)
    assert block, f'{guide_path()}: no ```python block right after {MARKER}'
    return prose, block.group(1)


@pytest.fixture(scope='module')
def onnx_file(module_tmp):
    """An untrained toy model exported at 32x32 (the main graph only, not verified here:
    tests/test_onnx.py verifies the exporter)."""
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(ROOT, CONFIG)).model).eval()
    folder = module_tmp.mktemp('snippet_model')
    checkpoint = str(folder / 'untrained.pth')
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, checkpoint)
    result = export_and_verify(CONFIG, checkpoint, ExportSettings(
        out=str(folder / 'model.onnx'), frame_size=(32, 32), verify_clips=0, parts=False),
        log=lambda *_: None)
    return result.out


def test_torch_free_snippet_runs_as_written_with_the_files_its_prose_names(onnx_file, tmp_path):
    prose, snippet = torch_free_section()
    files = re.findall(r'`(est_mm/[\w/]+\.py)`', prose)
    assert files, f'{guide_path()}: the prose before the snippet names no file to copy'
    for path in files:
        shutil.copy(osp.join(ROOT, path), tmp_path / osp.basename(path))
    model_name = re.search(r"ONNXModel\('([^']+\.onnx)'\)", snippet).group(1)
    shutil.copy(onnx_file, tmp_path / model_name)
    frames = np.random.RandomState(0).randint(0, 256, (50, 30, 30, 3), np.uint8)
    np.save(tmp_path / 'frames.npy', frames)
    setup = "import numpy as np\nframes = list(np.load('frames.npy'))\n"
    check = ("import json\n"
             f"assert not [m for m in sys.modules if m.split('.')[0] in {BLOCKED!r}]\n"
             "print(json.dumps(probs[0].tolist()))\n")
    (tmp_path / 'user_script.py').write_text(BLOCKER + setup + snippet + check)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run([sys.executable, 'user_script.py'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed, probs = proc.stdout.strip().splitlines()
    # the same numbers as the package's ONNXModel on the same frames
    model = ONNXModel(onnx_file, providers=['CPUExecutionProvider'])
    expected = model.run([[frames[i] for i in model.frame_indices(len(frames))]])[0][0]
    np.testing.assert_allclose(np.array(json.loads(probs)), expected, rtol=0, atol=1e-6)
    assert printed == model.classes[int(expected.argmax())]
