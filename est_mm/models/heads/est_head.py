"""The EST head: snippet Transformer, expression classifier and SSOP branch (paper §3.1, §3.3)."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from ..common import SnippetTransformer, sine_positional_encoding
from .ssop import SSOPBranch


@MODELS.register_module()
class ESTHead(BaseHead):
    """Snippet features R [B, n, d] → class scores [B, K].

    R + sinusoidal position code of each snippet → Transformer (encoder/decoder, one learned
    emotion query) → T [B, d] → MLP (d → 128 → ReLU → 64 → ReLU → one Dropout → K, as the
    official code). In training, the SSOP branch adds
    ``ssop_loss_weight`` × CE(permutation) (Eq. 7, weight 1/n); ``ssop_loss_weight=0`` builds no
    SSOP parameters at all. ``ssop_detach`` feeds SSOP a detached R (official behaviour).
    ``ssop_sync_bn`` (default) computes SSOP's BatchNorm statistics over all processes.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 512,
                 num_snippets: int = 7,
                 num_heads: int = 4,
                 num_encoder_layers: int = 3,
                 num_decoder_layers: int = 3,
                 ffn_channels: int = 2048,
                 dropout: float = 0.1,
                 mlp_channels: Sequence[int] = (128, 64),
                 mlp_dropout: float = 0.4,
                 encoder_norm: bool = True,
                 ssop_loss_weight: float = 1 / 7,
                 ssop_channels: Sequence[int] = (2048, 512),
                 num_permutations: int = 10,
                 permutation_seed: int = 0,
                 permutations: Optional[Sequence[Sequence[int]]] = None,
                 ssop_detach: bool = True,
                 ssop_sync_bn: bool = True,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 average_clips: Optional[str] = 'prob',
                 topk=(1, ),
                 init_cfg=None,
                 **kwargs):
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, topk=topk,
                         average_clips=average_clips, init_cfg=init_cfg, **kwargs)
        self.num_snippets = num_snippets
        self.register_buffer('pos_embed', sine_positional_encoding(num_snippets, in_channels),
                             persistent=False)
        self.query = nn.Parameter(torch.zeros(1, 1, in_channels))
        nn.init.normal_(self.query)
        self.transformer = SnippetTransformer(in_channels, num_heads, num_encoder_layers,
                                              num_decoder_layers, ffn_channels, dropout,
                                              encoder_norm)
        layers, width = [], in_channels
        for c in mlp_channels:
            layers += [nn.Linear(width, c), nn.ReLU(inplace=True)]
            width = c
        layers += [nn.Dropout(mlp_dropout), nn.Linear(width, num_classes)]
        self.classifier = nn.Sequential(*layers)
        self.ssop_loss_weight = ssop_loss_weight
        self.ssop_detach = ssop_detach
        self.ssop = SSOPBranch(num_snippets, in_channels, ssop_channels, num_permutations,
                               permutation_seed, permutations, ssop_sync_bn
                               ) if ssop_loss_weight > 0 else None

    def encode(self, x: torch.Tensor):
        """R [B, n, d] → (emotion feature T [B, d], snippet attention [B, n])."""
        if x.shape[1] != self.num_snippets:
            raise ValueError(f'ESTHead expects {self.num_snippets} snippets, got {x.shape[1]}')
        out, attn = self.transformer(x + self.pos_embed, self.query.expand(x.shape[0], -1, -1))
        return out[:, 0], attn[:, 0]

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """R [B, n, d] → class scores [B, K]."""
        return self.classifier(self.encode(x)[0])

    def loss(self, feats: torch.Tensor, data_samples, **kwargs) -> Dict:
        T, _ = self.encode(feats)
        losses = self.loss_by_feat(self.classifier(T), data_samples)
        if self.ssop is not None:
            R = feats.detach() if self.ssop_detach else feats
            logits, target = self.ssop(R, T)
            losses['loss_ssop'] = self.ssop_loss_weight * F.cross_entropy(logits, target)
            losses['ssop_acc'] = (logits.argmax(1) == target).float().mean().detach()
        return losses
