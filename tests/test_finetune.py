"""Fine-tuning on your own classes: configs/est_r18_custom.py reads its classes from a list
folder's classes.txt; a checkpoint trained on other classes re-maps (same names, another order)
or re-initialises only the final classifier layer, saying so in one line; and the whole journey
(class folders -> lists -> fine-tune -> test -> demo) at toy scale."""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import est_mm  # noqa: F401  (registers est_mm's modules)
from est_mm.engine.class_mapping import final_layer, map_final_layer
from est_mm.engine.hooks.est_meta_hook import est_checkpoint_meta
from est_mm.utils.config import ConfigError, load_config
from helpers.media import write_h264
from mmaction.registry import DATASETS, MODELS
from mmaction.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CUSTOM = osp.join(ROOT, 'configs', 'est_r18_custom.py')
DFEW = ('Happy', 'Sad', 'Neutral', 'Angry', 'Surprise', 'Disgust', 'Fear')
AFEW_ORDER = ('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise')
LAST = 'cls_head.classifier.5'
register_all_modules()


def write_lists(folder, classes, samples=()):
    """A list folder as tools/data/make_lists.py writes it: classes.txt and train/val/test.txt
    (``samples``: ``(split, path, label)``)."""
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, 'classes.txt'), 'w') as f:
        f.write(''.join(f'{name}\n' for name in classes))
    for split in ('train', 'val', 'test'):
        with open(osp.join(folder, f'{split}.txt'), 'w') as f:
            f.write(''.join(f'{path} {label}\n' for s, path, label in samples if s == split))
    return str(folder)


def custom_cfg(list_dir):
    """configs/est_r18_custom.py pointed at ``list_dir`` the documented way."""
    return load_config(CUSTOM, {f'{split}_dataloader.dataset.data_root': str(list_dir)
                                for split in ('train', 'val', 'test')})


def dfew_checkpoint(path, happy_bias=None):
    """A 7-class EST-R18 checkpoint whose meta names DFEW's classes, as ESTMetaHook writes it;
    ``happy_bias``: the final bias makes Happy win by that margin."""
    cfg = custom_cfg(write_lists(osp.join(osp.dirname(path), 'dfew_lists'), DFEW))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    if happy_bias is not None:
        state[f'{LAST}.bias'][:] = 0
        state[f'{LAST}.bias'][DFEW.index('Happy')] = happy_bias
    meta = dict(est=est_checkpoint_meta(cfg, DFEW, model), dataset_meta=dict(classes=list(DFEW)))
    torch.save(dict(meta=meta, state_dict=state), path)
    return str(path)


def predicted(model, classes):
    model.eval()
    with torch.no_grad():
        scores = model.cls_head(torch.randn(3, 7, 512, generator=torch.Generator().manual_seed(0)))
    return [classes[i] for i in scores.argmax(1).tolist()]


def test_custom_config_takes_classes_and_their_number_from_the_list_folder(tmp_path):
    names = ('bored', 'engaged', 'confused')
    folder = write_lists(tmp_path / 'lists', names)
    cfg = custom_cfg(folder)
    assert cfg.model.cls_head.num_classes == 3
    assert MODELS.build(cfg.model).cls_head.num_classes == 3
    dataset_cfg = dict(cfg.train_dataloader.dataset, lazy_init=True)
    dataset_cfg.pop('metainfo')  # the dataset reads classes.txt itself too
    assert DATASETS.build(dataset_cfg).metainfo['classes'] == list(names)
    with pytest.raises(ConfigError, match=re.escape(osp.join(str(tmp_path), 'classes.txt'))):
        custom_cfg(tmp_path)  # a folder without classes.txt: one line naming the file


def test_reordered_classes_are_remapped_by_name(tmp_path):
    """A checkpoint whose classifier favours Happy, loaded into a config with DFEW's classes
    in AFEW's order, still predicts Happy."""
    ckpt = torch.load(dfew_checkpoint(tmp_path / 'happy.pth', happy_bias=50.0))
    cfg = custom_cfg(write_lists(tmp_path / 'afew_lists', AFEW_ORDER))
    model = MODELS.build(cfg.model)
    line = map_final_layer(ckpt, model, AFEW_ORDER)
    model.load_state_dict(ckpt['state_dict'])
    assert predicted(model, AFEW_ORDER) == ['Happy'] * 3
    assert line == (f'{LAST} (final classifier layer) re-mapped row by row by class name: '
                    f'checkpoint [{", ".join(DFEW)}] -> config [{", ".join(AFEW_ORDER)}]; '
                    'everything else loaded as it is')


def test_other_classes_reinitialise_only_the_final_layer(tmp_path):
    """3 classes from a 7-class checkpoint: the shared class keeps its row, the others keep
    the model's fresh initialisation, every other tensor (SSOP included) is the checkpoint's."""
    ckpt = torch.load(dfew_checkpoint(tmp_path / 'dfew.pth'))
    original = {k: v.clone() for k, v in ckpt['state_dict'].items()}
    classes = ('bored', 'Happy', 'confused')
    model = MODELS.build(custom_cfg(write_lists(tmp_path / 'lists', classes)).model)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    assert final_layer(model) == LAST
    line = map_final_layer(ckpt, model, classes)
    model.load_state_dict(ckpt['state_dict'])
    loaded = model.state_dict()
    changed = {k for k in original if not torch.equal(loaded[k], original[k])
               if loaded[k].shape == original[k].shape} | \
        {k for k in original if loaded[k].shape != original[k].shape}
    assert changed == {f'{LAST}.weight', f'{LAST}.bias'}
    assert any(k.startswith('cls_head.ssop.') for k in original)
    happy = DFEW.index('Happy')
    assert torch.equal(loaded[f'{LAST}.weight'][1], original[f'{LAST}.weight'][happy])
    for row in (0, 2):
        assert torch.equal(loaded[f'{LAST}.weight'][row], fresh[f'{LAST}.weight'][row])
        assert torch.equal(loaded[f'{LAST}.bias'][row], fresh[f'{LAST}.bias'][row])
    assert line == (f"{LAST} (final classifier layer) re-initialised for the config's classes "
                    f'[bored, Happy, confused] (checkpoint: [{", ".join(DFEW)}]): kept the rows '
                    'of Happy, initialised bored, confused; everything else loaded as it is')
    assert '\n' not in line


def test_checkpoint_without_class_names_falls_back_to_shapes(tmp_path):
    ckpt = torch.load(dfew_checkpoint(tmp_path / 'dfew.pth'))
    del ckpt['meta']
    same = MODELS.build(custom_cfg(write_lists(tmp_path / 'seven', AFEW_ORDER)).model)
    assert map_final_layer(dict(ckpt), same, AFEW_ORDER) is None  # nothing to say: no names
    classes = ('bored', 'engaged', 'confused')
    model = MODELS.build(custom_cfg(write_lists(tmp_path / 'three', classes)).model)
    line = map_final_layer(ckpt, model, classes)
    assert line.startswith(f'{LAST} (final classifier layer) re-initialised: the checkpoint '
                           'names no classes and has 7 outputs, the config 3')
    model.load_state_dict(ckpt['state_dict'])  # shapes fit now
