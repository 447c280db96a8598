"""What ``tools/train.py`` and ``tools/test.py`` share: the ``--cfg-options`` argument and building
a Runner for any launcher (on a machine without a GPU, distributed runs use gloo)."""
import argparse
import os

from mmengine.config import DictAction
from mmengine.runner import Runner

from mmaction.registry import RUNNERS
from .. import compat


def cfg_options_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs merged into it, e.g. '
        'train_dataloader.dataset.data_root=/data/DFEW or key="[a,b]" for lists '
        '(quotes needed, no spaces)')


def launcher_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher: none = one process; pytorch = started by torchrun '
        '(tools/dist_train.sh); slurm = started by srun (tools/slurm_train.sh)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by the launcher; not for manual use')


def build_runner(cfg, args) -> Runner:
    """Apply the launcher, set up CPU (gloo) distribution where needed and build the Runner."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg.launcher = args.launcher
    compat.cpu_distributed_setup(cfg, args.launcher)
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
