"""Make each training epoch's randomness a function of (seed, epoch) only, so that a run resumed
from an epoch checkpoint continues exactly as the uninterrupted run would have.

mmengine resumes from the last epoch checkpoint but does not restore the RNG states; EST draws
random numbers in SnippetSampling and Flip (numpy), the SSOP permutations and dropout (torch).
"""
import random
from functools import partial

import numpy as np
import torch
from mmengine.hooks import Hook

from mmaction.registry import HOOKS


def epoch_seed(seed: int, epoch: int, *more: int) -> int:
    """A 31-bit seed derived from (seed, epoch, *more) (numpy SeedSequence: unrelated streams
    for neighbouring inputs, unlike seed + epoch)."""
    entropy = [int(seed) % 2**63, int(epoch), *(int(m) for m in more)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also every CUDA device


def _seed_worker(worker_id: int, seed: int, epoch: int, rank: int, inner=None) -> None:
    """DataLoader ``worker_init_fn``: the config's own (e.g. mmengine's, which also silences
    warnings), then python/numpy/torch seeded from (seed, epoch, rank, worker_id)."""
    if inner is not None:
        inner(worker_id)
    seed_everything(epoch_seed(seed, epoch, rank, worker_id))


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Before every training epoch, reseed python ``random``, numpy and torch with
    ``epoch_seed(runner.seed, epoch)``, and make DataLoader workers (if any) seed themselves from
    (seed, epoch, rank, worker id).

    Exactness: with ``num_workers=0`` everything random happens in the main process and is exact.
    With non-persistent workers (new worker processes every epoch) it is exact too. Persistent
    workers are created once and carry their RNG state from epoch to epoch, which a resumed run
    cannot reproduce; with ``restart_persistent_workers=True`` (default) this hook shuts them down
    at every epoch start so new ones are seeded for that epoch (costs one worker start-up per
    epoch); with False they stay alive and a resumed run is not exact.

    Args:
        restart_persistent_workers (bool): see above. Defaults to True.
    """

    priority = 'VERY_HIGH'  # before anything else draws random numbers in the epoch

    def __init__(self, restart_persistent_workers: bool = True):
        self.restart_persistent_workers = restart_persistent_workers

    def before_train_epoch(self, runner) -> None:
        seed, epoch = runner.seed, runner.epoch
        if seed is None:
            return
        seed_everything(epoch_seed(seed, epoch))
        loader = runner.train_dataloader
        if not isinstance(loader, torch.utils.data.DataLoader) or loader.num_workers == 0:
            return
        inner = loader.worker_init_fn
        while isinstance(inner, partial) and inner.func is _seed_worker:
            inner = inner.keywords.get('inner')
        loader.worker_init_fn = partial(_seed_worker, seed=seed, epoch=epoch, rank=runner.rank,
                                        inner=inner)
        iterator = getattr(loader, '_iterator', None)
        if loader.persistent_workers and iterator is not None and \
                self.restart_persistent_workers:
            iterator._shutdown_workers()
            loader._iterator = None
