"""Lightning callbacks of melodygen: hearing and seeing the model while it trains, a checkpoint
callback that keeps the best score across a resume, progress lines and learning curves.

:class:`SampleMonitor` samples a few melodies from the current weights after validation, every
``every_n_epochs`` epochs, and logs their statistics (:mod:`melodygen.evaluation.metrics`) as ``sample/*`` to every
logger, writes them as MIDI and piano rolls into ``<run dir>/samples/epoch_NNN/``, and, for W&B, logs
them as audio, images and one row per melody in a table that grows each epoch, so a collapse to "the
average note" shows after the first epoch, not after the run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.callbacks import ProgressBar, RichProgressBar
from pytorch_lightning.trainer.states import TrainerFn

from melodygen.errors import MelodygenError
from melodygen.evaluation.metrics import (
    REAL_TUNES_FILE,
    SAMPLE_STATISTICS,
    STATISTICS_FILE,
    sample_statistics,
    write_statistics,
)
from melodygen.generation.sampling import sample_melodies
from melodygen.music.render import write_melodies
from melodygen.runtime.progress import clock, is_terminal
from melodygen.runtime.progress import log as progress_log

log = logging.getLogger(__name__)


class SampleMonitor(pl.Callback):
    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 4,
        length: int = 64,
        temperature: float = 1.0,
        seed: int = 0,
    ):
        if every_n_epochs < 1 or num_samples < 1 or length < 1:
            raise ValueError("every_n_epochs, num_samples and length must be at least 1")
        self.every_n_epochs, self.num_samples, self.length = every_n_epochs, num_samples, length
        self.temperature, self.seed = temperature, seed
        self._table = None  # W&B's table of every epoch's samples
        self._meters = None  # a conditioned model's meter classifier (False: none can be fit)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        fitting = trainer.state.fn == TrainerFn.FITTING  # not the scoring of the best checkpoint afterwards
        if not fitting or trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        # the same seed every epoch: the melodies change only as the weights do
        melodies = sample_melodies(
            pl_module, self.num_samples, self.length, temperature=self.temperature, seed=self.seed
        )
        for name, value in sample_statistics(melodies).items():  # every rank samples the same melodies
            pl_module.log(f"sample/{name}", value, sync_dist=True)
        for name, value in self._condition_accuracy(trainer, pl_module, melodies).items():
            pl_module.log(f"sample/{name}", value, sync_dist=True)
        if not trainer.is_global_zero:
            return
        samples = Path(trainer.default_root_dir) / "samples"
        folder = samples / f"epoch_{trainer.current_epoch:03d}"
        written = write_melodies(melodies, folder, wav=True)
        write_statistics(melodies, folder / STATISTICS_FILE, epoch=trainer.current_epoch)
        if not (samples / REAL_TUNES_FILE).is_file():
            self._write_real_tunes(trainer, samples / REAL_TUNES_FILE)
        images = [p for p in written if p.suffix == ".png" and not p.stem.endswith("_grid")]
        grid = next((p for p in written if p.suffix == ".png" and p.stem.endswith("_grid")), None)
        sounds = [p for p in written if p.suffix == ".wav"]
        for logger in trainer.loggers:
            if type(logger).__name__ == "WandbLogger":
                self._to_wandb(logger, trainer, melodies, sounds, images, grid)

    def _condition_accuracy(self, trainer: pl.Trainer, pl_module, melodies) -> dict[str, float]:
        """A conditioned model's samples: the share whose estimated key is the one they were generated with
        (``key_accuracy``) and whose meter a classifier of the training tunes' rhythms finds to be theirs
        (``meter_accuracy``)."""
        from melodygen.evaluation.adherence import estimated_key_name, real_meter_classifier, rhythm_features

        names = getattr(getattr(pl_module, "conditioning", None), "names", ())
        asked = [m.meta.get("conditions", {}) for m in melodies]
        out = {}
        if "key" in names:
            out["key_accuracy"] = sum(
                estimated_key_name(m) == a["key"] for m, a in zip(melodies, asked)
            ) / len(asked)
        if "meter" in names:
            if self._meters is None:
                from melodygen.data.splits import TRAIN

                datamodule = getattr(trainer, "datamodule", None)
                parsed, split = getattr(datamodule, "parsed", None), getattr(datamodule, "split", None)
                if parsed is not None and split is not None:
                    train = (split == TRAIN).nonzero()[0].tolist()
                    self._meters = real_meter_classifier(
                        parsed, train, datamodule.melody_conditions, self.length
                    )
                self._meters = self._meters or False  # fewer than two meters: nothing to tell apart
            if self._meters:
                found = self._meters.predict(np.stack([rhythm_features(m) for m in melodies]))
                out["meter_accuracy"] = sum(f == a["meter"] for f, a in zip(found, asked)) / len(asked)
        return out

    def _write_real_tunes(self, trainer: pl.Trainer, path: Path) -> None:
        """The validation split's melodies, each cut to the samples' length: what the samples' statistics
        are set against (the listening report shows them side by side)."""
        from melodygen.data.splits import VAL
        from melodygen.music.melody import Melody

        datamodule = getattr(trainer, "datamodule", None)
        parsed, split = getattr(datamodule, "parsed", None), getattr(datamodule, "split", None)
        if parsed is None or split is None:
            return
        cut = []
        for i in (split == VAL).nonzero()[0].tolist():
            m = parsed.melody(i)
            cut.append(Melody(m.pitch[: self.length], m.duration[: self.length], m.qpm, m.source))
        if cut:
            write_statistics(cut, path, split="validation", length=self.length)

    def _to_wandb(
        self, logger, trainer: pl.Trainer, melodies, sounds: list[Path], images: list[Path], grid: Path | None
    ) -> None:
        import wandb

        audio = [wandb.Audio(str(path)) for path in sounds]
        pictures = [wandb.Image(str(path)) for path in images]  # each as wide as its melody is long
        columns = ["epoch", "sample", "audio", "piano_roll", *SAMPLE_STATISTICS]
        rows = [
            [
                trainer.current_epoch,
                i,
                audio[i],
                pictures[i],
                *(float(f(m)) for f in SAMPLE_STATISTICS.values()),
            ]
            for i, m in enumerate(melodies)
        ]
        if self._table is None:  # one table for the whole run: each epoch adds its rows below the last's
            self._table = wandb.Table(columns=columns, log_mode="INCREMENTAL")
        for row in rows:
            self._table.add_data(*row)
        # the media panel shows one picture per epoch: the grid of all the melodies (a list of pictures
        # of different widths would be squeezed to one size)
        rolls = wandb.Image(str(grid)) if grid is not None else pictures
        media = {"samples/audio": audio, "samples/piano_roll": rolls, "samples/table": self._table}
        logger.experiment.log({**media, "trainer/global_step": trainer.global_step})


class BestCheckpoint(pl.callbacks.ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` that keeps the best score of the run it resumes, and also writes
    ``last.ckpt`` every ``last_every_n_steps`` optimizer steps (None: at the end of each epoch only), so a
    killed run loses at most that many steps.

    A resumed run writes into a new run directory, and Lightning then reloads only the best checkpoint's
    path, not its score: the first checkpoint after the resume counted as the best, however bad. Here the
    earlier best stays in the running (its file, in the earlier run's directory, is never deleted:
    Lightning removes only files in its own directory).
    """

    def __init__(self, *args, last_every_n_steps: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if last_every_n_steps is not None and last_every_n_steps < 1:
            raise MelodygenError(
                f"callbacks.model_checkpoint.last_every_n_steps={last_every_n_steps}: give a number of steps "
                "of at least 1, or null for the end of each epoch only"
            )
        self.last_every_n_steps = last_every_n_steps

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        every = self.last_every_n_steps
        if not (every and self.save_last) or trainer.global_step % every:
            return
        if not self._should_skip_saving_checkpoint(trainer):
            decided = self._last_global_step_saved
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            # the step is not "saved" for the best checkpoint: an epoch that ends on this step still
            # decides it (else an epoch of a multiple of N steps would never save a best)
            self._last_global_step_saved = decided

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict.get("dirpath", self.dirpath) == self.dirpath:
            return super().load_state_dict(state_dict)
        self.best_model_path = state_dict.get("best_model_path", "")
        self.best_model_score = state_dict.get("best_model_score")
        if self.best_model_path and self.best_model_score is not None:
            self.best_k_models = {self.best_model_path: self.best_model_score}
            self.kth_best_model_path, self.kth_value = self.best_model_path, self.best_model_score


class ShareCores(pl.Callback):
    """Keep a job's torch threads at its share of the cores while the jobs beside it come and go
    (:class:`melodygen.runtime.threads.CoreShare`): checked every ``every_n_batches`` training batches and before
    each validation and test."""

    def __init__(self, share, every_n_batches: int = 5):
        self.share, self.every_n_batches = share, every_n_batches

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if batch_idx % self.every_n_batches == 0:
            self.share.apply()

    def on_validation_start(self, trainer, pl_module) -> None:
        self.share.apply()

    def on_test_start(self, trainer, pl_module) -> None:
        self.share.apply()


class RunFacts(pl.Callback):
    """At the start of fitting, the facts a dashboard compares runs on beside the config: the parameter
    count and the data's counts (melodies kept and skipped, notes, windows per split), for W&B runs."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        wandb = [logger for logger in trainer.loggers if type(logger).__name__ == "WandbLogger"]
        if not wandb or not trainer.is_global_zero:
            return
        from melodygen.data.datamodule import SPLIT_NAMES

        datamodule = trainer.datamodule
        data = dict(datamodule.parsed.summary())
        data["windows"] = {SPLIT_NAMES[which]: len(ds) for which, ds in datamodule.datasets.items()}
        facts = {"num_parameters": sum(p.numel() for p in pl_module.parameters()), "data_report": data}
        for logger in wandb:
            logger.experiment.config.update(facts, allow_val_change=True)


def progress_bar(every_n_seconds: float = 30.0, every_n_steps: int = 0) -> ProgressBar:
    """The rich bar on a terminal; :class:`LineProgress` when standard output is a file or a pipe."""
    if is_terminal():
        return RichProgressBar()
    return LineProgress(every_n_seconds, every_n_steps)


class LineProgress(ProgressBar):
    """Training progress as log lines: every ``every_n_seconds`` seconds or ``every_n_steps`` batches
    (whichever comes first; 0 turns either off), and at the end of each epoch."""

    def __init__(self, every_n_seconds: float = 30.0, every_n_steps: int = 0):
        super().__init__()
        if every_n_seconds < 0 or every_n_steps < 0:
            raise ValueError("every_n_seconds and every_n_steps must not be negative")
        self.every_n_seconds, self.every_n_steps = every_n_seconds, every_n_steps
        self._enabled = True
        self._epoch_started = self._last_line = 0.0
        self._windows = 0
        self._first_batch: int | None = None  # the first batch timed: 0, or where a resumed run went on

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a run resumed mid-epoch gets no on_train_epoch_start for that epoch
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_started = self._last_line = time.monotonic()
        self._windows = 0
        self._first_batch = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch: Any, batch_idx: int) -> None:
        self._windows += len(batch[0])
        if self._first_batch is None:
            self._first_batch = batch_idx
        if not self._enabled:
            return
        now, done = time.monotonic(), batch_idx + 1
        timed = done - self._first_batch  # batches trained since this epoch (or this resumed run) began
        due_time = self.every_n_seconds and now - self._last_line >= self.every_n_seconds
        due_step = self.every_n_steps and done % self.every_n_steps == 0
        if not (due_time or due_step):
            return
        self._last_line = now
        elapsed = max(now - self._epoch_started, 1e-9)
        total = self.total_train_batches
        known = isinstance(total, int) and total > 0
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        parts.append(f"step {done}/{total} ({100 * done / total:.0f}%)" if known else f"step {done}")
        loss = trainer.callback_metrics.get("train/loss_step")
        if loss is not None:
            parts.append(f"train/loss {float(loss):.4f}")
        parts.append(f"{timed / elapsed:.1f} it/s, {self._windows / elapsed:,.0f} windows/s")
        if known:
            parts.append(f"epoch ETA {clock((total - done) * elapsed / timed)}")
        progress_log.info(" · ".join(parts))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._enabled:
            return
        metrics = trainer.callback_metrics
        shown = [
            f"{name} {float(metrics[name]):.4f}"
            for name in ("train/loss_epoch", "val/loss", "val/bits", "val/pitch_bits", "val/pitch_acc")
            if name in metrics
        ]
        took = clock(time.monotonic() - self._epoch_started)
        progress_log.info(
            " · ".join([f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} done in {took}", *shown])
        )


class Curves(pl.Callback):
    """At the end of fitting, ``curves.png`` in the run directory: the losses and the bits per note of
    every epoch, whatever logger the run uses (or none)."""

    PANELS = (
        ("loss", ("train/loss_epoch", "val/loss")),
        ("bits per note", ("val/bits", "val/pitch_bits", "val/duration_bits")),
    )

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self._validated = False

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validated = not trainer.sanity_checking

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # an epoch without validation keeps the last one's val/* in callback_metrics: not plotted again
        row = {"epoch": trainer.current_epoch + 1}
        for name, value in trainer.callback_metrics.items():
            if value.numel() == 1 and (self._validated or not name.startswith("val/")):
                row[name] = float(value)
        self.history.append(row)
        self._validated = False

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and self.history:
            self.plot(Path(trainer.default_root_dir) / "curves.png")

    def plot(self, path: Path) -> Path:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        from melodygen.runtime.atomic import write_atomic

        figure = Figure(figsize=(10, 3.6), dpi=100)
        FigureCanvasAgg(figure)
        for k, (label, names) in enumerate(self.PANELS):
            axes = figure.add_subplot(1, 2, k + 1)
            for name in names:
                points = [(row["epoch"], row[name]) for row in self.history if name in row]
                if points:
                    axes.plot(*zip(*points), marker="o", label=name.replace("_epoch", ""))
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlabel("epoch")
            axes.set_ylabel(label)
            axes.grid(alpha=0.3)
            axes.legend(fontsize=8)
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(path, lambda handle: figure.savefig(handle, format="png"))
