"""melodygen-mlp: what the blog series tried before the LSTM, as a melodygen plugin.

* ``model=mlp``: a multilayer perceptron that predicts the next note from the last ``context`` notes;
* ``data.representation=intervals``: each pitch as the interval from the note before, durations as classes;
* ``leap_share``: a statistic of every set of samples.

The classes are named by "module:Class", so composing a config imports neither them nor torch.
"""

from dataclasses import dataclass

import numpy as np

from melodygen.plugins import (
    ModelConfig,
    register_network,
    register_representation,
    register_statistic,
    require,
)


@dataclass
class MLPConfig(ModelConfig):
    """``model=mlp``: ``context`` elements, embedded and concatenated, through ``num_layers`` ReLU layers."""

    context: int = 8
    """Elements each prediction reads (fewer at the start of a melody: zeros before it)."""
    hidden_size: int = 256
    """Units of each hidden layer."""
    num_layers: int = 2
    """Hidden ReLU layers."""
    dropout: float = 0.1
    """Dropout after each hidden layer."""
    embedding_dim: int = 32
    """Width of each element's embedding."""

    @staticmethod
    def check(m) -> None:
        for key in ("context", "hidden_size", "num_layers", "embedding_dim"):
            require(m[key] >= 1, f"model.{key}", m[key], "must be at least 1")
        require(0 <= m.dropout < 1, "model.dropout", m.dropout, "must be in [0, 1)")


@dataclass
class IntervalsSettings:
    """``data.representations.intervals``: leaps beyond ±max_interval semitones are cut to it."""

    max_interval: int = 24
    """The widest leap kept, in semitones; a wider one is cut to it."""

    @staticmethod
    def check(s) -> None:
        rule = "from 1 to 64 semitones"
        require(
            1 <= s.max_interval <= 64, "data.representations.intervals.max_interval", s.max_interval, rule
        )


register_network("mlp", MLPConfig, "melodygen_mlp.network:MLPNetwork")
register_representation("intervals", "melodygen_mlp.intervals:Intervals", IntervalsSettings)


@register_statistic("leap_share")
def leap_share(melody) -> float:
    """The share of steps from one note to the next that leap by more than a whole tone (rests skipped)."""
    notes = melody.pitch[melody.is_note].astype(np.int64)
    return float((np.abs(np.diff(notes)) > 2).mean()) if notes.size > 1 else 0.0
