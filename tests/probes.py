"""Callbacks that tests add to real runs (``+callbacks.NAME._target_=probes.…``; tests/ is on PYTHONPATH)."""

import hashlib
import json
from pathlib import Path

import pytorch_lightning as pl


class BatchProbe(pl.Callback):
    """Write ``probe_rank<N>.json`` into the run directory: a digest of each of this rank's first training
    batches, the world size and the sampler, so a test can tell what every DDP rank saw."""

    def __init__(self, batches: int = 3):
        self.batches, self.digests = batches, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == 0 and batch_idx < self.batches:
            inputs = batch[0].detach().cpu().numpy().tobytes()
            self.digests.append(hashlib.sha1(inputs).hexdigest())

    def on_train_end(self, trainer, pl_module):
        sampler = trainer.train_dataloader.sampler
        record = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "sampler": type(sampler).__name__,
            "digests": self.digests,
        }
        Path(trainer.default_root_dir, f"probe_rank{trainer.global_rank}.json").write_text(json.dumps(record))


class SlowBatches(pl.Callback):
    """Make every training batch take at least ``seconds``, so a test can signal or kill a run mid-epoch."""

    def __init__(self, seconds: float = 0.05):
        self.seconds = seconds

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        import time

        time.sleep(self.seconds)


class PoisonWeights(pl.Callback):
    """At optimizer step ``at_step``, turn the model's first weight into NaN: a run that diverges."""

    def __init__(self, at_step: int = 5):
        self.at_step = at_step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at_step:
            import torch

            with torch.no_grad():
                next(pl_module.parameters()).fill_(float("nan"))


class CrashAt(pl.Callback):
    """Raise a RuntimeError (a stand-in for a bug or CUDA running out of memory) at the start of training
    when the model's hidden size is ``hidden_size``, so one job of a sweep crashes and the others do not."""

    def __init__(self, hidden_size: int):
        self.hidden_size = hidden_size

    def on_train_start(self, trainer, pl_module):
        if pl_module.hparams.hidden_size == self.hidden_size:
            raise RuntimeError(f"probe crash at hidden_size={self.hidden_size}")
