"""What ``tools/train.py`` and ``tools/test.py`` share: checks that end a run with one line before
anything is built (data folders, SSOP batch size), and building a Runner for any launcher (on a
machine without a GPU, distributed runs use gloo). The tools declare their own arguments, so that
``--help`` answers before torch is imported."""
import errno
import os
import stat

from mmengine.runner import Runner

from mmaction.registry import RUNNERS
from .. import compat


def launcher_world_size(launcher: str):
    """Number of processes the launcher starts, read from its environment before any process group
    exists (1 for 'none'; None if the launcher's variable is not set)."""
    if launcher == 'none':
        return 1
    key = {'pytorch': 'WORLD_SIZE', 'slurm': 'SLURM_NTASKS',
           'mpi': 'OMPI_COMM_WORLD_SIZE'}.get(launcher, 'WORLD_SIZE')
    value = os.environ.get(key)
    return int(value) if value and value.isdigit() else None


def check_train_batch(cfg, launcher: str) -> None:
    """Before building data or model: an ESTHead with an SSOP branch (``model.cls_head.ssop``)
    cannot train on ``train_dataloader.batch_size=1`` unless >= 2 processes share its BatchNorm
    statistics (``ssop.sync_bn``); raises est_mm's one-line ``SSOPBatchError`` otherwise."""
    from ..models.heads.ssop import check_ssop_batch
    head = (cfg.get('model') or {}).get('cls_head') or {}
    if str(head.get('type', '')).endswith('ESTHead'):
        check_ssop_batch(head, (cfg.get('train_dataloader') or {}).get('batch_size'),
                         launcher_world_size(launcher))


def check_data_roots(cfg, loaders) -> None:
    """Before building any dataset: the ``data_root`` of each named dataloader's dataset (also of
    wrapped datasets, e.g. ``RepeatDataset``) must be a readable folder; raises an ``OSError`` whose
    message is one line naming the folder, the problem and the config key."""
    def roots(node, key):
        if isinstance(node, dict):
            for name, value in node.items():
                if name == 'data_root' and value:
                    yield f'{key}.{name}', str(value)
                else:
                    yield from roots(value, f'{key}.{name}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                yield from roots(value, f'{key}.{i}')

    for loader in loaders:
        for key, root in roots((cfg.get(loader) or {}).get('dataset'), f'{loader}.dataset'):
            if '://' in root:
                continue
            try:
                is_dir = stat.S_ISDIR(os.stat(root).st_mode)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    problem = 'is a symbolic link loop'
                elif err.errno == errno.ENOENT and os.path.islink(root):
                    problem = f'is a symbolic link to a missing {os.readlink(root)}'
                elif err.errno == errno.ENOENT:
                    problem = 'not found'
                else:
                    problem = f'cannot be read: {err.strerror}'
                raise type(err)(f'{root}: data folder {problem} ({key})') from None
            if not is_dir:
                raise NotADirectoryError(f'{root}: data folder is a file, not a folder ({key})')


def _no_persistent_workers_without_workers(cfg) -> None:
    """``persistent_workers=True`` (the dataset configs' setting) with ``num_workers=0`` (e.g. given
    with --cfg-options) makes the DataLoader raise; turn it off with a one-line note instead."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader_cfg = cfg.get(loader)
        if loader_cfg and loader_cfg.get('num_workers', 0) == 0 and \
                loader_cfg.get('persistent_workers', False):
            loader_cfg['persistent_workers'] = False
            print(f'note: {loader}.num_workers=0, so {loader}.persistent_workers=False '
                  '(persistent workers need workers)', flush=True)


def finish_distributed() -> None:
    """At the end of a distributed run: every process waits for the others (rank 0 may still be
    saving the last checkpoint), then all process groups are destroyed. A gloo rank that left
    while rank 0 was saving aborted at exit ('terminate called without an active exception')."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def build_runner(cfg, args) -> Runner:
    """Apply the launcher, set up CPU (gloo) distribution where needed and build the Runner."""
    _no_persistent_workers_without_workers(cfg)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg.launcher = args.launcher
    compat.cpu_distributed_setup(cfg, args.launcher)
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
