"""est_mm.utils.config as the tools use it: a --cfg-options typo or bad value, a file that is not a
config, or a config that cannot be read ends with one line naming the real cause; options that
work are merged."""
import pytest

import est_mm  # noqa: F401
from est_mm.utils.config import ConfigError, load_config, option_in_error
from helpers.cli import TOY_CONFIG as CFG, one_line, run


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


def test_cfg_options_kwargs_of_a_model_part_are_checked_by_building_it(capsys):
    """ESTHead passes **kwargs on to mmaction2's BaseHead: the check builds the head to tell an
    argument it takes (label_smooth_eps) from one it does not (an argument of earlier versions),
    and says nothing about the first."""
    cfg = load_config(CFG, cfg_options('model.cls_head.label_smooth_eps=0.1'))
    assert cfg.model.cls_head.label_smooth_eps == 0.1
    assert capsys.readouterr().err == ''
    with pytest.raises(ConfigError, match=r"^--cfg-options model.cls_head.ssop_loss_weight=0.5: "
                       r"ESTHead \(model.cls_head\) takes no argument 'ssop_loss_weight'"):
        load_config(CFG, cfg_options('model.cls_head.ssop_loss_weight=0.5'))


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
