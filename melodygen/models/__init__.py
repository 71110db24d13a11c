"""The networks (LSTM, GRU, Transformer), the ``MelodyModel`` LightningModule, and checkpoint loading."""

from melodygen.models.architectures import NETWORKS, build_network
from melodygen.models.checkpoint import load_model, model_from_checkpoint, read_checkpoint
from melodygen.models.module import MelodyModel
from melodygen.models.network import MelodyNetwork

__all__ = [
    "NETWORKS",
    "MelodyModel",
    "MelodyNetwork",
    "build_network",
    "load_model",
    "model_from_checkpoint",
    "read_checkpoint",
]


def __getattr__(name: str):
    if name == "MelodyLSTM":  # the name of melodygen 0.1, when the model had one architecture
        import warnings

        warnings.warn(
            "melodygen.models.MelodyLSTM is now MelodyModel (architecture='lstm' by default)",
            DeprecationWarning,
            stacklevel=2,
        )
        return MelodyModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
