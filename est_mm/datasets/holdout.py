"""A deterministic, class-stratified validation hold-out inside a training list."""
from typing import Hashable, Sequence

import numpy as np

SUBSETS = (None, 'train', 'val')


def check_holdout_args(owner: str, val_ratio: float, val_seed: int, subset) -> None:
    """Raise a one-line ``ValueError`` naming ``owner`` for invalid hold-out arguments."""
    if subset not in SUBSETS:
        raise ValueError(f"{owner}: subset must be None, 'train' or 'val', got {subset!r}")
    if isinstance(val_ratio, bool) or not isinstance(val_ratio, (int, float, np.number)):
        raise ValueError(f'{owner}: val_ratio must be a number, got {val_ratio!r}')
    if not 0 <= val_ratio < 1:
        raise ValueError(f'{owner}: val_ratio must be in [0, 1), got {val_ratio!r}')
    if subset is not None and not 0 < val_ratio < 1:
        raise ValueError(f'{owner}: subset={subset!r} needs 0 < val_ratio < 1, '
                         f'got val_ratio={val_ratio!r}')
    if isinstance(val_seed, bool) or not isinstance(val_seed, (int, np.integer)) or val_seed < 0:
        raise ValueError(f'{owner}: val_seed must be an integer >= 0, got {val_seed!r}')


def num_held_out(n: int, val_ratio: float) -> int:
    """How many of a class's ``n`` samples go to validation: ``val_ratio * n`` rounded half
    up, at least 1 and at most ``n - 1`` when ``n >= 2``; 0 for a class with one sample."""
    if n < 2 or val_ratio <= 0:
        return 0
    k = int(np.floor(val_ratio * n + 0.5))
    return min(max(k, 1), n - 1)


def stratified_holdout(labels: Sequence[Hashable], keys: Sequence[str], val_ratio: float,
                       seed: int = 0) -> np.ndarray:
    """Boolean mask of the samples held out for validation.

    Per class: the samples are ordered by ``keys`` (their paths), shuffled with a fresh
    ``np.random.RandomState(seed)`` and the first :func:`num_held_out` of them are held out.
    The mask depends only on (label, key) pairs, ``val_ratio`` and ``seed``, not on list order.
    """
    if len(labels) != len(keys):
        raise ValueError(f'stratified_holdout: {len(labels)} labels but {len(keys)} keys')
    mask = np.zeros(len(labels), dtype=bool)
    by_class = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for label in sorted(by_class, key=repr):
        members = sorted(by_class[label], key=lambda i: (keys[i], i))
        k = num_held_out(len(members), val_ratio)
        if k:
            order = np.random.RandomState(seed).permutation(len(members))
            mask[[members[j] for j in order[:k]]] = True
    return mask
