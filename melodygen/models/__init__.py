"""The LSTM network, its LightningModule, and checkpoint loading."""

from melodygen.models.checkpoint import load_model, model_from_checkpoint, read_checkpoint
from melodygen.models.module import MelodyLSTM
from melodygen.models.network import MelodyNetwork

__all__ = ["MelodyLSTM", "MelodyNetwork", "load_model", "model_from_checkpoint", "read_checkpoint"]
