"""A DETR-style post-norm Transformer encoder/decoder over snippet features (paper §3.1).

Plain layers on top of ``nn.MultiheadAttention`` so the decoder's cross-attention over the
snippets can be returned for visualisation (paper Fig. 9).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def sine_positional_encoding(length: int, dims: int) -> torch.Tensor:
    """Fixed sinusoidal encoding of positions ``0..length-1``: [length, dims] (no parameters),
    computed in float64 like the official table, then rounded to float32."""
    position = torch.arange(length, dtype=torch.float64)[:, None]
    exponent = 2.0 * (torch.arange(dims, dtype=torch.float64) // 2) / dims
    angle = position / torch.pow(10000.0, exponent)
    pe = torch.where(torch.arange(dims) % 2 == 0, torch.sin(angle), torch.cos(angle))
    return pe.float()


class FFN(nn.Module):
    """Linear → ReLU → dropout → Linear, the Transformer's position-wise block."""

    def __init__(self, dims: int, hidden: int, dropout: float):
        super().__init__()
        self.linear1 = nn.Linear(dims, hidden)
        self.linear2 = nn.Linear(hidden, dims)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


class EncoderLayer(nn.Module):
    """Self-attention + FFN, each with residual, dropout and a LayerNorm after (post-norm)."""

    def __init__(self, dims: int, num_heads: int, ffn_channels: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dims, num_heads, dropout=dropout, batch_first=True)
        self.ffn = FFN(dims, ffn_channels, dropout)
        self.norm1 = nn.LayerNorm(dims)
        self.norm2 = nn.LayerNorm(dims)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        """src: [B, n, d] → [B, n, d]."""
        attn = self.self_attn(src, src, src, need_weights=False)[0]
        src = self.norm1(src + self.dropout1(attn))
        return self.norm2(src + self.dropout2(self.ffn(src)))


class DecoderLayer(nn.Module):
    """Query self-attention, cross-attention to the encoded snippets, FFN (post-norm)."""

    def __init__(self, dims: int, num_heads: int, ffn_channels: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dims, num_heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dims, num_heads, dropout=dropout, batch_first=True)
        self.ffn = FFN(dims, ffn_channels, dropout)
        self.norm1 = nn.LayerNorm(dims)
        self.norm2 = nn.LayerNorm(dims)
        self.norm3 = nn.LayerNorm(dims)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor):
        """tgt: [B, q, d], memory: [B, n, d] → ([B, q, d], cross-attention [B, q, n])."""
        attn = self.self_attn(tgt, tgt, tgt, need_weights=False)[0]
        tgt = self.norm1(tgt + self.dropout1(attn))
        attn, weights = self.cross_attn(tgt, memory, memory, need_weights=True,
                                        average_attn_weights=True)
        tgt = self.norm2(tgt + self.dropout2(attn))
        tgt = self.norm3(tgt + self.dropout3(self.ffn(tgt)))
        return tgt, weights


class SnippetTransformer(nn.Module):
    """Encoder over snippet features, decoder from learned queries; a final LayerNorm after the
    encoder (``encoder_norm``, as DETR and the official EST) and after the decoder.

    ``forward(src [B, n, d], query [B, q, d])`` → (out [B, q, d], snippet attention [B, q, n]) where
    the attention is the last decoder layer's cross-attention, averaged over heads. Every weight
    matrix starts from ``kaiming_uniform_`` (official EST initialisation).
    """

    def __init__(self, dims: int = 512, num_heads: int = 4, num_encoder_layers: int = 3,
                 num_decoder_layers: int = 3, ffn_channels: int = 2048, dropout: float = 0.1,
                 encoder_norm: bool = True):
        super().__init__()
        self.encoder = nn.ModuleList(
            EncoderLayer(dims, num_heads, ffn_channels, dropout) for _ in range(num_encoder_layers))
        self.encoder_norm = nn.LayerNorm(dims) if encoder_norm else nn.Identity()
        self.decoder = nn.ModuleList(
            DecoderLayer(dims, num_heads, ffn_channels, dropout) for _ in range(num_decoder_layers))
        self.decoder_norm = nn.LayerNorm(dims)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.kaiming_uniform_(p)

    def forward(self, src: torch.Tensor, query: torch.Tensor):
        memory = src
        for layer in self.encoder:
            memory = layer(memory)
        memory = self.encoder_norm(memory)
        out, weights = query, None
        for layer in self.decoder:
            out, weights = layer(out, memory)
        return self.decoder_norm(out), weights
