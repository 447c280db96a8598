import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A tiny toy set in the official DFEW layout: 7 train / 7 test clips per fold, 32 px."""
    from est_mm.datasets.toy import generate_toy_dataset
    root = str(tmp_path_factory.mktemp('toy') / 'dfew')
    generate_toy_dataset(root, train_per_class=1, test_per_class=1, frame_size=32, min_frames=3,
                         max_frames=12, progress=False)
    return root


def data_options(root, epochs=1, batch=4):
    """--cfg-options for a fast run of a toy/DFEW config on ``root`` (no workers, 1 epoch)."""
    opts = [f'{split}_dataloader.{key}' for split in ('train', 'test')
            for key in (f'dataset.data_root={root}', 'num_workers=0', 'persistent_workers=False',
                        f'batch_size={batch}')]
    return ['--cfg-options', *opts, f'train_cfg.max_epochs={epochs}',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']
