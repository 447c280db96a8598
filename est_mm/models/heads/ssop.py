"""Shuffled snippet order prediction (SSOP, paper §3.3, Algorithm 1)."""
import inspect
import itertools
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from mmengine.dist import get_world_size

from mmaction.registry import MODELS
from .global_batch_norm import GlobalBatchNorm1d


class SSOPBatchError(ValueError):
    """A training step the SSOP branch's BatchNorm cannot take (fewer than 2 clips in the batch
    its statistics span); the message is one line saying what to change."""


def ssop_batch_error(what: str, fix_batch: str = 'use batch_size >= 2',
                     sync_bn: bool = True) -> SSOPBatchError:
    """The one-line error for too few clips per step; ``what`` names the cause, e.g.
    'train_dataloader.batch_size=1 on 1 process'."""
    more = ('run >= 2 processes (tools/dist_train.sh)' if sync_bn else
            'set model.cls_head.ssop.sync_bn=True')
    return SSOPBatchError(f"{what}: SSOP's BatchNorm needs at least 2 clips per step; {fix_batch}, "
                          f'or {more}, or set model.cls_head.ssop=None')


# ESTHead's defaults: the branch with SSOPBranch's defaults; Eq. 7 weight 1/n for n = 7
DEFAULT_SSOP = dict(type='SSOPBranch')
DEFAULT_LOSS_SSOP = dict(type='CrossEntropyLoss', loss_weight=1 / 7)

def ssop_configs(ssop: Optional[Dict], loss_ssop: Dict) -> Tuple[Optional[Dict], Dict]:
    """An ESTHead's ``(ssop, loss_ssop)`` entries with their default ``type`` filled in;
    ``ssop=None`` means no SSOP branch."""
    ssop = None if ssop is None else {**DEFAULT_SSOP, **ssop}
    return ssop, {'type': DEFAULT_LOSS_SSOP['type'], **loss_ssop}


def check_ssop_batch(head: Dict, batch: Optional[int], world: Optional[int]) -> None:
    """Before building anything: raises :class:`SSOPBatchError` when the SSOP branch of an
    ESTHead config ``head`` cannot train on ``batch`` clips per process on ``world`` processes
    (``None``: unknown, nothing is checked)."""
    if batch is None or batch >= 2 or world is None:
        return
    ssop, _ = ssop_configs(head.get('ssop', DEFAULT_SSOP), head.get('loss_ssop', DEFAULT_LOSS_SSOP))
    if ssop is None:
        return
    if world == 1:
        raise ssop_batch_error(f'train_dataloader.batch_size={batch} on 1 process')
    default = inspect.signature(SSOPBranch).parameters['sync_bn'].default
    if not ssop.get('sync_bn', default):
        raise ssop_batch_error(f'train_dataloader.batch_size={batch} per process with '
                               'model.cls_head.ssop.sync_bn=False', sync_bn=False)


def max_hamming_permutations(length: int = 7, count: int = 10, seed: int = 0) -> np.ndarray:
    """A fixed set of ``count`` permutations of ``range(length)``, chosen greedily so that each new
    one maximises its minimum Hamming distance to the identity and to those already chosen (the
    identity itself is never chosen; ties are broken by a RandomState(``seed``) draw).
    Deterministic: [count, length] int64."""
    candidates = np.array(list(itertools.permutations(range(length))), dtype=np.int64)
    min_dist = (candidates != candidates[0]).sum(1)  # candidates[0] is the identity
    rng = np.random.RandomState(seed)
    chosen = []
    for _ in range(count):
        best = np.flatnonzero(min_dist == min_dist.max())
        if min_dist.max() <= 0:
            raise ValueError(f'only {len(candidates) - 1} non-identity permutations of {length} '
                             f'exist, asked for {count}')
        nxt = int(best[rng.randint(len(best))])
        chosen.append(nxt)
        min_dist = np.minimum(min_dist, (candidates != candidates[nxt]).sum(1))
    return candidates[chosen]


@MODELS.register_module()
class SSOPBranch(nn.Module):
    """Predicts which of the fixed permutations shuffled the snippets.

    ESTHead builds it from its ``ssop`` entry, adding ``num_snippets`` and ``dims`` (its own n and
    d). ``hidden``: widths of the classifier's hidden layers (each Linear → BatchNorm → ReLU);
    ``permutations`` (default: ``num_permutations`` max-Hamming ones drawn with ``seed``);
    ``detach`` (official behaviour): R reaches the branch without gradient, so SSOP trains the
    encoder only through T. ``forward(R [B, n, d], T [B, d])`` draws one permutation per clip,
    shuffles O_i = R_i + T and returns (logits [B, P], permutation index [B]). Because the
    encoder is permutation-equivariant and the one-query decoder permutation-invariant, shuffling
    O after the Transformer equals the official shuffle of the input snippets (positional codes
    travel with their snippet).
    With ``sync_bn`` (default) the classifier's BatchNorms are :class:`GlobalBatchNorm1d`: in a
    distributed run their statistics span the global batch, so one clip per process trains.
    Training on fewer than 2 clips in all raises :class:`SSOPBatchError`.
    """

    def __init__(self, num_snippets: int = 7, dims: int = 512, hidden: Sequence[int] = (2048, 512),
                 num_permutations: int = 10, seed: int = 0,
                 permutations: Optional[Sequence[Sequence[int]]] = None, sync_bn: bool = True,
                 detach: bool = True):
        super().__init__()
        self.sync_bn = sync_bn
        self.detach = detach
        if permutations is None:
            perms = max_hamming_permutations(num_snippets, num_permutations, seed)
        else:
            perms = np.asarray(permutations, dtype=np.int64)
            if perms.ndim != 2 or perms.shape[1] != num_snippets or any(
                    sorted(p) != list(range(num_snippets)) for p in perms.tolist()):
                raise ValueError(f'permutations must be a list of permutations of '
                                 f'range({num_snippets}), got {permutations!r}')
        # Stored in the state dict so a checkpoint says which permutations it was trained on.
        self.register_buffer('permutations', torch.as_tensor(perms))
        norm = GlobalBatchNorm1d if sync_bn else nn.BatchNorm1d
        layers, width = [], num_snippets * dims
        for h in hidden:
            layers += [nn.Linear(width, h), norm(h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, len(perms)))
        self.classifier = nn.Sequential(*layers)

    def shuffle(self, R: torch.Tensor, T: torch.Tensor, index: Optional[torch.Tensor] = None):
        """Draws one permutation per clip (or takes ``index`` [B]): (O = R + T in that order
        [B, n, d], its index [B])."""
        B, n, d = R.shape
        if index is None:
            index = torch.randint(len(self.permutations), (B, ), device=R.device)
        order = self.permutations[index]  # [B, n]
        return (R + T[:, None]).gather(1, order[..., None].expand(B, n, d)), index

    def forward(self, R: torch.Tensor, T: torch.Tensor, index: Optional[torch.Tensor] = None):
        if self.training and R.shape[0] < 2:
            world = get_world_size()
            if world == 1:  # (with several processes GlobalBatchNorm1d checks the global batch)
                raise ssop_batch_error(f'a training step with {R.shape[0]} clip(s) on 1 process',
                                       'use train_dataloader.batch_size >= 2 with drop_last=True')
            if not self.sync_bn:
                raise ssop_batch_error(
                    f'a training step with {R.shape[0]} clip(s) per process and '
                    'model.cls_head.ssop.sync_bn=False',
                    'use train_dataloader.batch_size >= 2 with drop_last=True', sync_bn=False)
        O, index = self.shuffle(R.detach() if self.detach else R, T, index)
        return self.classifier(O.flatten(1)), index
