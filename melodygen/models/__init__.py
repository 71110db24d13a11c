"""The LSTM network and its LightningModule."""

from melodygen.models.module import MelodyLSTM
from melodygen.models.network import MelodyNetwork

__all__ = ["MelodyLSTM", "MelodyNetwork"]
