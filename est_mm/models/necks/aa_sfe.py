"""Attention-augmented snippet feature extractor (AA-SFE, paper §3.2)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmaction.registry import MODELS


@MODELS.register_module()
class AASFE(BaseModule):
    """Turns per-frame features into one feature per snippet.

    ``mode='attention'`` (EST): self-attention among the J frames of each snippet (residual, dropout,
    LayerNorm), then global attention: g = max over frames, α_j = cos(r'_j, g) clamped at ``eps``,
    R = Σ α_j r'_j / Σ α_j (Eqs. 2-3). ``mode='mean'``: R = mean of the frame features (the paper's
    baseline, Table 6 row 1).

    Input [B, n·J, C] (C = backbone width; projected to ``embed_dims`` when different).
    Output R [B, n, d]; with ``return_weights=True`` also the normalised frame weights [B, n, J].
    """

    def __init__(self, in_channels: int = 512, embed_dims: int = 512, num_snippets: int = 7,
                 frames_per_snippet: int = 5, num_heads: int = 4, dropout: float = 0.1,
                 mode: str = 'attention', eps: float = 1e-8, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if mode not in ('attention', 'mean'):
            raise ValueError(f"AASFE mode must be 'attention' or 'mean', got {mode!r}")
        self.num_snippets = num_snippets
        self.frames_per_snippet = frames_per_snippet
        self.embed_dims = embed_dims
        self.mode = mode
        self.eps = eps
        self.proj = nn.Identity() if in_channels == embed_dims else nn.Linear(in_channels, embed_dims)
        if mode == 'attention':
            self.self_attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=dropout,
                                                   batch_first=True)
            self.dropout = nn.Dropout(dropout)
            self.norm = nn.LayerNorm(embed_dims)

    @property
    def num_frames(self) -> int:
        """Frames per clip the neck expects (n·J)."""
        return self.num_snippets * self.frames_per_snippet

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        B, F_, _ = x.shape
        n, J = self.num_snippets, self.frames_per_snippet
        if F_ != n * J:
            raise ValueError(f'AASFE expects {n}×{J}={n * J} frames per clip, got {F_}')
        r = self.proj(x).reshape(B * n, J, self.embed_dims)
        if self.mode == 'mean':
            weights = r.new_full((B, n, J), 1.0 / J)
            out = r.mean(1).view(B, n, -1)
            return (out, weights) if return_weights else out
        r = self.norm(r + self.dropout(self.self_attn(r, r, r, need_weights=False)[0]))
        g = r.max(dim=1, keepdim=True).values
        alpha = F.cosine_similarity(r, g, dim=-1).clamp(min=self.eps)  # [B·n, J]
        out = (alpha[..., None] * r).sum(1) / alpha.sum(1, keepdim=True)
        out = out.view(B, n, -1)
        if return_weights:
            return out, (alpha / alpha.sum(1, keepdim=True)).view(B, n, J)
        return out
