"""Shuffled snippet order prediction (SSOP, paper §3.3, Algorithm 1)."""
import itertools
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn


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


class SSOPBranch(nn.Module):
    """Predicts which of the fixed permutations shuffled the snippets.

    ``forward(R [B, n, d], T [B, d])`` draws one permutation per clip, shuffles O_i = R_i + T and
    returns (logits [B, P], permutation index [B]). Because the encoder is permutation-equivariant
    and the one-query decoder permutation-invariant, shuffling O after the Transformer equals the
    official shuffle of the input snippets (positional codes travel with their snippet).
    """

    def __init__(self, num_snippets: int = 7, dims: int = 512, hidden: Sequence[int] = (2048, 512),
                 num_permutations: int = 10, seed: int = 0,
                 permutations: Optional[Sequence[Sequence[int]]] = None):
        super().__init__()
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
        layers, width = [], num_snippets * dims
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
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
        O, index = self.shuffle(R, T, index)
        return self.classifier(O.flatten(1)), index
