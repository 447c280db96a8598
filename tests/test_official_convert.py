"""tools/convert/official_est.py without the official code: synthetic checkpoints in the authors'
format (every key and shape of tests/data/official_est_keys.txt, seeded random values, the sine
positional table, DataParallel's ``module.`` prefix, the ``{'epoch', 'state_dict', 'prec1'}``
wrapper) are converted, loaded strictly and run through ESTInferencer, tools/test.py, tools/demo.py
and the ONNX exporter; broken ones must end with one line naming the key or the file."""
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import pytest
import torch
import torchvision
from mmengine.config import Config

import est_mm  # noqa: F401  (safe-loading globals for torch.load below)
from est_mm.convert.official_est import (CONVERT_ERRORS, OfficialCheckpointError,
                                        convert_official, convert_official_checkpoint,
                                        convert_official_file, official_key)
from est_mm.models.common import sine_positional_encoding
from helpers.checkpoints import tv_to_mmaction
from helpers.data import data_options
from helpers.media import cut_video
from mmaction.registry import DATASETS, MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
KEYS_FILE = osp.join(ROOT, 'tests', 'data', 'official_est_keys.txt')
DFEW_CONFIG = 'configs/est_r18_dfew.py'
TOY_CONFIG = 'configs/est_r18_toy.py'
# the test's own copies (not imported from the code under test)
OFFICIAL_CLASSES = ('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise')
DFEW_CLASSES = ('Happy', 'Sad', 'Neutral', 'Angry', 'Surprise', 'Disgust', 'Fear')
POS_KEY = 'pos_enc.pos_enc.weight'
EST_MM_ONLY = {'cls_head.ssop.permutations'}  # from the config, not in the official file
register_all_modules()


# ---------------------------------------------------------------------------------------------
# synthetic official checkpoints

def official_keys():
    """[(name without 'module.', shape, dtype)] of the authors' released state dict."""
    keys = []
    for line in open(KEYS_FILE):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        name, shape, dtype = re.fullmatch(r'(\S+) \(([\d, ]*)\) (\w+)', line).groups()
        keys.append((name, tuple(int(s) for s in shape.split(',') if s.strip()), dtype))
    return keys


@lru_cache(maxsize=2)
def _random_state(seed):
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape, dtype in official_keys():
        if dtype == 'int64':
            value = torch.randint(1, 10000, shape, generator=gen, dtype=torch.int64)
        elif name == POS_KEY:
            value = sine_positional_encoding(*shape)
        elif name.endswith('running_var'):
            value = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) >= 2:  # weight matrices / kernels: ~ 1/sqrt(fan-in)
            value = torch.randn(shape, generator=gen) / math.sqrt(math.prod(shape[1:]))
        else:  # gains around 1, biases and running means around 0
            value = torch.randn(shape, generator=gen) * 0.1 + float(name.endswith('.weight'))
        state[name] = value
    return state


@pytest.fixture(scope='module', autouse=True)
def _free_cached_states():
    yield
    _random_state.cache_clear()  # 171 MB each: not kept for the rest of a full run


def official_state(seed=0, favour=None, drop=(), extra=None, reshape=None, pos=None):
    """The authors' state dict (``module.`` keys): seeded random values at a scale that keeps
    activations finite (running_var > 0, num_batches_tracked int64 scalars), est_mm's sine table
    as ``pos_enc.pos_enc.weight``. ``favour``: a class name; the last classifier layer is zeroed
    and its bias made distinct (0.1·row) and largest at that class's official row, so the logits
    are the bias whatever the features. ``drop``: keys to leave out; ``extra``: {key: tensor} to
    add; ``reshape``: {key: shape} to give a key another shape; ``pos``: another table to store.
    The tensors are shared between calls (cached): do not modify them in place."""
    state = dict(_random_state(seed))
    if pos is not None:
        state[POS_KEY] = pos
    if favour is not None:
        state['classifier.5.0.weight'] = torch.zeros(7, 64)
        state['classifier.5.0.bias'] = bias_favouring(favour)
    for key, shape in (reshape or {}).items():
        state[key] = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1))
    for key in drop:
        del state[key]
    state.update(extra or {})
    return {f'module.{k}': v for k, v in state.items()}


def bias_favouring(name):
    bias = 0.1 * torch.arange(7, dtype=torch.float32)
    bias[OFFICIAL_CLASSES.index(name)] = 5.0
    return bias


def expected_scores(name):
    """{class name: probability} of a checkpoint made with ``favour=name``."""
    probs = bias_favouring(name).softmax(0)
    return {c: float(probs[OFFICIAL_CLASSES.index(c)]) for c in OFFICIAL_CLASSES}


def write_official(path, epoch=37, prec1=56.51, **kwargs):
    torch.save({'epoch': epoch, 'state_dict': official_state(**kwargs), 'prec1': prec1}, path)
    return str(path)


def strip(state):
    return {k[len('module.'):]: v for k, v in state.items()}


def convert(src, config=DFEW_CONFIG):
    return convert_official_checkpoint(str(src), Config.fromfile(osp.join(ROOT, config)))


def build(config=DFEW_CONFIG):
    return MODELS.build(Config.fromfile(osp.join(ROOT, config)).model)


def converter_cmd(src, dst, *args):
    return [sys.executable, 'tools/convert/official_est.py', str(src), str(dst), *args]


def run(cmd):
    # warnings off: what is left on stderr is the tool's own output
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT,
                                                   PYTHONWARNINGS='ignore'),
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def one_line_error(rc, err):
    """The one line a refused conversion leaves on stderr."""
    assert rc != 0
    assert 'Traceback' not in err, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]
    return lines[0]


# ---------------------------------------------------------------------------------------------
# the converter as a subprocess (the conversion and the three key errors: run together, to save
# wall time) and in this process (the package function the tool calls; the cheap refusals)

KEY_ERRORS = {  # case: (official_state arguments, the key the one line must name)
    'missing': (dict(drop=['layer3.1.bn2.running_var']), 'layer3.1.bn2.running_var'),
    'extra': (dict(extra={'transformer.encoder.layers.3.norm1.weight': torch.ones(512)}),
              'transformer.encoder.layers.3.norm1.weight'),
    'misshaped': (dict(reshape={'transformer.decoder.layers.2.linear1.weight': (512, 2048)}),
                  'transformer.decoder.layers.2.linear1.weight'),  # transposed
}


@pytest.fixture(scope='module')
def cli(module_tmp):
    """{case: (rc, stdout, stderr, src, dst)}: 'ok' converts for configs/est_r18_dfew.py (the
    default --config), the others must be refused."""
    tmp = module_tmp.mktemp('official')
    cases = {'ok': write_official(tmp / 'est_dfew_official.pth')}
    for kind, (kwargs, _) in KEY_ERRORS.items():
        cases[kind] = write_official(tmp / f'{kind}.pth', **kwargs)
    dsts = {kind: tmp / kind / 'converted.pth' for kind in cases}
    for dst in dsts.values():
        os.makedirs(dst.parent)
    with ThreadPoolExecutor(len(cases)) as pool:
        results = dict(zip(cases, pool.map(lambda k: run(converter_cmd(cases[k], dsts[k])),
                                           cases)))
    return {k: (*results[k], cases[k], dsts[k]) for k in cases}


def cli_in_process(src, dst, *options):
    """What tools/convert/official_est.py calls (convert_official_file), in this process, for the
    tool's arguments (``'--config', CONFIG``, ``'--overwrite'``) → 0, or the one-line message it
    refuses with (the tool exits with it)."""
    config = options[options.index('--config') + 1] if '--config' in options else DFEW_CONFIG
    try:
        print(convert_official_file(str(src), str(dst), config,
                                    overwrite='--overwrite' in options))
    except CONVERT_ERRORS as err:
        return str(err)
    return 0


def refused_in_process(capsys, *argv):
    """The one-line message of a refused in-process run (nothing else printed)."""
    code = cli_in_process(*argv)
    captured = capsys.readouterr()
    assert isinstance(code, str) and code.strip() and '\n' not in code.strip(), code
    assert captured.out == '' and 'Traceback' not in captured.err
    return code.strip()


@pytest.fixture(scope='module')
def converted(cli):
    """(official state without prefix, the CLI's est_mm checkpoint) for configs/est_r18_dfew.py."""
    rc, out, err, src, dst = cli['ok']
    assert rc == 0, err[-3000:]
    assert out.strip().splitlines() == [
        f'{dst}: 244 tensors for {DFEW_CONFIG}; classes Happy, Sad, Neutral, Angry, Surprise, '
        'Disgust, Fear; official epoch 37, prec1 56.51']
    assert os.listdir(dst.parent) == ['converted.pth']  # no .tmp left
    source = torch.load(src, map_location='cpu')  # torch's default (weights_only) loading
    assert set(source) == {'epoch', 'state_dict', 'prec1'}
    return strip(source['state_dict']), torch.load(dst, map_location='cpu')


def test_synthetic_checkpoint_has_the_official_format():
    keys = official_keys()
    assert len(keys) == 244 and len({k for k, _, _ in keys}) == 244
    state = official_state()
    assert all(k.startswith('module.') for k in state)
    assert [tuple(v.shape) for v in state.values()] == [s for _, s, _ in keys]
    assert all(str(v.dtype) == f'torch.{d}' for v, (_, _, d) in zip(state.values(), keys))
    assert all(v.min() > 0 for k, v in state.items() if k.endswith('running_var'))
    assert torch.equal(state[f'module.{POS_KEY}'], sine_positional_encoding(7, 512))


def test_cli_output_loads_strictly_and_every_tensor_is_its_source(converted):
    source, checkpoint = converted
    state = checkpoint['state_dict']
    build().load_state_dict(state, strict=True)
    # every official tensor but the positional table fills exactly one est_mm tensor
    filled = {k: official_key(k) for k in state if k not in EST_MM_ONLY}
    assert sorted(filled.values()) == sorted(set(source) - {POS_KEY})
    order = [OFFICIAL_CLASSES.index(c) for c in DFEW_CLASSES]
    for ours, theirs in filled.items():
        expected = source[theirs]
        if theirs == 'query_embed.weight':
            expected = expected.reshape(1, 1, 512)
        elif theirs.startswith('classifier.5.0.'):
            expected = expected[order]
        assert state[ours].dtype == expected.dtype, ours
        assert torch.equal(state[ours], expected), (ours, theirs)
    permutations = Config.fromfile(osp.join(ROOT, DFEW_CONFIG)).model.cls_head.ssop.permutations
    assert state['cls_head.ssop.permutations'].tolist() == permutations  # the official set


# hand-written pairs, one or more per mapping rule (independent of the converter's rule table)
PAIRS = [
    ('conv1.weight', 'backbone.conv1.conv.weight'),
    ('bn1.running_var', 'backbone.conv1.bn.running_var'),
    ('bn1.num_batches_tracked', 'backbone.conv1.bn.num_batches_tracked'),
    ('layer1.1.conv2.weight', 'backbone.layer1.1.conv2.conv.weight'),
    ('layer3.1.bn1.bias', 'backbone.layer3.1.conv1.bn.bias'),
    ('layer4.0.downsample.0.weight', 'backbone.layer4.0.downsample.conv.weight'),
    ('layer2.0.downsample.1.running_mean', 'backbone.layer2.0.downsample.bn.running_mean'),
    ('attn.in_proj_weight', 'neck.self_attn.in_proj_weight'),
    ('attn.out_proj.bias', 'neck.self_attn.out_proj.bias'),
    ('norm1.weight', 'neck.norm.weight'),
    ('transformer.encoder.layers.0.self_attn.in_proj_bias',
     'cls_head.transformer.encoder.0.self_attn.in_proj_bias'),
    ('transformer.encoder.layers.2.linear1.weight',
     'cls_head.transformer.encoder.2.ffn.linear1.weight'),
    ('transformer.encoder.layers.1.norm2.bias', 'cls_head.transformer.encoder.1.norm2.bias'),
    ('transformer.encoder.norm.weight', 'cls_head.transformer.encoder_norm.weight'),
    ('transformer.decoder.layers.1.self_attn.out_proj.weight',
     'cls_head.transformer.decoder.1.self_attn.out_proj.weight'),
    ('transformer.decoder.layers.2.multihead_attn.in_proj_weight',
     'cls_head.transformer.decoder.2.cross_attn.in_proj_weight'),
    ('transformer.decoder.layers.0.linear2.bias',
     'cls_head.transformer.decoder.0.ffn.linear2.bias'),
    ('transformer.decoder.layers.2.norm3.weight', 'cls_head.transformer.decoder.2.norm3.weight'),
    ('transformer.decoder.norm.bias', 'cls_head.transformer.decoder_norm.bias'),
    ('per_branch.classifier.0.weight', 'cls_head.ssop.classifier.0.weight'),
    ('per_branch.classifier.4.running_var', 'cls_head.ssop.classifier.4.running_var'),
    ('per_branch.classifier.6.bias', 'cls_head.ssop.classifier.6.bias'),
    ('classifier.0.weight', 'cls_head.classifier.0.weight'),
    ('classifier.2.bias', 'cls_head.classifier.2.bias'),
]


@pytest.mark.parametrize('theirs,ours', PAIRS)
def test_known_key_pairs(converted, theirs, ours):
    source, checkpoint = converted
    assert torch.equal(checkpoint['state_dict'][ours], source[theirs])


def test_query_and_classifier_rows_by_class_name(converted):
    source, checkpoint = converted
    state = checkpoint['state_dict']
    assert torch.equal(state['cls_head.query'].flatten(), source['query_embed.weight'].flatten())
    assert state['cls_head.query'].shape == (1, 1, 512)
    for i, name in enumerate(DFEW_CLASSES):
        row = OFFICIAL_CLASSES.index(name)
        assert torch.equal(state['cls_head.classifier.5.weight'][i],
                           source['classifier.5.0.weight'][row]), name
        assert state['cls_head.classifier.5.bias'][i] == source['classifier.5.0.bias'][row]


def test_meta_carries_classes_sampling_and_origin(converted, cli):
    _, checkpoint = converted
    meta = checkpoint['meta']
    assert meta['est']['classes'] == list(DFEW_CLASSES)
    assert meta['dataset_meta']['classes'] == list(DFEW_CLASSES)
    sampling = meta['est']['test_sampling']
    assert sampling['type'] == 'SnippetSampling' and sampling['test_start'] == 15
    assert tuple(sampling['test_offsets']) == (0, 3, 6, 9, 12)
    assert sampling['num_snippets'] == 7 and sampling['frames_per_snippet'] == 5
    assert tuple(meta['est']['frame_size']) == (224, 224)
    origin = meta['converted_from']
    assert origin['epoch'] == 37 and origin['prec1'] == pytest.approx(56.51)
    assert origin['file'] == cli['ok'][3]
    assert list(origin['official_classes']) == list(OFFICIAL_CLASSES)


def test_function_and_cli_agree_and_toy_config_is_the_same_model(converted, cli):
    _, checkpoint = converted
    again = convert(cli['ok'][3], TOY_CONFIG)
    assert list(again['state_dict']) == list(checkpoint['state_dict'])
    for key, value in checkpoint['state_dict'].items():
        assert torch.equal(again['state_dict'][key], value), key
    assert tuple(again['meta']['est']['frame_size']) == (64, 64)
    build(TOY_CONFIG).load_state_dict(again['state_dict'], strict=True)


# ---------------------------------------------------------------------------------------------
# the classes keep their names

@pytest.mark.parametrize('favour,config', [('Fear', DFEW_CONFIG), ('Neutral', TOY_CONFIG)])
def test_inferencer_predicts_the_favoured_class_by_name(tmp_path, favour, config):
    from est_mm.apis.inference import ESTInferencer
    src = write_official(tmp_path / 'official.pth', favour=favour)
    dst = str(tmp_path / 'converted.pth')
    torch.save(convert(src, config), dst)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        inferencer = ESTInferencer(osp.join(ROOT, config), dst, device='cpu')
    # the converted meta (classes, sampling, frame size, mean/std) agrees with the config
    assert not [w for w in caught if 'differs from the checkpoint' in str(w.message)]
    assert inferencer.classes == list(DFEW_CLASSES)
    frames = np.random.RandomState(0).randint(0, 256, (20, 48, 48, 3), dtype=np.uint8)
    result = inferencer(frames, fps=25.0)
    assert result.label_name == favour
    assert all(w.label_name == favour for w in result.windows)
    expected = expected_scores(favour)  # the whole distribution, not just the winner
    np.testing.assert_allclose(result.scores, [expected[c] for c in result.classes], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# refusals: one line, nothing written

@pytest.mark.parametrize('kind', sorted(KEY_ERRORS))
def test_missing_extra_or_misshaped_key_is_one_line_naming_it(cli, kind):
    rc, out, err, src, dst = cli[kind]
    line = one_line_error(rc, err)
    assert src in line and repr(KEY_ERRORS[kind][1]) in line, line
    assert os.listdir(dst.parent) == []  # no dst, no dst.tmp


def bad_file(path, kind):
    if kind == 'list':
        torch.save([torch.ones(3)], path)
    elif kind == 'text':
        open(path, 'w').write('epoch 37, prec1 56.51\n')
    elif kind == 'mmengine':  # an mmengine/est_mm checkpoint, not the official keys
        torch.save({'meta': {'epoch': 3}, 'state_dict': {
            'backbone.conv1.conv.weight': torch.ones(64, 3, 7, 7),
            'cls_head.query': torch.ones(1, 1, 512)}}, path)
    elif kind == 'no_state_dict':  # the official tensors, but not in the wrapper
        torch.save(dict(official_state(), epoch=37), path)
    elif kind == 'int_keys':
        torch.save({0: torch.ones(1), 'epoch': 3}, path)
    elif kind == 'int_state_keys':
        torch.save({'epoch': 3, 'state_dict': {0: torch.ones(1)}, 'prec1': 1.0}, path)
    return str(path)


@pytest.mark.parametrize('kind', [
    'list', 'text', 'mmengine', 'no_state_dict', 'int_keys', 'int_state_keys'])
def test_not_an_official_checkpoint_is_one_line_naming_the_file(capsys, tmp_path, kind):
    src = bad_file(tmp_path / f'{kind}.pth', kind)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    line = refused_in_process(capsys, src, out_dir / 'converted.pth', '--config',
                              osp.join(ROOT, DFEW_CONFIG))
    assert src in line, line
    if kind == 'mmengine':
        assert 'backbone.conv1.conv.weight' in line and 'est_mm checkpoint already' in line
    assert os.listdir(out_dir) == []


def test_wrong_positional_table_is_one_line(capsys, tmp_path):
    shifted = sine_positional_encoding(8, 512)[1:].clone()  # positions 1..7 instead of 0..6
    for pos in (shifted, sine_positional_encoding(7, 256)):
        src = write_official(tmp_path / 'wrong_pos.pth', pos=pos)
        line = refused_in_process(capsys, src, tmp_path / 'out' / 'converted.pth', '--config',
                                  osp.join(ROOT, DFEW_CONFIG))
        assert src in line and POS_KEY in line, line
        assert not osp.exists(tmp_path / 'out')


def test_text_file_is_named_not_a_pytorch_checkpoint(capsys, tmp_path):
    src = bad_file(tmp_path / 'notes.pth', 'text')
    line = refused_in_process(capsys, src, tmp_path / 'converted.pth', '--config',
                              osp.join(ROOT, DFEW_CONFIG))
    assert line.startswith(f'{src}: not a PyTorch checkpoint (a text file); expected the '
                           "authors' EST checkpoint"), line


@pytest.mark.parametrize('shape', [(7, 256), (7, 512)])
def test_positional_table_refusal_names_shape_found_and_expected(capsys, tmp_path, shape):
    pos = sine_positional_encoding(*shape)
    if shape == (7, 512):
        pos = sine_positional_encoding(8, 512)[1:].clone()  # right shape, other positions
    src = write_official(tmp_path / 'wrong_pos.pth', pos=pos)
    line = refused_in_process(capsys, src, tmp_path / 'converted.pth', '--config',
                              osp.join(ROOT, DFEW_CONFIG))
    found = 'has the expected shape' if shape == (7, 512) else 'has shape (7, 256)'
    assert line.startswith(f'{src}: {POS_KEY} {found}'), line
    assert line.endswith("expected est_mm's fixed sine/cosine table (7, 512) (positions x dims)")
    assert line.count(str(shape)) == 1, line  # each shape said once


def test_missing_config_is_one_line(capsys, tmp_path):
    src = bad_file(tmp_path / 'list.pth', 'list')  # never read: the config comes first
    line = refused_in_process(capsys, src, tmp_path / 'converted.pth', '--config',
                              'configs/no_such_config.py')
    assert 'configs/no_such_config.py' in line


def test_existing_output_is_kept_without_overwrite(cli, capsys, tmp_path):
    src = cli['ok'][3]
    dst = tmp_path / 'converted.pth'
    dst.write_bytes(b'keep me')
    line = refused_in_process(capsys, src, dst, '--config', osp.join(ROOT, DFEW_CONFIG))
    assert str(dst) in line and '--overwrite' in line
    assert dst.read_bytes() == b'keep me' and os.listdir(tmp_path) == ['converted.pth']
    assert cli_in_process(src, dst, '--config', osp.join(ROOT, DFEW_CONFIG), '--overwrite') == 0
    assert torch.load(dst, map_location='cpu')['meta']['converted_from']['epoch'] == 37
    assert os.listdir(tmp_path) == ['converted.pth']


@pytest.fixture(scope='module')
def target():
    return build().state_dict()


@pytest.mark.parametrize('key', ['conv1.weight', 'layer2.0.downsample.1.num_batches_tracked',
                                 'attn.in_proj_bias', 'norm1.bias',
                                 'transformer.encoder.layers.1.linear2.weight',
                                 'transformer.decoder.layers.0.multihead_attn.out_proj.bias',
                                 'transformer.decoder.norm.weight', 'query_embed.weight',
                                 'per_branch.classifier.1.running_mean',
                                 'classifier.2.weight', 'classifier.5.0.bias', POS_KEY])
def test_every_part_of_the_model_is_checked(target, key):
    """A missing or mis-shaped key anywhere (backbone, AA-SFE, Transformer, SSOP, classifier)."""
    pos = sine_positional_encoding(7, 512)
    state = strip(official_state())
    missing = {k: v for k, v in state.items() if k != key}
    with pytest.raises(OfficialCheckpointError, match=re.escape(repr(key))):
        convert_official(missing, target, DFEW_CLASSES, pos)
    misshaped = dict(state, **{key: torch.zeros(*state[key].shape, 2)})
    with pytest.raises(OfficialCheckpointError, match=re.escape(key)):
        convert_official(misshaped, target, DFEW_CLASSES, pos)


@pytest.mark.parametrize('extra', ['transformer.decoder.layers.3.norm1.weight',
                                   'classifier.3.weight', 'classifier.5.1.weight', 'fc.weight',
                                   'layer5.0.conv1.weight', 'module.conv1.weight'])
def test_unknown_keys_are_refused(target, extra):
    state = dict(strip(official_state()), **{extra: torch.ones(4)})
    with pytest.raises(OfficialCheckpointError, match=re.escape(repr(extra))):
        convert_official(state, target, DFEW_CLASSES, sine_positional_encoding(7, 512))


def test_config_without_ssop_branch_is_one_line_naming_it():
    target = build('configs/ablation/est-aasfe_r18_dfew.py').state_dict()
    with pytest.raises(OfficialCheckpointError, match=r"'per_branch.classifier.0.weight' belongs "
                       r'to the SSOP branch, which this config leaves out '
                       r'\(model.cls_head.ssop=None\)'):
        convert_official(strip(official_state()), target, DFEW_CLASSES,
                         sine_positional_encoding(7, 512))


# ---------------------------------------------------------------------------------------------
# the converted checkpoint in the tools

@pytest.fixture(scope='module')
def toy_fear(module_tmp):
    """A Fear-favouring official checkpoint converted by the CLI with --config est_r18_toy.py."""
    tmp = module_tmp.mktemp('toy_fear')
    src = write_official(tmp / 'fear_official.pth', favour='Fear')
    dst = str(tmp / 'converted.pth')
    assert cli_in_process(src, dst, '--config', osp.join(ROOT, TOY_CONFIG)) == 0
    return dst


def test_tools_test_reports_every_clip_as_fear(toy_fear, toy_root, tmp_path):
    rc, out, err = run([sys.executable, 'tools/test.py', TOY_CONFIG, toy_fear, '--work-dir',
                        str(tmp_path), *data_options(toy_root)])
    assert rc == 0, (out + err)[-3000:]
    out += err
    cfg = Config.fromfile(osp.join(ROOT, TOY_CONFIG))
    cfg.test_dataloader.dataset.data_root = toy_root
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    labels = [dataset.get_data_info(i)['label'] for i in range(len(dataset))]
    fear_share = 100 * labels.count(DFEW_CLASSES.index('Fear')) / len(labels)
    war, uar = map(float, re.search(r'WAR \(acc/top1\): ([\d.]+)\s+UAR \(acc/mean1\): ([\d.]+)',
                                    out).groups())
    assert war == pytest.approx(fear_share, abs=0.01) and 0 < war < 100
    assert uar == pytest.approx(100 / len(set(labels)), abs=0.01)
    recall = dict(re.findall(r'fer/recall/(\w+): ([\d.]+)', out))
    assert set(recall) == set(DFEW_CLASSES)
    assert {c: float(v) for c, v in recall.items()} == {c: float(c == 'Fear')
                                                       for c in DFEW_CLASSES}


def test_demo_on_real_footage_names_fear(toy_fear, tmp_path, pyfeat_video):
    video = cut_video(pyfeat_video, str(tmp_path / 'w.mp4'), 3)
    rc, out, err = run([sys.executable, 'tools/demo.py', video, TOY_CONFIG, toy_fear,
                        '--out-dir', str(tmp_path / 'out')])
    assert rc == 0, err[-3000:]
    report = json.load(open(tmp_path / 'out' / 'w.json'))
    assert report['classes'] == list(DFEW_CLASSES) and report['label'] == 'Fear'
    assert report['num_frames'] == 3 and report['face']['num_detected'] >= 1
    expected = expected_scores('Fear')
    assert report['scores'] == pytest.approx({c: expected[c] for c in DFEW_CLASSES}, abs=1e-5)


def test_onnx_export_keeps_names_and_prediction(toy_fear, tmp_path):
    from est_mm.deploy import ONNXModel
    onnx_path = str(tmp_path / 'official.onnx')
    rc, out, err = run([sys.executable, 'tools/deployment/export_onnx.py', TOY_CONFIG, toy_fear,
                        '--out', onnx_path, '--verify-clips', '1'])
    assert rc == 0, (out + err)[-3000:]
    assert '→ OK' in out
    model = ONNXModel(onnx_path, providers=['CPUExecutionProvider'])
    assert model.classes == list(DFEW_CLASSES)
    assert model.sampling['test_start'] == 15
    assert list(model.sampling['test_offsets']) == [0, 3, 6, 9, 12]
    clips = np.random.RandomState(0).randint(0, 256, (1, 35, 64, 64, 3), dtype=np.uint8)
    scores = model.run(clips)[0][0]
    expected = expected_scores('Fear')
    np.testing.assert_allclose(scores, [expected[c] for c in DFEW_CLASSES], atol=1e-5)


# ---------------------------------------------------------------------------------------------
# the authors' face-pretrained ResNet-18 (tools/convert/resnet_checkpoint.py)

def test_face_pretrained_resnet_drops_fc_and_feature(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(num_classes=8)
    for m in tv.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    reference = {k: v.clone() for k, v in tv.state_dict().items()}
    state = {f'module.{k}': v for k, v in reference.items()}
    state['module.feature.weight'] = torch.randn(512, 512)  # the official code skips these
    state['module.feature.bias'] = torch.randn(512)
    src = str(tmp_path / 'Resnet18_FER+_pytorch.pth.tar')
    torch.save({'epoch': 12, 'state_dict': state, 'prec1': 84.3}, src)
    dst = str(tmp_path / 'resnet18_face_tv.pth')
    rc, out, err = run([sys.executable, 'tools/convert/resnet_checkpoint.py', src, dst])
    assert rc == 0, err[-3000:]
    written = torch.load(dst, map_location='cpu')
    expected = {k: v for k, v in reference.items() if not k.startswith('fc.')}
    assert set(written) == set(expected)  # fc.* and feature.* dropped, nothing else
    assert all(torch.equal(written[k], v) for k, v in expected.items())
    cfg = Config.fromfile(osp.join(ROOT, DFEW_CONFIG))
    cfg.model.backbone.pretrained = dst
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone.state_dict()
    for name, value in expected.items():
        assert torch.equal(backbone[tv_to_mmaction(name)], value), name
    assert {tv_to_mmaction(k) for k in expected} == set(backbone)  # every backbone tensor


def test_six_class_configs_need_the_matching_official_order(capsys, tmp_path):
    """The official classifier has 7 rows; a model they trained on MMI/BU-3DFE uses rows 0-5 in
    their order Angry, Disgust, Fear, Happy, Sad, Surprise (so 'Sad' is row 4, not DFEW's 5)."""
    src = write_official(tmp_path / 'mmi.pth')
    line = refused_in_process(capsys, src, tmp_path / 'out.pth', '--config',
                              osp.join(ROOT, 'configs/est_r18_mmi.py'))
    assert '6 classes' in line and '--trained-on' in line, line
    assert not osp.exists(tmp_path / 'out.pth')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/est_r18_mmi.py'))
    out = convert_official_checkpoint(src, cfg, trained_on='MMI')
    theirs = strip(official_state())['classifier.5.0.bias']
    mmi_rows = ('Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise')
    classes = out['meta']['dataset_meta']['classes']
    ours = out['state_dict']['cls_head.classifier.5.bias']
    for i, name in enumerate(classes):
        assert torch.equal(ours[i], theirs[mmi_rows.index(name)]), name
    assert out['meta']['converted_from']['trained_on'] == 'MMI'
