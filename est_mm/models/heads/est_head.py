"""The EST head: snippet Transformer, expression classifier and SSOP branch (paper §3.1, §3.3)."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn

from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from ..common import SnippetTransformer, sine_positional_encoding
from .ssop import DEFAULT_LOSS_SSOP, DEFAULT_SSOP, ssop_configs


@MODELS.register_module()
class ESTHead(BaseHead):
    """Snippet features R [B, n, d] → class scores [B, K].

    R + sinusoidal position code of each snippet → Transformer (encoder/decoder, one learned
    emotion query) → T [B, d] → MLP (d → 128 → ReLU → 64 → ReLU → one Dropout → K, as the
    official code). ``ssop``: the SSOP branch's config (:class:`SSOPBranch` unless it names
    another ``type``; the head adds ``num_snippets`` and ``dims``), or None for no branch and no
    SSOP parameters. In training it adds ``loss_ssop`` (a registered loss; Eq. 7:
    CrossEntropyLoss with loss_weight 1/n) of its permutation logits. The SSOP state-dict keys
    are ``ssop.permutations`` and ``ssop.classifier.*``.
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
                 ssop: Optional[Dict] = DEFAULT_SSOP,
                 loss_ssop: Dict = DEFAULT_LOSS_SSOP,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 average_clips: Optional[str] = 'prob',
                 topk=(1, ),
                 init_cfg=None,
                 **kwargs):
        ssop, loss_ssop = ssop_configs(ssop, loss_ssop)
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
        self.ssop = None if ssop is None else MODELS.build(
            dict(ssop, num_snippets=num_snippets, dims=in_channels))
        self.loss_ssop = MODELS.build(loss_ssop)

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
            logits, target = self.ssop(feats, T)
            losses['loss_ssop'] = self.loss_ssop(logits, target)
            losses['ssop_acc'] = (logits.argmax(1) == target).float().mean().detach()
        return losses
