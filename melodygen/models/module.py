"""``MelodyModel``: the LightningModule that trains any network (:mod:`melodygen.models.architectures`)
on any representation."""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch

from melodygen.config import DataConfig, TrainerConfig, architecture_defaults, network_keys
from melodygen.models.architectures import build_network
from melodygen.models.network import State
from melodygen.music.conditions import Conditioning
from melodygen.registry import NETWORKS, REPRESENTATIONS, providers_of
from melodygen.representations import representation_from_hparams, total_bits
from melodygen.representations.position import sizes as position_sizes


class MelodyModel(pl.LightningModule):
    """A melody model: ``architecture`` (a registered network: ``lstm``, ``gru``, ``transformer``, a plugin's)
    reading ``representation`` (a registered name too).

    Hyperparameters are plain values, so a checkpoint alone rebuilds the model (``weights_only`` too), and
    names, never import paths: the network and representation are looked up in the registries.
    ``tokenizer`` is the MidiTok tokenizer's JSON for ``representation="miditok"`` (or a tokenization's
    name, or a tokenizer.json path), kept whole in the hyperparameters; ``representation_settings`` are a
    representation's own settings (``data.representations.NAME``); ``plugins`` records which plugin
    registered a part that is not built in, for the line that says what to install when it is missing.
    ``network`` holds the architecture's own settings (``hidden_size``, ``num_heads`` …) and the
    training settings left out (None) are the architecture's schema defaults; :attr:`hparams` holds
    every value. ``transpose_to_c`` records that the training melodies were moved to C, so a primer is
    moved there too before the model continues it (see :func:`melodygen.generation.sampling.sample_melodies`).
    A checkpoint of melodygen 0.1, which had only the LSTM and no ``architecture``, loads as an LSTM.
    ``conditions``, ``condition_labels`` and ``condition_counts`` make a conditioned model (the hyperparameters
    of a :class:`~melodygen.music.conditions.Conditioning`): its inputs carry one class per condition after the
    representation's columns (:meth:`with_conditions`); a checkpoint without them is unconditioned.
    ``bar_position`` (``data.bar_position``) adds two more classes after those: where in its bar the next
    element starts, and the bar's number (:mod:`melodygen.representations.position`); a checkpoint without it
    reads none. ``bars_left`` (``data.bars_left``, with bar positions) adds one more: the bars left to the
    tune's end. ``condition_dropout`` (``model.condition_dropout``) gives each condition one class more, "not
    told" (:meth:`untold_conditions`), which hides all of a training window's conditions that often; a
    checkpoint without it has none.
    """

    def __init__(
        self,
        representation: str = DataConfig.representation,
        architecture: str = "lstm",
        optimizer: str | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        scheduler: str | None = None,
        warmup_steps: int | None = None,
        max_epochs: int = TrainerConfig.max_epochs,
        transpose_to_c: bool = DataConfig.transpose_to_c,
        key: str = DataConfig.key.value,
        tokenizer: str | None = None,
        conditions: list[str] | None = None,
        condition_labels: dict | None = None,
        condition_counts: list | None = None,
        representation_settings: dict | None = None,
        plugins: dict | None = None,
        bar_position: bool = False,
        bars_left: bool = False,
        condition_dropout: float = 0.0,
        **network,
    ):
        super().__init__()
        architecture = getattr(architecture, "value", architecture)
        self.representation = representation_from_hparams(
            {"representation": representation, "tokenizer": tokenizer,
             "representation_settings": representation_settings}
        )  # fmt: skip
        self.conditioning = Conditioning.from_hparams(
            {
                "conditions": conditions,
                "condition_labels": condition_labels,
                "condition_counts": condition_counts,
            }
        )
        if conditions and not condition_labels:
            raise ValueError(
                "a conditioned model needs its labels: build it with Conditioning.fit(...).hparams()"
            )
        if bar_position and not self.representation.times_elements:
            raise ValueError(f"the {self.representation.label} representation cannot give bar positions")
        if bars_left and not bar_position:
            raise ValueError("bars_left counts bars from the bar positions: it needs bar_position=True")
        self.bar_position, self.bars_left = bool(bar_position), bool(bars_left)
        if condition_dropout and not self.conditioning:
            raise ValueError("condition_dropout hides conditions: the model needs conditions")
        self.condition_dropout = float(condition_dropout)
        # with condition dropout, each condition's last class is "not told"
        told = (
            tuple(n + 1 for n in self.conditioning.sizes)
            if self.condition_dropout
            else self.conditioning.sizes
        )
        extra = position_sizes(self.bars_left) if self.bar_position else ()
        self.net = build_network(architecture, self.representation, network, told + extra)
        defaults = architecture_defaults(architecture)
        given = {
            "optimizer": optimizer, "lr": lr, "weight_decay": weight_decay, "scheduler": scheduler,
            "warmup_steps": warmup_steps,
        }  # fmt: skip
        training = {k: defaults[k] if v is None else getattr(v, "value", v) for k, v in given.items()}
        settings = {k: network.get(k, defaults[k]) for k in network_keys(architecture)}
        self.save_hyperparameters(
            {
                "representation": self.representation.name,
                "architecture": architecture,
                **settings,
                **training,
                "max_epochs": max_epochs,
                "transpose_to_c": transpose_to_c,
                "key": getattr(key, "value", key),
                **self.representation.hparams(),
                **self.conditioning.hparams(),
                # absent in a checkpoint written before bar positions (before bars left): off
                "bar_position": self.bar_position,
                "bars_left": self.bars_left,
                # absent in a checkpoint written before condition dropout: none
                **({"condition_dropout": self.condition_dropout} if self.condition_dropout else {}),
                # where a plugin's parts came from, for the line that says what to install
                **(
                    {"plugins": parts}
                    if (
                        parts := providers_of(
                            {
                                "architecture": (NETWORKS, architecture),
                                "representation": (REPRESENTATIONS, self.representation.name),
                            }
                        )
                    )
                    else {}
                ),
            },
            # a tokenizer's JSON (tens of kB) and a conditioned model's label counts stay in the checkpoint, out
            # of the loggers' hyperparameters;
            # melodygen-train logs the whole composed config to them itself
            logger=not (self.representation.hparams().get("tokenizer") or self.conditioning),
        )

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[list[torch.Tensor], State]:
        return self.net(x, state)

    def with_conditions(self, x: torch.Tensor, conditions: torch.Tensor | None) -> torch.Tensor:
        """Elements ``x`` ``(B, …, F)`` with each row's condition classes ``conditions`` ``(B, K)`` after
        them, as a conditioned network reads them; ``x`` itself for an unconditioned model."""
        if conditions is None or not self.conditioning:
            return x
        shape = (*x.shape[:-1], conditions.shape[-1])
        rows = conditions.to(device=x.device, dtype=x.dtype).reshape(x.shape[0], *[1] * (x.dim() - 2), -1)
        return torch.cat([x, rows.expand(shape)], dim=-1)

    def untold_conditions(self) -> torch.Tensor | None:
        """``(K,)`` the class that tells a network nothing of each condition, for a model trained with
        condition dropout (None otherwise): what ``samples.guidance`` weighs the conditions against."""
        if not self.condition_dropout:
            return None
        return torch.tensor(self.conditioning.sizes, dtype=torch.long, device=self.device)

    def hide_conditions(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, T, …)`` with every condition of a random ``condition_dropout`` share of its rows set to
        "not told" (in training only)."""
        untold = self.untold_conditions()
        if untold is None or not self.training:
            return x
        hidden = torch.rand(x.shape[0], device=x.device) < self.condition_dropout
        start = self.representation.num_features
        columns = slice(start, start + untold.numel())
        x = x.clone()
        x[hidden, :, columns] = untold.to(x.dtype)
        return x

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """The representation's own columns of ``y`` (the condition columns are read, never predicted)."""
        return y[..., : self.representation.num_features] if self.conditioning or self.bar_position else y

    def training_step(self, batch, batch_idx):
        x, y = batch
        outputs, _ = self(self.hide_conditions(x))
        loss = self.representation.loss(outputs, self.targets(y))
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
        y = self.targets(y)
        outputs, _ = self(x)
        loss = self.representation.loss(outputs, y)
        sums = self.representation.note_metrics(outputs, y)
        notes = int(sums["notes"].item())
        log = {"sync_dist": True, "on_epoch": True, "on_step": False}
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=x.shape[0], **log)
        if notes:
            # Weighting each batch's ratio by its note count makes the epoch value exactly sum/sum.
            per_note = {"bits": total_bits(sums) / notes}
            if "pitch_bits" in sums:  # a learned vocabulary's tokens mix pitches and durations: total only
                per_note.update(
                    pitch_acc=sums["pitch_correct"] / notes,
                    pitch_bits=sums["pitch_bits"] / notes,
                    duration_bits=sums["duration_bits"] / notes,
                )
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
        if hp.scheduler == "warmup_cosine":
            # the run's length is the Trainer's to say (a plain loop without one gets no decay)
            total = self.trainer.estimated_stepping_batches if self._trainer is not None else math.inf
            factor = warmup_cosine(hp.warmup_steps, total)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if hp.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
            # strict=False: epochs without validation (check_val_every_n_epoch > 1) keep the last LR
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": sched, "monitor": "val/loss", "strict": False},
            }
        return opt


def warmup_cosine(warmup: int, total: float):
    """The learning rate's factor at each optimizer step: a linear rise over ``warmup`` steps, then a
    cosine fall to 0 at step ``total`` (none when the run has no known length, e.g. only ``max_time``)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if not math.isfinite(total) or total <= warmup:
            return 1.0
        progress = min(1.0, (step - warmup) / (total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
