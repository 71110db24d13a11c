"""The blog post's network, generalized: input layer → ``nn.LSTM`` → one head per predicted quantity."""

from __future__ import annotations

import torch
from torch import nn

from melodygen.data.representations import Representation

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
        dropout: float = 0.0,
        embedding_dim: int = 64,
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
