"""Issue 14, second pass: mistakes a user makes at the command line end with one line naming the
real cause (a --cfg-options typo or bad value, a text file as the config, an ONNX file as the
checkpoint, an output folder that cannot be written, an empty file to convert, a URL the server
does not have, a device this machine lacks) and check_dataset's bars stay off a pipe."""
import functools
import http.server
import os
import os.path as osp
import subprocess
import sys
import threading

import pytest
import torch

import est_mm  # noqa: F401
from est_mm.utils import CheckpointError, safe_load_checkpoint
from est_mm.utils.config import ConfigError, load_config, option_in_error
from est_mm.utils.devices import available_devices, resolve_device
from est_mm.utils.files import check_writable_dir
from test_check_dataset import toy_set  # noqa: F401  (a 16 px toy set in DFEW layout)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = 'configs/est_r18_toy.py'


def run(*argv, timeout=300):
    """``python <argv>`` from the repository root: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def one_line(stderr):
    """The last line of ``stderr``, after checking there is no traceback in it."""
    assert 'Traceback' not in stderr, stderr[-3000:]
    return stderr.strip().splitlines()[-1]


def cfg_options(*entries):
    """``entries`` parsed as the tools parse ``--cfg-options``."""
    import argparse

    from tools.argtypes import add_cfg_options
    parser = argparse.ArgumentParser()
    add_cfg_options(parser)
    return parser.parse_args(['--cfg-options', *entries]).cfg_options


# --- --cfg-options ---------------------------------------------------------------------------

@pytest.mark.parametrize('entry,expected', [
    ('model.cls_head.num_clases=7', "ESTHead (model.cls_head) takes no argument 'num_clases'; "
     'did you mean model.cls_head.num_classes?'),
    ('train_dataloader.batch_size=abc', 'must be a number (configs/est_r18_toy.py has 8)'),
    ('train_dataloader.persistent_workers=maybe', 'must be true or false'),
    ('train_dataloader.batch_sizes=4', "a dataloader takes no setting 'batch_sizes'; did you "
     'mean train_dataloader.batch_size?'),
    ('test_dataloader.dataset.fodl=2', "DFEWDataset (test_dataloader.dataset) takes no argument "
     "'fodl'; did you mean test_dataloader.dataset.fold?"),
    ('train_cfg.max_epoch=3', "takes no argument 'max_epoch'; did you mean train_cfg.max_epochs?"),
    ('default_hooks.checkpoint.max_keep_ckpt=1', 'did you mean '
     'default_hooks.checkpoint.max_keep_ckpts?'),
    ('train_dataloader.dataset.pipeline.9.scale=(32,32)',
     'train_dataloader.dataset.pipeline is a list of 6: index its entries 0..5'),
    ('model.backbone.depth.x=1', 'model.backbone.depth is 18 in configs/est_r18_toy.py, not a '
     'group of settings'),
    ('model.backbone=resnet18', 'model.backbone is a group of settings'),
    ('model.backbone.type=ResNett', "no 'ResNett' among the registered model types; did you "
     'mean ResNet?'),
    ('test_dataloader.dataset.pipeline.3.type=Resise', 'did you mean Resize?'),
])
def test_cfg_options_that_cannot_work_are_one_line(entry, expected):
    with pytest.raises(ConfigError) as err:
        load_config(CFG, cfg_options(entry))
    message = str(err.value)
    assert message.startswith(f'--cfg-options {entry}: ') and expected in message, message
    assert '\n' not in message


def test_cfg_options_that_work_are_merged(capsys):
    cfg = load_config(CFG, cfg_options(
        'model.cls_head.num_classes=5', 'train_dataloader.batch_size=2',
        'train_dataloader.dataset.pipeline.3.scale=(32,32)', 'optim_wrapper.optimizer.lr=1',
        'work_dir=/tmp/somewhere', 'model.cls_head.ssop=None', 'train_cfg.max_epochs=1',
        'default_hooks.checkpoint.interval=1'))
    assert cfg.model.cls_head.num_classes == 5 and cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.dataset.pipeline[3].scale == (32, 32)
    assert cfg.model.cls_head.ssop is None and cfg.work_dir == '/tmp/somewhere'
    assert capsys.readouterr().err == ''  # nothing new, nothing noted


def test_cfg_options_earlier_argument_names_still_work(capsys):
    """ESTHead takes ssop_loss_weight through **kwargs (with a FutureWarning when built): the
    check builds the head to tell it from a typo, and says nothing."""
    cfg = load_config(CFG, cfg_options('model.cls_head.ssop_loss_weight=0.5'))
    assert cfg.model.cls_head.ssop_loss_weight == 0.5
    assert capsys.readouterr().err == ''


def test_cfg_options_new_key_without_a_class_is_added_with_a_note(capsys):
    cfg = load_config(CFG, cfg_options('randomness.sed=3'))
    assert cfg.randomness.sed == 3
    err = capsys.readouterr().err.strip()
    assert err == ('note: --cfg-options randomness.sed=3: configs/est_r18_toy.py has no '
                   'randomness.sed; added as a new setting (did you mean randomness.seed?)')


def test_value_refused_when_built_is_blamed_on_its_option():
    opts = cfg_options('test_dataloader.dataset.fold=9', 'test_dataloader.batch_size=0')
    assert option_in_error(opts, ValueError('DFEWDataset: fold must be 1..5, got 9')) == \
        'test_dataloader.dataset.fold=9'
    assert option_in_error(opts, ValueError('batch_size should be a positive integer value, '
                                            'but got batch_size=0')) == \
        'test_dataloader.batch_size=0'
    assert option_in_error(opts, ValueError('something else broke')) is None
    assert option_in_error(None, ValueError('fold')) is None
    typed = cfg_options('model.backbone.type=ResNet')  # "type" alone: only with its value
    assert option_in_error(typed, TypeError('unsupported operand type(s)')) is None
    assert option_in_error(typed, ValueError('ResNet: depth 7 is not one of 18, 34, 50')) == \
        'model.backbone.type=ResNet'


@pytest.mark.parametrize('entry', ['justakey', '=3', 'a..b=1', 'a=[1,2'])
def test_cfg_options_not_key_value_is_refused_by_the_parser(entry):
    rc, _, err = run('tools/test.py', CFG, 'x.pth', '--cfg-options', entry, timeout=60)
    assert rc == 2
    last = one_line(err)
    assert last.startswith('test.py: error: argument --cfg-options: '), last


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_tools_stop_on_a_cfg_options_typo_with_one_line(tool, tmp_path):
    argv = [tool, CFG] + (['missing.pth'] if tool.endswith('test.py') else []) + [
        '--work-dir', str(tmp_path / 'wd'), '--cfg-options', 'model.cls_head.num_clases=7']
    rc, _, err = run(*argv)
    assert rc == 1
    assert one_line(err) == ('--cfg-options model.cls_head.num_clases=7: ESTHead '
                             "(model.cls_head) takes no argument 'num_clases'; did you mean "
                             'model.cls_head.num_classes?')
    assert not (tmp_path / 'wd').exists()  # stopped before anything was built or written


# --- a file that is not a config -------------------------------------------------------------

@pytest.fixture
def notes(tmp_path):
    path = tmp_path / 'notes.txt'
    path.write_text('remember to train the model\n')
    return str(path)


@pytest.mark.parametrize('argv', [
    ['tools/test.py', '{config}', 'x.pth'],
    ['tools/train.py', '{config}'],
    ['tools/data/check_dataset.py', '{config}'],
    ['tools/analysis/complexity.py', '{config}', '--throughput-iters', '0'],
], ids=lambda a: a[0])
def test_text_file_as_config_is_one_line(argv, notes):
    rc, _, err = run(*[a.format(config=notes) for a in argv])
    assert rc == 1
    assert one_line(err).endswith(f'{notes}: not a config file (configs are .py, .json, .yaml '
                                  'or .yml files, e.g. configs/est_r18_dfew.py)')


def test_config_that_cannot_be_read_or_is_no_model_config(tmp_path):
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(type=\n')
    with pytest.raises(ConfigError, match=rf'^{broken}: cannot read the config: SyntaxError'):
        load_config(str(broken))
    plain = tmp_path / 'plain.py'
    plain.write_text('x = 1\n')
    with pytest.raises(ConfigError, match=rf'^{plain}: has no model: not an mmaction2 config'):
        load_config(str(plain))
    with pytest.raises(ConfigError, match='is a folder, not a config file'):
        load_config(str(tmp_path))
    with pytest.raises(ConfigError, match='no such config file'):
        load_config(str(tmp_path / 'absent.py'))


# --- an ONNX file as the checkpoint ----------------------------------------------------------

@pytest.fixture(scope='module')
def onnx_file(module_tmp):
    """A small real ONNX model (one Relu), as torch.onnx writes them (producer 'pytorch')."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'g',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, producer_name='pytorch')
    path = str(module_tmp.mktemp('onnx') / 'est.onnx')
    onnx.save(model, path)
    return path


def test_onnx_file_as_checkpoint_says_what_it_is(onnx_file, tmp_path):
    renamed = tmp_path / 'est.pth'  # the name does not decide it
    renamed.write_bytes(open(onnx_file, 'rb').read())
    for path in (onnx_file, str(renamed)):
        with pytest.raises(CheckpointError) as err:
            safe_load_checkpoint(path)
        message = str(err.value)
        assert message.startswith(f'{path}: an ONNX model, not a PyTorch checkpoint: ')
        assert '--backend onnxruntime' in message and 'safe loading' not in message


def test_test_py_with_onnx_checkpoint_is_one_line(onnx_file, tmp_path):
    rc, _, err = run('tools/test.py', CFG, onnx_file, '--work-dir', str(tmp_path / 'wd'))
    assert rc == 1
    last = one_line(err)
    assert last.startswith(f'{onnx_file}: an ONNX model, not a PyTorch checkpoint') and \
        'need the .pth checkpoint it was exported from' in last


# --- output folders that cannot be written ---------------------------------------------------

def test_check_writable_dir(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(OSError, match=rf'^{blocker}/out: cannot write to this folder '
                       r'\(Not a directory\)$'):
        check_writable_dir(str(blocker / 'out'))
    with pytest.raises(OSError, match='Not a directory'):
        check_writable_dir(str(blocker / 'out' / 'deeper'), create=False)
    check_writable_dir(str(tmp_path / 'new' / 'deeper'), create=False)
    assert not (tmp_path / 'new').exists()  # create=False creates nothing
    check_writable_dir(str(tmp_path / 'made'))
    assert (tmp_path / 'made').is_dir()


def test_test_py_unwritable_dump_folder_before_anything(tmp_path):
    """The folder is refused before the checkpoint (absent here) is even looked at."""
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    rc, _, err = run('tools/test.py', CFG, str(tmp_path / 'absent.pth'), '--work-dir',
                     str(tmp_path / 'wd'), '--dump', str(blocker / 'preds.pkl'))
    assert rc == 1
    assert one_line(err) == f'{blocker}: cannot write to this folder (Not a directory)'


def test_extract_faces_unwritable_out_before_any_video(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    rc, _, err = run('tools/data/extract_faces.py', str(tmp_path / 'absent.mp4'), '--out',
                     str(blocker / 'faces'))
    assert rc == 1
    assert one_line(err) == f'error: {blocker}/faces: cannot write to this folder (Not a directory)'


def test_analysis_tool_unwritable_json_folder(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    rc, _, err = run('tools/analysis/complexity.py', CFG, '--throughput-iters', '0', '--json',
                     str(blocker / 'report.json'))
    assert rc == 1
    assert one_line(err) == f'{blocker}: cannot write to this folder (Not a directory)'


# --- the ResNet converter on an empty file ---------------------------------------------------

def test_resnet_converter_empty_file_is_one_line(tmp_path):
    empty = tmp_path / 'resnet18_face.pth'
    empty.write_bytes(b'')
    rc, _, err = run('tools/convert/resnet_checkpoint.py', str(empty), str(tmp_path / 'out.pth'),
                     timeout=120)
    assert rc == 1
    assert one_line(err) == f'{empty}: empty file (0 bytes), not a checkpoint'
    assert not (tmp_path / 'out.pth').exists()


# --- a URL the server does not have ----------------------------------------------------------

@pytest.fixture
def http_root(tmp_path):
    """``http://127.0.0.1:<port>`` serving the empty folder ``tmp_path`` (from a thread)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_url_404_names_the_http_status(http_root):
    from est_mm.video.sources import StreamError, open_stream
    url = f'{http_root}/missing.mp4'
    with pytest.raises(StreamError) as err:
        open_stream(url, timeout=10)
    assert str(err.value) == f'{url}: cannot open (HTTP 404 Not Found)'


# --- devices ---------------------------------------------------------------------------------

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
    rc, _, err = run('tools/analysis/complexity.py', CFG, '--device', 'mps')
    assert rc == 1
    assert one_line(err) == ('--device mps: this machine has no mps device (devices here: '
                             f'{", ".join(available_devices())})')


# --- check_dataset's progress bars -----------------------------------------------------------

@pytest.mark.parametrize('flag', [None, '--progress'])
def test_check_dataset_bars_only_on_a_terminal_unless_asked(toy_set, flag):
    rc, out, err = run('tools/data/check_dataset.py', CFG, '--splits', 'test', '--deep',
                       *([flag] if flag else []), '--cfg-options',
                       f'test_dataloader.dataset.data_root={toy_set}', timeout=120)
    assert rc == 0, out + err
    assert ('decoding every frame' in err) == (flag == '--progress'), err
