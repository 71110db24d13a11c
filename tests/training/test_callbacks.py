"""The checkpoint callback keeps the best score across a resume into a new run directory."""

import contextlib

import pytest
import pytorch_lightning as pl
import torch

from melodygen.errors import MelodygenError
from melodygen.training.callbacks import BestCheckpoint, SampleMonitor


def _resumed(cls, tmp_path):
    callback = cls(dirpath=tmp_path / "b" / "checkpoints", monitor="val/loss", mode="min", save_top_k=1)
    earlier = {
        "dirpath": str(tmp_path / "a" / "checkpoints"),
        "best_model_path": str(tmp_path / "a" / "checkpoints" / "best.ckpt"),
        "best_model_score": torch.tensor(1.0),
    }
    stock = cls is pl.callbacks.ModelCheckpoint
    with pytest.warns(UserWarning, match="dirpath has changed") if stock else contextlib.nullcontext():
        callback.load_state_dict(earlier)
    return callback


def test_a_worse_checkpoint_after_a_resume_is_not_the_best(tmp_path):
    trainer = pl.Trainer(
        logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False
    )
    ours = _resumed(BestCheckpoint, tmp_path)
    assert ours.best_model_score == 1.0 and ours.best_model_path.endswith("a/checkpoints/best.ckpt")
    assert not ours.check_monitor_top_k(trainer, torch.tensor(2.0))  # worse than the earlier best
    assert ours.check_monitor_top_k(trainer, torch.tensor(0.5))
    lightnings = _resumed(pl.callbacks.ModelCheckpoint, tmp_path)
    assert lightnings.check_monitor_top_k(trainer, torch.tensor(2.0))  # what this callback fixes


def test_last_every_n_steps_writes_last_between_epochs_and_still_the_best(tmp_path, tune_dir):
    from melodygen.data.datamodule import MelodyDataModule
    from melodygen.models import MelodyModel

    class Saves(pl.Callback):
        def __init__(self):
            self.steps = []

        def on_save_checkpoint(self, trainer, pl_module, checkpoint):
            self.steps.append(trainer.global_step)

    datamodule = MelodyDataModule(
        midi_dir=str(tune_dir), cache_dir=str(tmp_path / "cache"), seq_len=16, batch_size=16, progress=False
    )
    checkpoint = BestCheckpoint(
        dirpath=tmp_path / "checkpoints", filename="best-{step}", monitor="val/loss", save_last=True,
        last_every_n_steps=2,
    )  # fmt: skip
    saves = Saves()
    trainer = pl.Trainer(
        max_epochs=2, limit_train_batches=4, logger=False, enable_progress_bar=False, enable_model_summary=False,
        accelerator="cpu", callbacks=[checkpoint, saves], default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(
        MelodyModel("categorical", hidden_size=8, num_layers=1, embedding_dim=4), datamodule=datamodule
    )
    # every 2 steps, and at each epoch's end (steps 4 and 8: multiples of 2) the best as well as last
    assert saves.steps == [2, 4, 4, 4, 6, 8, 8, 8]  # at 4 and 8: last (every 2), the best, last (epoch end)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir())[-1] == "last.ckpt"
    assert [
        p.name for p in (tmp_path / "checkpoints").glob("best-*.ckpt")
    ]  # decided although step 4 was saved
    with pytest.raises(MelodygenError, match="last_every_n_steps=0"):
        BestCheckpoint(dirpath=tmp_path, last_every_n_steps=0)


def test_a_sample_monitor_needs_positive_counts():
    with pytest.raises(ValueError, match="at least 1"):
        SampleMonitor(every_n_epochs=0)


def test_curves_keep_each_epochs_own_values(tmp_path, tune_dir):
    from melodygen.data.datamodule import MelodyDataModule
    from melodygen.models import MelodyModel
    from melodygen.training.callbacks import Curves

    datamodule = MelodyDataModule(
        midi_dir=str(tune_dir), cache_dir=str(tmp_path / "cache"), seq_len=16, batch_size=16, progress=False
    )
    curves = Curves()
    trainer = pl.Trainer(
        max_epochs=3, check_val_every_n_epoch=2, num_sanity_val_steps=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", callbacks=[curves],
        default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(
        MelodyModel("categorical", hidden_size=8, num_layers=1, embedding_dim=4), datamodule=datamodule
    )
    assert [row["epoch"] for row in curves.history] == [1, 2, 3]
    assert ["val/loss" in row for row in curves.history] == [
        False,
        True,
        False,
    ]  # validated after epoch 2 only
    assert all("train/loss_epoch" in row for row in curves.history)
    assert (tmp_path / "curves.png").stat().st_size > 10_000
