"""``MelodyLSTM``: the LightningModule that trains :class:`MelodyNetwork` for any representation."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from melodygen.config import DataConfig, ModelConfig, TrainerConfig
from melodygen.models.network import MelodyNetwork, State
from melodygen.representations import get_representation

_M = ModelConfig  # every default below is the schema's


class MelodyLSTM(pl.LightningModule):
    """Hyperparameters are plain values, so a checkpoint alone rebuilds the model (``weights_only`` too).

    ``transpose_to_c`` records that the training melodies were moved to C, so a primer is moved there
    too before the model continues it (see :func:`melodygen.generate.sample_melodies`).
    """

    def __init__(
        self,
        representation: str = DataConfig.representation.value,
        hidden_size: int = _M.hidden_size,
        num_layers: int = _M.num_layers,
        dropout: float = _M.dropout,
        embedding_dim: int = _M.embedding_dim,
        optimizer: str = _M.optimizer.value,
        lr: float = _M.lr,
        weight_decay: float = _M.weight_decay,
        scheduler: str = _M.scheduler.value,
        max_epochs: int = TrainerConfig.max_epochs,
        transpose_to_c: bool = DataConfig.transpose_to_c,
        key: str = DataConfig.key.value,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.representation = get_representation(representation)
        self.net = MelodyNetwork(self.representation, hidden_size, num_layers, dropout, embedding_dim)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[list[torch.Tensor], State]:
        return self.net(x, state)

    def training_step(self, batch, batch_idx):
        x, y = batch
        outputs, _ = self(x)
        loss = self.representation.loss(outputs, y)
        # sync_dist: under DDP the epoch value is the mean over every rank's batches, not rank 0's
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=x.shape[0],
            sync_dist=True,
        )
        return loss

    def _evaluate(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        outputs, _ = self(x)
        loss = self.representation.loss(outputs, y)
        sums = self.representation.note_metrics(outputs, y)
        notes = int(sums["notes"].item())
        log = {"sync_dist": True, "on_epoch": True, "on_step": False}
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=x.shape[0], **log)
        if notes:
            # Weighting each batch's ratio by its note count makes the epoch value exactly sum/sum.
            per_note = {
                "pitch_acc": sums["pitch_correct"] / notes,
                "pitch_bits": sums["pitch_bits"] / notes,
                "duration_bits": sums["duration_bits"] / notes,
                "bits": (sums["pitch_bits"] + sums["duration_bits"]) / notes,
            }
            for name, value in per_note.items():
                self.log(f"{stage}/{name}", value, batch_size=notes, prog_bar=name == "pitch_bits", **log)
        return loss

    def validation_step(self, batch, batch_idx):
        return self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._evaluate(batch, "test")

    def configure_optimizers(self):
        hp = self.hparams
        params = self.parameters()
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=hp.lr, momentum=0.9, weight_decay=hp.weight_decay)
        elif hp.optimizer == "adamw":
            opt = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay)
        else:
            opt = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, hp.max_epochs))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        if hp.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
            # strict=False: epochs without validation (check_val_every_n_epoch > 1) keep the last LR
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": sched, "monitor": "val/loss", "strict": False},
            }
        return opt
