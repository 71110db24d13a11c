"""``model=mlp``: the blog series' part-2 model, a multilayer perceptron over the last notes."""

import torch
from torch import nn

from melodygen.models import MelodyNetwork


class MLPNetwork(MelodyNetwork):
    """Each prediction reads the last ``context`` input vectors, concatenated; the state is the last
    ``context - 1`` of them, so sampling one element at a time costs one small pass."""

    def __init__(
        self, representation, context, hidden_size, num_layers, dropout, embedding_dim, condition_sizes=()
    ):
        super().__init__(representation, embedding_dim, condition_sizes)
        self.window = context
        layers, width = [], self.input_width * context
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_size), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_size
        self.mlp = nn.Sequential(*layers)
        self.build_heads(width)

    def forward(self, x, state=None):
        vectors = self.embed(x)  # (B, T, W)
        if state is None:  # nothing before the melody: zeros
            state = vectors.new_zeros(vectors.shape[0], self.window - 1, vectors.shape[2])
        seen = torch.cat([state, vectors], dim=1)
        windows = seen.unfold(1, self.window, 1).transpose(2, 3).flatten(2)  # (B, T, context × W)
        hidden = self.mlp(windows)
        return [head(hidden) for head in self.heads], seen[:, seen.shape[1] - (self.window - 1) :]

    def select(self, state, rows):
        return state.index_select(0, rows)

    def detach(self, state):
        return state.detach()
