"""est_mm.inference_spec: one spec resolved from config + checkpoint; a checkpoint that does not
fit its config stops the inferencer, tools/test.py and the analysis tools with one line."""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

import est_mm  # noqa: F401
from est_mm.apis.inference import ESTInferencer
from est_mm.engine.hooks import est_checkpoint_meta
from est_mm.inference_spec import (InferenceSpec, SpecMismatchError, resolve_spec,
                                   spec_from_config, state_dict_problems)
from est_mm.snippet_geometry import SnippetGeometry
from mmaction.registry import MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOY = 'configs/est_r18_toy.py'  # 64x64, 7 DFEW classes
DFEW = 'configs/est_r18_dfew.py'  # the same model at 224x224
BU3DFE = 'configs/est_r18_bu3dfe.py'  # 6 classes


def cfg(path):
    return Config.fromfile(osp.join(ROOT, path))


@pytest.fixture(scope='module')
def toy_checkpoint(module_tmp):
    """An untrained toy-config model saved with the meta training writes (64x64, DFEW names)."""
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(cfg(TOY).model).eval()
    meta = est_checkpoint_meta(cfg(TOY))
    path = str(module_tmp.mktemp('ckpt') / 'toy_64.pth')
    torch.save({'meta': {'est': meta, 'dataset_meta': {'classes': meta['classes']}},
                'state_dict': model.state_dict()}, path)
    return path


def run(*args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


# ------------------------------------------------------------------ the spec itself
def test_round_trips_through_dict_json_checkpoint_meta_and_onnx_metadata():
    from est_mm.deploy.onnx_backend import read_spec
    spec = InferenceSpec(classes=('a', 'b'), frame_size=(48, 40),
                         sampling=SnippetGeometry(test_start=10), mean=(1, 2, 3),
                         std=(4, 5, 6), sources=dict(classes='checkpoint'))
    assert InferenceSpec.from_dict(spec.to_dict()) == spec
    assert InferenceSpec.from_json(spec.to_json()).sources == dict(classes='checkpoint')
    meta = spec.to_checkpoint_meta()
    assert meta['frame_size'] == [40, 48]  # the Resize scale (w, h)
    assert meta['test_sampling']['type'] == 'SnippetSampling'
    from est_mm.inference_spec import checkpoint_fields
    stored = checkpoint_fields(dict(est=meta))
    assert InferenceSpec(**stored) == spec
    onnx_meta = spec.to_onnx_metadata()
    assert InferenceSpec.from_dict(read_spec(onnx_meta, 'x.onnx')) == spec
    with pytest.raises(ValueError, match='frame_size'):
        InferenceSpec(classes=('a', ), sampling=SnippetGeometry(), frame_size=(0, 4))


def test_the_checkpoint_decides_and_the_sources_say_so():
    config = cfg(TOY)
    meta = dict(est=dict(classes=list('abcdefg'), frame_size=[32, 32],
                         test_sampling=dict(SnippetGeometry(test_start=10).to_dict())))
    spec = resolve_spec(config, meta, config='toy.py', checkpoint='x.pth')
    assert spec.classes == tuple('abcdefg') and spec.frame_size == (32, 32)
    assert spec.sampling.test_start == 10 and spec.std == (255.0, ) * 3
    assert spec.sources == dict(classes='checkpoint', frame_size='checkpoint',
                                sampling='checkpoint', mean='config', std='config',
                                to_rgb='config', layout='config')
    assert any('frame size 32x32 (config: 64x64)' in n for n in spec.notes)
    assert resolve_spec(config, None) == spec_from_config(config)
    assert resolve_spec(config, meta, overrides=dict(frame_size=(20, 24))).sources[
        'frame_size'] == 'option'


def test_what_does_not_fit_is_one_line_naming_both_files():
    meta = dict(est=dict(classes=list('abcdefg'),
                         test_sampling=SnippetGeometry(num_snippets=5, frames_per_snippet=3,
                                                       test_offsets=(0, 5, 10)).to_dict()))
    with pytest.raises(SpecMismatchError) as err:
        resolve_spec(cfg(BU3DFE), meta, config='bu3dfe.py', checkpoint='x.pth',
                     model_shapes={'w': (6, 4), 'only_model': (1, )},
                     checkpoint_shapes={'w': (7, 4), 'cls_head.ssop.fc': (2, )})
    message = str(err.value)
    assert '\n' not in message and message.startswith('x.pth does not fit bu3dfe.py: ')
    assert '7 classes in the checkpoint' in message and 'vs 6 in the config' in message
    assert '5 snippets x 3 frames per clip in the checkpoint vs 7 x 5' in message
    assert 'w [7, 4] in the checkpoint vs [6, 4] in the config' in message
    assert '1 parameters missing from the checkpoint (only_model)' in message
    assert 'ssop' not in message  # the training-only branch may differ
    assert 'Use the config the checkpoint was trained with' in message
    assert state_dict_problems({'a': (1, )}, {'a': (1, )}) == []
    names = list(spec_from_config(cfg(TOY)).classes)[::-1]
    with pytest.raises(SpecMismatchError, match='labels are indices'):
        resolve_spec(cfg(TOY), dict(est=dict(classes=names)), classes_must_match=True)
    assert resolve_spec(cfg(TOY), dict(est=dict(classes=names))).classes == tuple(names)


# ------------------------------------------------------------------ ESTInferencer
def test_inferencer_refuses_a_7_class_checkpoint_with_a_6_class_config(toy_checkpoint):
    """Today's code warned 'size mismatch', kept a random classifier and printed a label."""
    with pytest.raises(SpecMismatchError) as err:
        ESTInferencer(osp.join(ROOT, BU3DFE), toy_checkpoint, device='cpu')
    message = str(err.value)
    assert '\n' not in message and toy_checkpoint in message and BU3DFE in message
    assert '7 classes in the checkpoint' in message and 'parameter shapes differ' in message
    assert 'cls_head.classifier.5.weight [7, 64] in the checkpoint vs [6, 64]' in message


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')
def test_inferencer_names_the_device_not_the_checkpoint(toy_checkpoint):
    with pytest.raises(ValueError) as err:
        ESTInferencer(osp.join(ROOT, TOY), toy_checkpoint, device='cuda')
    assert str(err.value) == 'device cuda: this machine has no cuda device (devices here: cpu)'
    with pytest.raises(ValueError, match='device gpu7: not a device name'):
        ESTInferencer(osp.join(ROOT, TOY), toy_checkpoint, device='gpu7')
    with pytest.raises(ValueError, match='stride must be an integer >= 1, got -5'):
        ESTInferencer(osp.join(ROOT, TOY), toy_checkpoint, device='cpu', stride=-5)
    with pytest.raises(ValueError, match='no-such.py: no such config file'):
        ESTInferencer('no-such.py', toy_checkpoint, device='cpu')


def test_inferencer_runs_the_configs_test_pipeline_at_the_checkpoints_size(toy_checkpoint):
    """The DFEW config says 224x224; the checkpoint says 64x64: the pipeline's Resize gets 64."""
    with pytest.warns(UserWarning, match=r'frame size 64x64 \(config: 224x224\)'):
        inferencer = ESTInferencer(osp.join(ROOT, DFEW), toy_checkpoint, device='cpu')
    resize = [t for t in inferencer.pipeline.transforms if type(t).__name__ == 'Resize']
    assert [tuple(t.scale) for t in resize] == [(64, 64)]
    toy = ESTInferencer(osp.join(ROOT, TOY), toy_checkpoint, device='cpu')
    frames = np.random.RandomState(0).randint(0, 256, (30, 40, 40, 3), dtype=np.uint8)
    np.testing.assert_allclose(inferencer(frames).scores, toy(frames).scores, atol=1e-6)


# ------------------------------------------------------------------ tools
def test_test_py_uses_the_checkpoints_frame_size_and_says_so(toy_checkpoint, toy_root, tmp_path):
    """Today's code tested the 64x64 checkpoint at the DFEW config's 224x224 without a word."""
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={toy_root}',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    dumps = {}
    for name, config in (('dfew', DFEW), ('toy', TOY)):
        dumps[name] = str(tmp_path / f'{name}.pkl')
        rc, out, err = run('tools/test.py', config, toy_checkpoint, '--work-dir',
                           str(tmp_path / name), '--dump', dumps[name], *options)
        assert rc == 0, err[-3000:]
        lines = [ln for ln in out.splitlines() if "testing with the checkpoint's" in ln]
        if name == 'dfew':
            assert len(lines) == 1 and 'frame size 64x64 (config: 224x224)' in lines[0], out
        else:
            assert not lines, out
    preds = {}
    for name, path in dumps.items():
        with open(path, 'rb') as f:
            preds[name] = [p['pred_score'].numpy() for p in pickle.load(f)]  # our own file
    np.testing.assert_allclose(preds['dfew'], preds['toy'], atol=1e-6)


def test_demo_says_the_checkpoints_frame_size_in_one_line(toy_checkpoint, tmp_path):
    """Python's warning format put the tool's file:line in front and its source line below."""
    from helpers.media import write_h264
    rng = np.random.default_rng(0)
    video = write_h264(tmp_path / 'clip.mp4',
                       (rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(12)))
    rc, out, err = run('tools/demo.py', video, DFEW, toy_checkpoint, '--no-face-crop',
                       '--device', 'cpu', '--out-dir', str(tmp_path / 'out'))
    assert rc == 0, err[-3000:]
    assert err.strip().splitlines() == [
        f"warning: {toy_checkpoint}: using the checkpoint's frame size 64x64 (config: 224x224)"]


def test_test_py_refuses_a_checkpoint_of_another_class_count(toy_checkpoint, tmp_path):
    # an existing data folder: test.py checks that before the checkpoint
    rc, out, err = run('tools/test.py', BU3DFE, toy_checkpoint, '--work-dir', str(tmp_path),
                       '--cfg-options', f'test_dataloader.dataset.data_root={tmp_path}')
    assert rc == 1 and 'Traceback' not in err, err[-3000:]
    assert '7 classes in the checkpoint' in err.strip().splitlines()[-1], err[-2000:]


def test_analysis_tools_refuse_a_checkpoint_that_does_not_fit(toy_checkpoint, tmp_path):
    rc, out, err = run('tools/analysis/tsne.py', BU3DFE, toy_checkpoint, '--out',
                       str(tmp_path / 't.png'))
    assert rc == 1 and 'Traceback' not in err, err[-3000:]
    assert '7 classes in the checkpoint' in err.strip().splitlines()[-1], err[-2000:]


@pytest.mark.parametrize('tool', ['tools/test.py', 'tools/deployment/export_onnx.py',
                                  'tools/analysis/attention.py', 'tools/analysis/tsne.py',
                                  'tools/analysis/complexity.py'])
def test_help_answers_before_torch_is_imported(tool, tmp_path):
    """--help must not import torch (it took 5-30 s): run it where torch cannot be imported."""
    (tmp_path / 'sitecustomize.py').write_text("import sys\nsys.modules['torch'] = None\n")
    proc = subprocess.run([sys.executable, tool, '--help'], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{ROOT}'))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'usage:' in proc.stdout


def test_meta_hook_writes_the_spec_of_the_training_config():
    meta = est_checkpoint_meta(cfg(TOY), classes=list('abcdefg'))
    assert json.loads(json.dumps(meta)) == meta  # builtins only
    spec = resolve_spec(cfg(DFEW), dict(est=meta))
    assert spec.classes == tuple('abcdefg') and spec.frame_size == (64, 64)
    assert spec.sampling == spec_from_config(cfg(TOY)).sampling


def test_dist_test_sh_help():
    proc = subprocess.run(['bash', 'tools/dist_test.sh', '--help'], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and 'Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS' in \
        proc.stdout, proc.stderr
    proc = subprocess.run(['bash', 'tools/dist_test.sh', 'a.py'], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and 'Usage:' in proc.stderr and 'unbound' not in proc.stderr
