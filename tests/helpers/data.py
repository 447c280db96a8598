"""Command-line options for fast runs on generated data."""


def data_options(root, epochs=1, batch=4):
    """--cfg-options for a fast run of a toy/DFEW config on ``root`` (no workers, 1 epoch)."""
    opts = [f'{split}_dataloader.{key}' for split in ('train', 'test')
            for key in (f'dataset.data_root={root}', 'num_workers=0', 'persistent_workers=False',
                        f'batch_size={batch}')]
    return ['--cfg-options', *opts, f'train_cfg.max_epochs={epochs}',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']
