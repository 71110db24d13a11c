"""Preemption and time limits on a cluster: save where training is, let the job be requeued, go on.

submitit (Hydra's submitit launchers, ``hydra/launcher=slurm``) sends ``SIGUSR2`` (or the signal named
by ``SUBMITIT_PREEMPT_SIGNAL``) to a job shortly before its time limit or when it is preempted, and its
handler requeues the job, which then runs again with the same overrides in the same directory. While
a job trains under such a handler, :class:`SaveOnPreemption` first saves the training state to
``checkpoints/preempted.ckpt`` at the end of the current batch and writes ``preempted.json`` beside it;
when the requeued job starts, :func:`preempted_checkpoint` finds them, so it resumes from that step, in
the same W&B run.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from melodygen.runtime.atomic import write_json_atomic

log = logging.getLogger(__name__)

MARKER = "preempted.json"
CHECKPOINT = Path("checkpoints") / "preempted.ckpt"


def preempt_signal() -> signal.Signals:
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper().removeprefix("SIG")
    return signal.Signals[f"SIG{name}"]


class SaveOnPreemption(pl.Callback):
    """While fitting, hold the preemption signal until the current training batch has ended, save there
    (a point Lightning resumes from exactly), then hand the signal on to the handler that requeues.

    Installed only when a handler for that signal exists (a launcher that requeues); a signal that comes
    outside fitting goes on at once, and the requeued job starts from its last saved state.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.signal = preempt_signal()
        self._previous: Any = None
        self._pending: tuple | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        previous = signal.getsignal(self.signal)
        if callable(previous):
            self._previous = previous
            signal.signal(self.signal, self._hold)

    def _hold(self, signum, frame) -> None:
        self._pending = (signum, frame)
        log.warning("%s: saving after this training batch", signal.Signals(signum).name)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self._pending is None:
            return
        if trainer.is_global_zero:
            path = self.run_dir / CHECKPOINT
            path.parent.mkdir(parents=True, exist_ok=True)
            # rank 0 alone, without the barrier of trainer.save_checkpoint: the other ranks do not
            # necessarily save at this very batch
            checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
            trainer.strategy.checkpoint_io.save_checkpoint(checkpoint, path)
            record = {
                "signal": signal.Signals(self._pending[0]).name,
                "epoch": trainer.current_epoch,
                "global_step": trainer.global_step,
                "checkpoint": str(path),
            }
            write_json_atomic(self.run_dir / MARKER, record)
            log.warning("saved epoch %d, step %d to %s", trainer.current_epoch, trainer.global_step, path)
        self._hand_on()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._hand_on()

    def _hand_on(self) -> None:
        if self._previous is None:
            return
        previous, pending = self._previous, self._pending
        signal.signal(self.signal, previous)
        self._previous = self._pending = None
        if pending is not None:
            previous(*pending)  # submitit's handler: requeue this job


def preempted_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a preempted job saved in ``run_dir``, to resume from; None when there is none."""
    marker = run_dir / MARKER
    if not marker.is_file():
        return None
    path = Path(json.loads(marker.read_text()).get("checkpoint", run_dir / CHECKPOINT))
    return path if path.is_file() else None


def clear_preempted(run_dir: Path) -> None:
    """After the resumed job has finished: a later run in this directory starts from its own start."""
    (run_dir / MARKER).unlink(missing_ok=True)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
