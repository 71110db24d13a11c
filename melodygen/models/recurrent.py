"""The recurrent networks: input layer → ``nn.LSTM`` or ``nn.GRU`` → one head per predicted quantity.

The LSTM is the blog post's network generalized; its state is ``(h, c)``, the GRU's is ``h``, each
``(num_layers, B, hidden_size)``.
"""

from __future__ import annotations

import torch
from torch import nn

from melodygen.config import LSTMConfig
from melodygen.models.network import MelodyNetwork, State
from melodygen.representations import Representation


class RecurrentNetwork(MelodyNetwork):
    """What the LSTM and the GRU share; a subclass names its ``nn`` module and its one-step cell."""

    rnn_class: type[nn.RNNBase]

    def __init__(
        self,
        representation: Representation,
        hidden_size: int = LSTMConfig.hidden_size,
        num_layers: int = LSTMConfig.num_layers,
        dropout: float = LSTMConfig.dropout,
        embedding_dim: int = LSTMConfig.embedding_dim,
        condition_sizes: tuple[int, ...] = (),
    ):
        super().__init__(representation, embedding_dim, condition_sizes)
        rnn = self.rnn_class(
            self.input_width,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        setattr(self, self.rnn_name, rnn)  # checkpoints name the weights net.lstm.* / net.gru.*
        self.dropout = nn.Dropout(dropout)
        self.build_heads(hidden_size)

    rnn_name: str

    @property
    def rnn(self) -> nn.RNNBase:
        return getattr(self, self.rnn_name)

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[list[torch.Tensor], State]:
        hidden, state = self.rnn(self.embed(x), state)
        hidden = self.dropout(hidden)
        return [head(hidden) for head in self.heads], state

    def _weights(self, layer: int) -> list[torch.Tensor]:
        return [
            getattr(self.rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]


class LSTMNetwork(RecurrentNetwork):
    rnn_class, rnn_name = nn.LSTM, "lstm"

    def step(self, x: torch.Tensor, state: State) -> tuple[list[torch.Tensor], State]:
        """Same numbers as ``forward`` on a length-1 sequence, through ``torch.lstm_cell`` with the LSTM's
        own weights: a single step then costs a few small kernels instead of a full sequence call, which
        is what makes sampling one element at a time fast on a CPU."""
        h, c = state
        inp = self.embed(x)
        hs, cs = [], []
        for k in range(self.rnn.num_layers):
            hk, ck = torch.lstm_cell(inp, (h[k], c[k]), *self._weights(k))
            hs.append(hk)
            cs.append(ck)
            inp = hk
        return [head(inp) for head in self.heads], (torch.stack(hs), torch.stack(cs))

    def select(self, state: State, rows: torch.Tensor) -> State:
        h, c = state
        return h.index_select(1, rows), c.index_select(1, rows)

    def detach(self, state: State) -> State:
        return tuple(s.detach() for s in state)


class GRUNetwork(RecurrentNetwork):
    rnn_class, rnn_name = nn.GRU, "gru"

    def step(self, x: torch.Tensor, state: State) -> tuple[list[torch.Tensor], State]:
        """As the LSTM's: ``torch.gru_cell`` with the GRU's own weights, layer by layer."""
        inp = self.embed(x)
        hs = []
        for k in range(self.rnn.num_layers):
            inp = torch.gru_cell(inp, state[k], *self._weights(k))
            hs.append(inp)
        return [head(inp) for head in self.heads], torch.stack(hs)

    def select(self, state: State, rows: torch.Tensor) -> State:
        return state.index_select(1, rows)

    def detach(self, state: State) -> State:
        return state.detach()
