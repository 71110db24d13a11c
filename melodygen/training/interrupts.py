"""Runs that stop before their end: a kill, Ctrl-C or ``kill`` loses at most a few steps, and the run goes on.

- :class:`AtomicCheckpointIO` writes every checkpoint to a temporary file beside it and renames it into
  place, so a kill during the write leaves the previous ``last.ckpt`` whole.
- :class:`StopOnSignal`: ``SIGINT`` (Ctrl-C) or ``SIGTERM`` while fitting finishes the training batch,
  saves ``checkpoints/last.ckpt`` there and stops the run with exit status 128 + the signal's number,
  writing no ``metrics.json``. A second signal stops at once.
- :func:`unfinished_checkpoint`: a run directory with a ``last.ckpt`` and no ``metrics.json`` holds an
  unfinished run; the same command run again into it (``hydra.run.dir=…``, or a sweep's
  ``hydra.sweep.dir=…``) resumes from there by itself.
- :class:`DataOrder` records how far into its epoch training was, so the resumed run trains on the
  same batches, in the same order, with the same random transpositions, as a run that never stopped
  (one process; see :class:`~melodygen.data.datamodule.EpochOrder`).
"""

from __future__ import annotations

import io
import logging
import math
import signal
import threading
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins import TorchCheckpointIO

from melodygen.data.datamodule import EpochOrder
from melodygen.errors import MelodygenError
from melodygen.runtime.atomic import write_atomic

log = logging.getLogger(__name__)

LAST = Path("checkpoints") / "last.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, but written beside the target and renamed over it (never half a file)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        # serialized in memory first (as Lightning does): a write that finds no room then fails as the
        # OSError it is, which write_atomic turns into one clear line, not as torch's zip-writer error
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, lambda handle: handle.write(buffer.getbuffer()))


class Stopped(BaseException):
    """Raised inside ``fit`` after a signal's checkpoint is saved; ends the run with 128 + ``signum``."""

    def __init__(self, signum: int, checkpoint: Path, epoch: int, step: int):
        super().__init__(signum)
        self.signum, self.checkpoint, self.epoch, self.step = signum, checkpoint, epoch, step

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopOnSignal(pl.Callback):
    """While fitting, ``SIGINT`` and ``SIGTERM`` stop the run at the end of the current training batch,
    after saving ``<run dir>/checkpoints/last.ckpt`` there (see the module's docstring)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.pending: int | None = None
        self._previous: dict[int, Any] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after Lightning's own SIGTERM handler (registered as fit starts), which ends a run with status 0
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self.SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._note)

    def _note(self, signum, frame) -> None:
        self.pending = signum
        log.warning(
            "%s: saving at the end of this training batch, then stopping (send it again to stop at once)",
            signal.Signals(signum).name,
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        pending = self.pending
        if trainer.world_size > 1:  # a signal to any rank stops them all at this same batch
            stop = trainer.strategy.reduce_boolean_decision(pending is not None, all=False)
            pending = pending or (signal.SIGTERM if stop else None)
        if pending is None:
            return
        path = self.run_dir / LAST
        trainer.save_checkpoint(path, weights_only=False)
        if trainer.is_global_zero:
            log.warning("saved epoch %d, step %d to %s", trainer.current_epoch, trainer.global_step, path)
        raise Stopped(pending, path, trainer.current_epoch, trainer.global_step)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


class Diverged(MelodygenError):
    """The loss or the weights stopped being finite numbers."""


class StopOnNonFinite(pl.Callback):
    """Stop the run with one clear line when the training loss is NaN or infinite, and never save
    weights that are not finite: the last checkpoint written stays the last good one.

    The loss is looked at after every batch on the CPU; on a GPU, where reading it waits for the GPU,
    every ``trainer.log_every_n_steps`` batches, and before every checkpoint.
    """

    def __init__(self, lr: float | None = None):
        self.lr = lr

    def _stop(self, trainer: pl.Trainer, what: str, value: float) -> None:
        advice = f"lower model.lr (now {self.lr:g})" if self.lr else "lower model.lr"
        raise Diverged(
            f"{what} is {value} at epoch {trainer.current_epoch}, step {trainer.global_step}: training "
            f"diverged; {advice} or set trainer.gradient_clip_val. The last checkpoint saved before it is kept"
        )

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        if loss.device.type != "cpu" and (batch_idx + 1) % max(1, trainer.log_every_n_steps):
            return
        value = float(loss.detach())
        if not math.isfinite(value):
            self._stop(trainer, "train/loss", value)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint) -> None:
        for name, tensor in checkpoint.get("state_dict", {}).items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                self._stop(trainer, f"the weight {name}", float("nan"))


class DataOrder(pl.Callback):
    """Keeps in every checkpoint how many batches of the current epoch are trained and torch's random
    state (dropout draws from it); a resumed run's :class:`EpochOrder` skips those batches, and the
    random state is put back."""

    def __init__(self):
        self._trainer: pl.Trainer | None = None
        self._resume: dict | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        if trainer is None:
            return {}
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        state = {"epoch": trainer.current_epoch, "batches": int(progress.processed)}
        state["rng"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resume = dict(state_dict)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        state, self._resume = self._resume, None
        if state and "rng" in state:
            torch.set_rng_state(state["rng"])
            if "cuda_rng" in state and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda_rng"])
        loader = trainer.train_dataloader
        order = getattr(loader, "sampler", None)
        if not state or not isinstance(order, EpochOrder) or state.get("epoch") != trainer.current_epoch:
            return
        order.skip = int(state["batches"]) * int(loader.batch_size)
        if order.skip:
            log.info("resuming epoch %d after its first %d batches", trainer.current_epoch, state["batches"])


def unfinished_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint to resume a run in ``run_dir`` that stopped before writing ``metrics.json`` from:
    its ``last.ckpt``, or, when that cannot be read (a damaged disk, a file cut short outside
    melodygen), the newest other checkpoint there that can, with a warning. None for a finished run or
    one that saved nothing. A file that would run code is refused, never skipped."""
    from melodygen.models.checkpoint import UnsafeCheckpointError, read_checkpoint

    last = run_dir / LAST
    if not last.is_file() or (run_dir / "metrics.json").exists():
        return None
    others = sorted(
        (p for p in last.parent.glob("*.ckpt") if p != last), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for path in (last, *others):
        try:
            read_checkpoint(path)
        except UnsafeCheckpointError:
            raise
        except MelodygenError as exc:
            log.warning("cannot resume from %s: %s", path, exc)
            continue
        if path != last:
            log.warning("resuming from %s, the newest checkpoint that can be read", path)
        return path
    log.warning("no checkpoint in %s can be read: the run starts again from its first step", last.parent)
    return None
