"""The blog post's network, generalized: input layer → ``nn.LSTM`` → one head per predicted quantity."""

from __future__ import annotations

import torch
from torch import nn

from melodygen.representations import Representation

State = tuple[torch.Tensor, torch.Tensor]


class MelodyNetwork(nn.Module):
    """``forward(x, state)`` returns ``(outputs, state)`` where ``outputs`` holds one tensor per head.

    The input layer is what the representation asks for: one embedding per class column (their
    vectors concatenated) or a linear layer over real values (none when ``embedding_dim`` is 0, which
    feeds ``[pitch, duration]`` straight into the LSTM as the post did).
    """

    def __init__(
        self,
        representation: Representation,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        embedding_dim: int,
    ):
        super().__init__()
        self.input_kind = representation.input_kind
        if self.input_kind == "embedding":
            self.embeddings = nn.ModuleList(
                nn.Embedding(n, embedding_dim) for n in representation.input_sizes
            )
            lstm_input = embedding_dim * len(representation.input_sizes)
        elif embedding_dim > 0:
            self.project = nn.Linear(representation.input_sizes[0], embedding_dim)
            lstm_input = embedding_dim
        else:
            self.project = nn.Identity()
            lstm_input = representation.input_sizes[0]
        self.lstm = nn.LSTM(
            lstm_input,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in representation.output_sizes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_kind == "embedding":
            return torch.cat([emb(x[..., i]) for i, emb in enumerate(self.embeddings)], dim=-1)
        return self.project(x)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[list[torch.Tensor], State]:
        hidden, state = self.lstm(self.embed(x), state)
        hidden = self.dropout(hidden)
        return [head(hidden) for head in self.heads], state

    def step(self, x: torch.Tensor, state: State) -> tuple[list[torch.Tensor], State]:
        """One element per sample (``x`` is ``(B, F)``) with the carried state; for inference (no dropout).

        Same numbers as ``forward`` on a length-1 sequence, through ``torch.lstm_cell`` with the LSTM's
        own weights: a single step then costs a few small kernels instead of a full sequence call,
        which is what makes sampling one element at a time fast on a CPU.
        """
        h, c = state
        inp = self.embed(x)
        hs, cs = [], []
        for k in range(self.lstm.num_layers):
            weights = [
                getattr(self.lstm, f"{name}_l{k}")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
            hk, ck = torch.lstm_cell(inp, (h[k], c[k]), *weights)
            hs.append(hk)
            cs.append(ck)
            inp = hk
        return [head(inp) for head in self.heads], (torch.stack(hs), torch.stack(cs))
