"""A decoder-only causal Transformer: input layer → pre-norm blocks → one head per predicted quantity.

In every block each position attends to itself and the ``context - 1`` elements before it (a sliding
window), with rotary position embeddings (Su et al. 2021): a query and a key are rotated by their
positions, so attention depends only on how far back an element lies, never on where a window starts,
and a cached key is rotated once. A training window
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

ROTARY_BASE = 10_000.0


@dataclass
class KVCache:
    """Each block's keys (rotated to their positions) and values, ``(B, heads, T, head_size)`` buffers whose
    first ``length`` entries are the latest elements, and the position of the next element.

    While sampling (no gradients) the buffers have room to grow and are extended in place; a cache that was
    extended so is copied instead if it is extended again (a branch from an older state stays correct).
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int
    position: int
    extended: bool = False


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

    def keys_values(self, h, cos, sin):
        """Queries, keys (both rotated to the positions of ``cos``/``sin``) and values of ``h`` ``(B, L, W)``,
        each ``(B, heads, L, head_size)``."""
        batch, length, _ = h.shape
        q, k, v = self.qkv(self.attention_norm(h)).view(batch, length, 3, self.num_heads, -1).unbind(2)
        return rotate(q.transpose(1, 2), cos, sin), rotate(k.transpose(1, 2), cos, sin), v.transpose(1, 2)

    def attend(self, h, q, keys, values, mask, causal):
        """The block's output for ``h``, its queries attending to ``keys``/``values`` (all in view)."""
        batch, length, width = h.shape
        attended = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, is_causal=causal)
        h = h + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, width)))
        return h + self.dropout(self.ff(self.ff_norm(h)))


class TransformerNetwork(MelodyNetwork):
    """``forward(x, cache)`` returns ``(outputs, cache)``: the cache is a :class:`KVCache`."""

    def __init__(
        self,
        representation: Representation,
        hidden_size: int = TransformerConfig.hidden_size,
        num_layers: int = TransformerConfig.num_layers,
        num_heads: int = TransformerConfig.num_heads,
        ff_size: int = TransformerConfig.ff_size,
        dropout: float = TransformerConfig.dropout,
        embedding_dim: int = TransformerConfig.embedding_dim,
        context: int = DataConfig.seq_len,
        condition_sizes: tuple[int, ...] = (),
    ):
        super().__init__(representation, embedding_dim, condition_sizes)
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
        self.frequencies = ROTARY_BASE ** (-torch.arange(0, head_size, 2, dtype=torch.float64) / head_size)
        # the angles of the positions training and scoring use, on the model's device
        cos, sin = self._angles(0, 2 * context)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self._init_weights(num_layers)

    def _angles(self, first: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        # in float64 (on the CPU), so that a position far past any training window is as exact as the first
        angles = torch.outer(torch.arange(first, first + length, dtype=torch.float64), self.frequencies)
        return angles.cos().float(), angles.sin().float()

    def rotation(self, first: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``cos`` and ``sin`` of the rotary angles of positions ``first … first + length - 1``."""
        if first + length <= self.cos.shape[0]:
            return self.cos[first : first + length], self.sin[first : first + length]
        cos, sin = self._angles(first, length)  # sampling far into a melody
        return cos.to(self.cos.device), sin.to(self.cos.device)

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
        """At most ``context`` elements after the cache's last ``context - 1`` (or none)."""
        length = x.shape[1]
        held = state.length if state is not None else 0
        cached = min(held, self.context - 1)
        first = state.position if state is not None else 0
        seen = cached + length
        mask, causal = None, cached == 0 and length > 1
        if cached and length > 1:  # each query sees the `context` positions up to its own
            query = torch.arange(cached, seen, device=x.device)[:, None]
            back = query - torch.arange(seen, device=x.device)[None]
            mask = (back >= 0) & (back < self.context)
        h = self.dropout(self.input(self.embed(x)))
        cos, sin = self.rotation(first, length)
        in_place = state is not None and not state.extended and not torch.is_grad_enabled()
        in_place = in_place and held + length <= state.keys[0].shape[2]
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            q, k, v = block.keys_values(h, cos, sin)
            if state is None:
                kept_k, kept_v = k, v
            elif in_place:  # sampling: write after what the buffers hold
                kept_k, kept_v = state.keys[i], state.values[i]
                kept_k[:, :, held : held + length] = k
                kept_v[:, :, held : held + length] = v
            else:  # what stays in view, then the new elements (and room for a context more, sampling)
                kept_k = self._grown(state.keys[i][:, :, held - cached : held], k)
                kept_v = self._grown(state.values[i][:, :, held - cached : held], v)
            end = held + length if in_place else seen
            h = block.attend(
                h, q, kept_k[:, :, end - seen : end], kept_v[:, :, end - seen : end], mask, causal
            )
            keys.append(kept_k)
            values.append(kept_v)
        h = self.norm(h)
        if state is not None and in_place:
            state.extended = True
        return [head(h) for head in self.heads], KVCache(
            keys, values, held + length if in_place else seen, first + length
        )

    def _grown(self, *pieces: torch.Tensor) -> torch.Tensor:
        """``pieces`` one after the other along the elements (and, sampling, room for a context more)."""
        if not torch.is_grad_enabled():  # room to extend in place for a context of sampled elements
            first = pieces[0]
            pieces = (*pieces, first.new_empty((*first.shape[:2], self.context, first.shape[3])))
        return torch.cat(pieces, dim=2)

    def select(self, state: KVCache, rows: torch.Tensor) -> KVCache:
        # only what the next query sees is copied; the copies have room to grow
        held = state.length
        view = slice(held - min(held, self.context - 1), held)
        keys = [self._grown(k[:, :, view].index_select(0, rows)) for k in state.keys]
        values = [self._grown(v[:, :, view].index_select(0, rows)) for v in state.values]
        return KVCache(keys, values, view.stop - view.start, state.position)

    def detach(self, state: KVCache) -> KVCache:
        keys, values = [k.detach() for k in state.keys], [v.detach() for v in state.values]
        return KVCache(keys, values, state.length, state.position, state.extended)
