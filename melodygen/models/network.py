"""What every network is: ``forward(x, state)`` returns ``(outputs, state)``, one output per head.

The input layer and the heads come from the representation (one embedding per class column, or a
linear layer over real values; one head per predicted quantity), so a network never knows which
representation it reads. What the state is (an LSTM's ``(h, c)``, a GRU's ``h``, a Transformer's
key/value cache) is the network's own business: sampling, beam search and scoring only carry it, select
rows of it (:meth:`select`) and detach it (:meth:`detach`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from melodygen.representations import Representation

#: whatever a network carries from one call to the next; None starts afresh
State = Any
#: the width of each condition's embedding (a conditioned network's input grows by this much per condition)
CONDITION_DIM = 16


class MelodyNetwork(nn.Module):
    """The input layer and heads every architecture shares; subclasses add what lies between.

    ``embedding_dim`` is each class column's embedding width (their vectors concatenated) or the width of
    the linear input layer over real values (none when it is 0, which feeds ``[pitch, duration]`` straight
    in, as the blog post did).

    ``condition_sizes`` makes a conditioned network: each element then has one more column per condition
    after the representation's ``F`` (a class index of that many classes: see :mod:`melodygen.music.conditions`),
    and each is embedded in :data:`CONDITION_DIM` values beside the element's own input vector. What comes
    after the input layer never knows.
    """

    #: elements one prediction sees at most; None when the state carries everything before
    context: int | None = None

    def __init__(
        self, representation: Representation, embedding_dim: int, condition_sizes: tuple[int, ...] = ()
    ):
        super().__init__()
        self.num_features = representation.num_features
        self.input_kind = representation.input_kind
        self.output_sizes = tuple(representation.output_sizes)
        if self.input_kind == "embedding":
            self.embeddings = nn.ModuleList(
                nn.Embedding(n, embedding_dim) for n in representation.input_sizes
            )
            self.input_width = embedding_dim * len(representation.input_sizes)
        elif embedding_dim > 0:
            self.project = nn.Linear(representation.input_sizes[0], embedding_dim)
            self.input_width = embedding_dim
        else:
            self.project = nn.Identity()
            self.input_width = representation.input_sizes[0]
        self.condition_sizes = tuple(int(n) for n in condition_sizes)
        if self.condition_sizes:
            self.condition_embeddings = nn.ModuleList(
                nn.Embedding(n, CONDITION_DIM) for n in self.condition_sizes
            )
            self.input_width += CONDITION_DIM * len(self.condition_sizes)

    def build_heads(self, width: int) -> None:
        """One linear head per predicted quantity, reading vectors of ``width``."""
        self.heads = nn.ModuleList(nn.Linear(width, n) for n in self.output_sizes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` elements (``F`` + one column per condition) → ``(B, T, input_width)`` vectors."""
        element = x[..., : self.num_features]
        if self.input_kind == "embedding":
            vector = torch.cat([emb(element[..., i]) for i, emb in enumerate(self.embeddings)], dim=-1)
        else:
            vector = self.project(element)
        if not self.condition_sizes:
            return vector
        classes = x[..., self.num_features :].long()
        conditions = [emb(classes[..., i]) for i, emb in enumerate(self.condition_embeddings)]
        return torch.cat([vector, *(c.to(vector.dtype) for c in conditions)], dim=-1)

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[list[torch.Tensor], State]:
        """``x`` ``(B, T, F)`` after ``state`` → one ``(B, T, size)`` tensor per head, and the new state."""
        raise NotImplementedError

    def step(self, x: torch.Tensor, state: State) -> tuple[list[torch.Tensor], State]:
        """One element per row (``x`` is ``(B, F)``) after ``state``, for inference: ``(B, size)`` per head."""
        outputs, state = self(x[:, None], state)
        return [o[:, 0] for o in outputs], state

    def select(self, state: State, rows: torch.Tensor) -> State:
        """The state of the rows ``rows`` (a beam's parents, or row 0 copied for every sample)."""
        raise NotImplementedError

    def detach(self, state: State) -> State:
        """The state cut from the graph that made it (learning within a melody steps through it)."""
        raise NotImplementedError
