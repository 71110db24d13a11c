"""A decoder-only causal Transformer: input layer → pre-norm blocks → one head per predicted quantity.

In every block each position attends to itself and the ``context - 1`` elements before it (a sliding
window), with rotary position embeddings (Su et al. 2021) counted from the oldest element in view, so
attention depends only on how far back an element lies, never on where a window starts. A training window
of ``context`` elements is plain causal attention. A longer sequence (a whole melody being scored) is run
a window at a time, each window after the keys and values the one before left; sampling carries the same
key/value cache of the last ``context - 1`` elements and rolls it on. Scoring and sampling therefore
compute the same numbers, whatever the length. (Past the first window, a deeper block's keys summarize
elements further back than its own window, as in any stack of sliding windows.)

Attention is ``torch.nn.functional.scaled_dot_product_attention``. Dropout acts on the input and on each
block's two residual branches, not on the attention weights: that would take the CPU's fused attention
kernel away (a 4 × 64 model trained 1.7× slower with it on two cores)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from melodygen.config import DataConfig, TransformerConfig
from melodygen.models.network import MelodyNetwork
from melodygen.representations import Representation

_T = TransformerConfig  # the defaults are the schema's (context follows data.seq_len there)
ROTARY_BASE = 10_000.0


@dataclass
class KVCache:
    """Each block's keys and values of the latest elements, ``(B, heads, T, head_size)``, before rotation."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    @property
    def length(self) -> int:
        return self.keys[0].shape[2]


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair ``(x[i], x[i + D/2])`` of ``x`` ``(..., T, D)`` by the angles behind ``cos``/``sin``."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


class Block(nn.Module):
    """Pre-norm: ``h + attention(norm(h))``, then ``h + feed_forward(norm(h))``."""

    def __init__(self, width: int, num_heads: int, ff_size: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.attention_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.ff_norm = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, ff_size), nn.GELU(), nn.Linear(ff_size, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, h, cos, sin, past_keys, past_values, mask, causal):
        """``h`` ``(B, L, W)`` after the cached ``past_keys``/``past_values`` (or None); returns the new
        ``h`` and this block's keys and values of every element in view (cached ones first)."""
        batch, length, width = h.shape
        q, k, v = self.qkv(self.attention_norm(h)).view(batch, length, 3, self.num_heads, -1).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if past_keys is not None:
            k, v = torch.cat((past_keys, k), dim=2), torch.cat((past_values, v), dim=2)
        seen = k.shape[2]  # the queries are the last `length` of the `seen` positions
        q_rotated = rotate(q, cos[seen - length : seen], sin[seen - length : seen])
        k_rotated = rotate(k, cos[:seen], sin[:seen])
        attended = F.scaled_dot_product_attention(
            q_rotated,
            k_rotated,
            v,
            attn_mask=mask,
            is_causal=causal,
        )
        h = h + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, width)))
        h = h + self.dropout(self.ff(self.ff_norm(h)))
        return h, k, v


class TransformerNetwork(MelodyNetwork):
    """``forward(x, cache)`` returns ``(outputs, cache)``: the cache is a :class:`KVCache`."""

    def __init__(
        self,
        representation: Representation,
        hidden_size: int = _T.hidden_size,
        num_layers: int = _T.num_layers,
        num_heads: int = _T.num_heads,
        ff_size: int = _T.ff_size,
        dropout: float = _T.dropout,
        embedding_dim: int = _T.embedding_dim,
        context: int = DataConfig.seq_len,
    ):
        super().__init__(representation, embedding_dim)
        head_size = hidden_size // num_heads
        if hidden_size % num_heads or head_size % 2 or context < 1:
            raise ValueError(
                f"hidden_size={hidden_size} must be num_heads={num_heads} heads of an even size, and "
                f"context={context} at least 1"
            )
        self.context = context
        self.input = nn.Linear(self.input_width, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(hidden_size, num_heads, ff_size, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(hidden_size)
        self.build_heads(hidden_size)
        # a window of `context` queries after `context - 1` cached elements sees 2·context - 1 positions
        angles = torch.outer(
            torch.arange(2 * context, dtype=torch.float64),
            ROTARY_BASE ** (-torch.arange(0, head_size, 2, dtype=torch.float64) / head_size),
        )
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)
        self._init_weights(num_layers)

    def _init_weights(self, num_layers: int) -> None:
        """GPT-2's: normal(0, 0.02) weights, zero biases, the residual projections scaled by depth."""
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for layer in (block.out, block.ff[-1]):
                nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * num_layers))

    def forward(self, x: torch.Tensor, state: KVCache | None = None) -> tuple[list[torch.Tensor], KVCache]:
        if x.shape[1] <= self.context:
            return self._window(x, state)
        # a longer sequence a window at a time: memory stays that of one window, the numbers the same
        pieces = []
        for first in range(0, x.shape[1], self.context):
            outputs, state = self._window(x[:, first : first + self.context], state)
            pieces.append(outputs)
        return [torch.cat(heads, dim=1) for heads in zip(*pieces)], state

    def _window(self, x: torch.Tensor, state: KVCache | None) -> tuple[list[torch.Tensor], KVCache]:
        """At most ``context`` elements after a cache of at most ``context - 1``."""
        length = x.shape[1]
        cached = state.length if state is not None else 0
        seen = cached + length
        mask, causal = None, cached == 0 and length > 1
        if cached and length > 1:  # each query sees the `context` positions up to its own
            query = torch.arange(cached, seen, device=x.device)[:, None]
            back = query - torch.arange(seen, device=x.device)[None]
            mask = (back >= 0) & (back < self.context)
        h = self.dropout(self.input(self.embed(x)))
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            past = (state.keys[i], state.values[i]) if state is not None else (None, None)
            h, k, v = block(h, self.cos, self.sin, *past, mask, causal)
            keep = max(0, seen - (self.context - 1))  # the next query's window
            keys.append(k[:, :, keep:])
            values.append(v[:, :, keep:])
        h = self.norm(h)
        return [head(h) for head in self.heads], KVCache(keys, values)

    def select(self, state: KVCache, rows: torch.Tensor) -> KVCache:
        return KVCache(
            [k.index_select(0, rows) for k in state.keys], [v.index_select(0, rows) for v in state.values]
        )

    def detach(self, state: KVCache) -> KVCache:
        return KVCache([k.detach() for k in state.keys], [v.detach() for v in state.values])
