"""Every runnable config builds; dataset configs differ only in data and class count; the
held-out validation config selects a checkpoint without touching the test split."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

import est_mm  # noqa: F401
from mmaction.registry import DATASETS, MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                                          recursive=True)
                 if '_base_' not in p)
register_all_modules()


def load(path):
    return Config.fromfile(osp.join(ROOT, path))


def test_all_configs_are_found():
    assert len(CONFIGS) >= 13


@pytest.mark.parametrize('path', CONFIGS)
def test_config_parses_and_has_the_paper_recipe(path):
    cfg = load(path)
    assert cfg.model.type == 'ESTRecognizer'
    assert cfg.custom_imports.imports == ['est_mm']
    assert cfg.optim_wrapper.optimizer.type == 'Adam' and cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.train_dataloader.batch_size == 8
    assert {e['type'] for e in cfg.test_evaluator} == {'AccMetric', 'FERConfusionMatrix'}
    # the hook that writes FERConfusionMatrix's files comes with the runtime base
    assert 'FERReportHook' in {h['type'] for h in cfg.custom_hooks}
    # the SSOP branch is its own entry; no argument of earlier versions is left
    head = cfg.model.cls_head
    assert 'ssop' in head and head.loss_ssop.type == 'CrossEntropyLoss'
    assert not {'ssop_loss_weight', 'ssop_channels', 'num_permutations', 'permutation_seed',
                'permutations', 'ssop_detach', 'ssop_sync_bn'} & set(head)


@pytest.mark.parametrize('name,classes,dataset', [
    ('dfew', 7, 'DFEWDataset'), ('ferv39k', 7, 'FERV39kDataset'), ('mafw', 11, 'MAFWDataset'),
    ('afew', 7, 'AFEWDataset'), ('bu3dfe', 6, 'BU3DFEDataset'), ('mmi', 6, 'MMIDataset')])
def test_dataset_configs_change_only_data_and_class_count(name, classes, dataset):
    cfg, ref = load(f'configs/est_r18_{name}.py'), load('configs/est_r18_dfew.py')
    assert cfg.model.cls_head.num_classes == classes
    assert DATASETS.get(cfg.train_dataloader.dataset.type) is not None
    assert cfg.train_dataloader.dataset.type == cfg.test_dataloader.dataset.type == dataset
    ref.model.cls_head.num_classes = classes
    assert cfg.model == ref.model
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'randomness'):
        assert cfg[key] == ref[key], key
    assert cfg.train_dataloader.dataset.pipeline == ref.train_dataloader.dataset.pipeline


@pytest.fixture(scope='module')
def toy3(module_tmp):
    from est_mm.datasets.toy import generate_toy_dataset
    root = str(module_tmp.mktemp('toy3') / 'dfew')
    generate_toy_dataset(root, train_per_class=3, test_per_class=1, frame_size=32, min_frames=3,
                         max_frames=8, progress=False)
    return root


def test_holdout_config_splits_the_training_fold(toy3):
    cfg = load('configs/est_r18_dfew_val.py')
    datasets = {}
    for split in ('train', 'val', 'test'):
        spec = cfg[f'{split}_dataloader'].dataset
        spec.data_root = toy3
        ds = DATASETS.build(spec)
        datasets[split] = {ds.get_data_info(i)['frame_dir'] for i in range(len(ds))}
    assert len(datasets['val']) == 7  # one per class (10 % of 3, at least 1)
    assert not datasets['val'] & datasets['train'] and not datasets['val'] & datasets['test']
    assert len(datasets['train']) == 14


def test_holdout_config_saves_best_checkpoint_by_val_uar(toy3, tmp_path):
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={toy3}', f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
        opts.append(f'{split}_dataloader.dataset.pipeline.3.scale=(32,32)')  # the Resize step
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/est_r18_dfew_val.py', '--work-dir',
         str(tmp_path), '--cfg-options', *opts, 'train_cfg.max_epochs=1',
         'train_dataloader.batch_size=7', 'default_hooks.checkpoint.save_optimizer=False'],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
        timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'Epoch(val)' in out and 'Epoch(test)' not in out
    assert glob.glob(str(tmp_path / 'best_acc_mean1_epoch_1.pth'))


def test_every_config_builds_its_model():
    for path in CONFIGS:
        if 'toy' in path or 'custom' in path:  # custom: classes.txt sets num_classes (test_finetune)
            continue
        model = MODELS.build(load(path).model)
        assert model.cls_head.num_classes in (6, 7, 11), path
