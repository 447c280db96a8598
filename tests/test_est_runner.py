"""ESTRunner: mmaction2's own train.py (what `mim train` runs) on configs/est_r18_custom.py takes
the class names and num_classes from the list folder's classes.txt, and a data_root given with
--cfg-options moves every dataset, as est_mm's tools do."""
import os
import os.path as osp
import subprocess
import sys

import mmaction
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import est_mm  # noqa: F401  (registers ESTRunner)
from est_mm.engine import ESTRunner
from est_mm.utils.config import follow_data_root
from helpers.cli import ROOT

CUSTOM = osp.join(ROOT, 'configs', 'est_r18_custom.py')
MIM_TRAIN = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', 'train.py')
CLASSES = ('calm', 'engaged', 'confused')


@pytest.fixture
def lists(toy_root, tmp_path):
    """A list folder as tools/data/make_lists.py writes it, over the toy set's frame folders
    (absolute paths), 3 classes."""
    clips = sorted(osp.join(toy_root, 'Clip', 'clip_224x224', name)
                   for name in os.listdir(osp.join(toy_root, 'Clip', 'clip_224x224')))
    folder = tmp_path / 'lists'
    folder.mkdir()
    (folder / 'classes.txt').write_text(''.join(f'{name}\n' for name in CLASSES))
    for split, chosen in (('train', clips[:6]), ('val', clips[6:9]), ('test', clips[9:12])):
        (folder / f'{split}.txt').write_text(
            ''.join(f'{path} {i % 3}\n' for i, path in enumerate(chosen)))
    return str(folder)


def plainly_merged(options):
    """The config as mmaction2's train.py holds it: read and merged by mmengine alone."""
    cfg = Config.fromfile(CUSTOM)
    cfg.merge_from_dict(options)
    return cfg


def test_plain_merge_leaves_the_datasets_and_the_head_unresolved(lists):
    cfg = plainly_merged({'data_root': lists})
    assert cfg.runner_type == 'ESTRunner'
    assert cfg.model.cls_head.num_classes is None
    assert cfg.train_dataloader.dataset.data_root == 'data/custom'


def test_follow_data_root_moves_only_what_the_file_wrote_from_it(lists, tmp_path, capsys):
    other = str(tmp_path)
    cfg = plainly_merged({'data_root': lists, 'val_dataloader.dataset.data_root': other})
    moved = follow_data_root(cfg)
    assert moved == ['train_dataloader.dataset.data_root', 'test_dataloader.dataset.data_root']
    assert cfg.train_dataloader.dataset.data_root == lists
    assert cfg.test_dataloader.dataset.data_root == lists
    assert cfg.val_dataloader.dataset.data_root == other  # set on its own: kept
    assert f'note: data_root={lists} also sets' in capsys.readouterr().err
    assert follow_data_root(cfg) == []  # nothing left to move


def test_runner_builds_the_head_from_classes_txt(lists, tmp_path):
    cfg = plainly_merged({'data_root': lists, 'work_dir': str(tmp_path / 'work')})
    with pytest.raises(TypeError, match='NoneType'):
        Runner.from_cfg(cfg)  # mmengine alone: num_classes None, the head cannot be built
    runner = ESTRunner.from_cfg(cfg)
    assert runner.model.cls_head.num_classes == len(CLASSES)
    assert runner.cfg.train_dataloader.dataset.metainfo.classes == list(CLASSES)
    assert cfg.model.cls_head.num_classes is None  # the caller's config is left as it was


def test_mim_train_on_the_custom_config(lists, tmp_path):
    work = str(tmp_path / 'work')
    opts = [f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
            for key in ('num_workers=0', 'persistent_workers=False', 'batch_size=3',
                        'dataset.pipeline.3.scale=(32,32)')]
    proc = subprocess.run(
        [sys.executable, MIM_TRAIN, CUSTOM, '--work-dir', work, '--cfg-options',
         f'data_root={lists}', *opts, 'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    checkpoint = open(osp.join(work, 'last_checkpoint')).read().strip()
    saved = torch.load(checkpoint, map_location='cpu', weights_only=True)
    assert saved['state_dict']['cls_head.classifier.5.weight'].shape[0] == len(CLASSES)
    assert tuple(saved['meta']['dataset_meta']['classes']) == CLASSES
