"""Training end to end through the real Hydra config and a real Lightning Trainer."""

import csv
import json
import struct
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from conftest import write_tune
from helpers import QUIET_SMALL_RUN, REPRESENTATIONS, compose_train
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from melodygen.config import to_plain
from melodygen.training.train import build_datamodule, build_model, build_trainer, train

SMALL = ["model.hidden_size=32", *QUIET_SMALL_RUN]


@pytest.mark.parametrize("representation", sorted(REPRESENTATIONS))
def test_fast_dev_run_per_representation(tmp_path, tune_dir, representation):
    cfg = compose_train(
        tmp_path,
        tune_dir,
        *SMALL,
        f"data.representation={representation}",
        "debug=fast_dev_run",
        "samples.num_samples=1",
    )
    metrics = train(cfg)
    for key in ("val/loss", "val/pitch_acc", "val/pitch_bits", "val/duration_bits", "test/pitch_bits"):
        assert key in metrics and torch.isfinite(torch.tensor(metrics[key])), key
    assert 0.0 <= metrics["val/pitch_acc"] <= 1.0
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["representation"] == representation
    midi = sorted((tmp_path / "run" / "samples").glob("*.mid"))
    assert len(midi) == 1 and pretty_midi.PrettyMIDI(str(midi[0])).instruments[0].notes


def test_run_directory_holds_checkpoints_metrics_and_samples(tmp_path, tune_dir):
    cfg = compose_train(
        tmp_path, tune_dir, *SMALL, "trainer.max_epochs=2", "samples.num_samples=2", "samples.length=12"
    )
    train(cfg)
    run = tmp_path / "run"
    ckpts = {p.name for p in (run / "checkpoints").iterdir()}
    assert "last.ckpt" in ckpts and any(name.startswith("best-") for name in ckpts)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["global_step"] > 0 and metrics["best_checkpoint"].endswith(".ckpt")
    assert {"val/pitch_bits", "test/pitch_bits", "val/duration_bits"} <= metrics.keys()
    report = json.loads((run / "data_report.json").read_text())
    assert report["kept"] == 20
    samples = sorted((run / "samples").glob("*.mid"))
    assert len(samples) == 2 and len(sorted((run / "samples").glob("sample_0*.png"))) == 2
    assert (
        len(list((run / "samples").glob("sample_0*.wav"))) == 2
        and (run / "samples" / "sample_grid.png").is_file()
    )
    for path in samples:
        assert pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    assert (run / "csv" / "metrics.csv").exists()


def test_resume_from_last_checkpoint_continues_the_step_count(tmp_path, tune_dir):
    first = compose_train(
        tmp_path / "a", tune_dir, *SMALL, "trainer.max_epochs=1", "samples.num_samples=0", "test=false"
    )
    train(first)
    last = tmp_path / "a" / "run" / "checkpoints" / "last.ckpt"
    steps_one_epoch = torch.load(last, weights_only=True)["global_step"]
    assert steps_one_epoch > 0
    second = compose_train(
        tmp_path / "b",
        tune_dir,
        *SMALL,
        "trainer.max_epochs=2",
        "samples.num_samples=0",
        "test=false",
        f"ckpt_path={last}",
    )
    train(second)
    metrics = json.loads((tmp_path / "b" / "run" / "metrics.json").read_text())
    assert metrics["global_step"] == 2 * steps_one_epoch


@pytest.mark.slow
def test_overfitting_a_handful_of_real_tunes_reaches_high_pitch_accuracy(tmp_path, folk_dir):
    cfg = compose_train(
        tmp_path,
        folk_dir,
        "model.hidden_size=128",
        "model.num_layers=1",
        "model.embedding_dim=32",
        "data.seq_len=32",
        "data.batch_size=16",
        "data.window_stride=4",
        "trainer.enable_progress_bar=false",
        "debug=overfit",
        "logger=none",
        "callbacks=none",
        "model.lr=0.01",
    )
    datamodule, model, trainer = build_datamodule(cfg), build_model(cfg), build_trainer(cfg)
    trainer.fit(model, datamodule=datamodule)
    # overfit_batches trains on the first batches of the training split, unshuffled: score exactly those
    batches = [batch for _, batch in zip(range(cfg.trainer.overfit_batches), trainer.train_dataloader)]
    assert len(batches) == 2
    metrics = trainer.validate(model, dataloaders=DataLoader(batches, batch_size=None), verbose=False)[0]
    assert metrics["val/pitch_acc"] > 0.9, metrics
    assert metrics["val/pitch_bits"] < 0.5, metrics


def test_same_seed_same_result(tmp_path, tune_dir):
    results = []
    for name in ("a", "b"):
        cfg = compose_train(
            tmp_path / name,
            tune_dir,
            *SMALL,
            "trainer.max_epochs=1",
            "samples.num_samples=0",
            "data.transpose=3",
            "logger=none",
        )
        results.append(train(cfg)["val/loss"])
    assert results[0] == results[1]


def test_config_is_plain_yaml_in_the_run_directory(tmp_path, tune_dir):
    cfg = compose_train(tmp_path, tune_dir, *SMALL)
    assert OmegaConf.select(cfg, "data.representation") == "categorical"
    assert to_plain(cfg)["data"]["representation"] == "categorical"
    assert cfg.callbacks.model_checkpoint.dirpath == str(tmp_path / "run" / "checkpoints")


def test_wandb_logger_writes_an_offline_run_without_an_account(tmp_path, tune_dir, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    cfg = compose_train(
        tmp_path, tune_dir, *SMALL, "trainer.max_epochs=1", "samples.num_samples=0", "logger=wandb"
    )
    train(cfg)
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0
    import wandb

    assert wandb.run is None  # finished, so the next job of a sweep starts its own run


def test_evaluation_only_scores_the_given_checkpoint(tmp_path, tune_dir):
    first = compose_train(tmp_path / "a", tune_dir, *SMALL, "trainer.max_epochs=1", "samples.num_samples=0")
    trained = train(first)
    last = tmp_path / "a" / "run" / "checkpoints" / "last.ckpt"
    again = compose_train(
        tmp_path / "b", tune_dir, *SMALL, "train=false", f"ckpt_path={last}", "samples.num_samples=0"
    )
    scored = train(again)
    # one epoch: the best checkpoint is the last one, so the scores match
    assert scored["val/loss"] == pytest.approx(trained["val/loss"], rel=1e-5)


F_SHARP_MAJOR = {6, 8, 10, 11, 1, 3, 5}  # shares only B and E#/F with C major


def test_a_model_trained_in_c_continues_a_primer_in_the_primers_own_key(tmp_path):
    from melodygen.generation.sampling import primer_as_trained, sample_melodies
    from melodygen.models import load_model
    from melodygen.music.keys import estimate_key
    from melodygen.music.melody import Melody

    rng = np.random.default_rng(5)
    steps = np.array([0, 2, 4, 5, 7, 9, 11])  # a major scale above its tonic
    weight = [0.3, 0.07, 0.2, 0.08, 0.2, 0.08, 0.07]  # the tonic triad most, the tonic longest
    for i in range(12):  # tunes in F# major (66 = F#4), which key estimation finds for every one
        degree = rng.choice(7, size=48, p=weight)
        write_tune(
            tmp_path / "tunes" / f"t{i:02d}.mid",
            [(66 + int(steps[d]), 4 if d == 0 else 2) for d in degree],
        )
    cfg = compose_train(
        tmp_path,
        tmp_path / "tunes",
        *SMALL,
        "data.transpose_to_c=true",
        "data.window_stride=2",
        "model.lr=0.005",
        "trainer.max_epochs=12",
        "trainer.check_val_every_n_epoch=12",
        "callbacks.early_stopping=null",
        "samples.num_samples=0",
        "test=false",
        "logger=none",
    )
    train(cfg)
    model = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert model.hparams.transpose_to_c is True

    primer = Melody([66, 68, 70, 71, 73, 71, 70, 68, 66], [2] * 8 + [4])  # F# major, up and down
    seen, shift = primer_as_trained(model, primer)
    assert estimate_key(seen.pitch, seen.duration)[0] == 0 and shift == -6  # the model sees it in C
    melodies = sample_melodies(model, 4, 32, temperature=0.7, primer=primer, seed=0)
    for melody in melodies:
        assert melody.pitch[: len(primer)].tolist() == primer.pitch.tolist()  # the user's primer, unmoved
        notes = melody.pitch[len(primer) :][melody.pitch[len(primer) :] != 128]
        in_key = np.isin(notes % 12, list(F_SHARP_MAJOR)).mean()
        assert in_key >= 0.9, (in_key, notes.tolist())


def test_any_other_trainer_argument_can_be_added(tmp_path, tune_dir):
    cfg = compose_train(tmp_path, tune_dir, *SMALL, "+trainer.benchmark=true")
    try:
        build_trainer(cfg)
        assert torch.backends.cudnn.benchmark is True  # Lightning passes benchmark on to cuDNN
    finally:
        torch.backends.cudnn.benchmark = False


def test_the_sample_monitor_logs_statistics_and_writes_melodies_each_epoch(tmp_path, tune_dir):
    cfg = compose_train(tmp_path, tune_dir, *SMALL, "trainer.max_epochs=2", "samples.num_samples=0")
    train(cfg)
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "epoch_000",
        "epoch_001",
        "real_tunes.json",
    ]
    assert len(list((run / "samples" / "epoch_001").glob("*.mid"))) == 4
    stats = json.loads((run / "samples" / "epoch_001" / "statistics.json").read_text())
    assert stats["epoch"] == 1 and stats["melodies"] == 4 and len(stats["each"]) == 4
    mean = np.mean([each["distinct_pitches"] for each in stats["each"]])
    assert stats["mean"]["distinct_pitches"] == pytest.approx(mean)
    real = json.loads((run / "samples" / "real_tunes.json").read_text())
    assert real["split"] == "validation" and real["melodies"] >= 1 and real["length"] == 64
    assert 1 <= real["mean"]["distinct_pitches"] <= 64
    with (run / "csv" / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("sample/distinct_pitches")]
    assert len(rows) == 2  # one per epoch
    for row in rows:
        assert 1 <= float(row["sample/distinct_pitches"]) <= 128
        assert 0 < float(row["sample/top_pitch_share"]) <= 1


def tensorboard_scalars(folder: Path) -> dict[str, list[float]]:
    """Every scalar in the TensorBoard event files under ``folder`` (records: length, its CRC, an Event,
    its CRC), read without TensorBoard."""
    from tensorboardX.proto.event_pb2 import Event

    scalars: dict[str, list[float]] = {}
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data, pos = path.read_bytes(), 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = Event.FromString(data[pos + 12 : pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(value.simple_value)
    return scalars


def test_the_sample_statistics_reach_tensorboard_too(tmp_path, tune_dir):
    cfg = compose_train(
        tmp_path, tune_dir, *SMALL, "trainer.max_epochs=2", "samples.num_samples=0", "logger=tensorboard"
    )
    train(cfg)
    scalars = tensorboard_scalars(tmp_path / "run" / "tensorboard")
    assert len(scalars["sample/distinct_pitches"]) == 2  # one per epoch, as in the CSV
    assert all(0 < share <= 1 for share in scalars["sample/top_pitch_share"])
    # one per epoch, then the best checkpoint's validation and test, all in the run's one event file
    assert len(scalars["val/loss"]) == 3
    assert scalars["val/loss"][2] == min(scalars["val/loss"][:2])
    assert len(scalars["test/loss"]) == 1
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))) == 1


def test_mixed_precision_is_bf16_where_the_gpu_has_it(monkeypatch):
    import torch

    from melodygen.training.train import resolve_precision

    assert resolve_precision("16-mixed", "gpu") == "16-mixed"  # an explicit choice stays
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision("mixed", "auto") == "32-true"  # no GPU: full precision on the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("mixed", "gpu") == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_precision("mixed", "cuda") == "16-mixed"
    assert resolve_precision("mixed", "cpu") == "32-true"


def test_init_from_starts_a_new_run_from_another_runs_weights(tmp_path, tune_dir):
    from melodygen.errors import MelodygenError

    first = compose_train(
        tmp_path / "a", tune_dir, *SMALL, "model.hidden_size=24", "trainer.max_epochs=1",
        "samples.num_samples=0", "test=false",
    )  # fmt: skip
    pretrained = train(first)["best_checkpoint"]
    weights = torch.load(pretrained, weights_only=True)["state_dict"]
    # a learning rate too small to move anything: the new run's weights are the first run's
    second = compose_train(
        tmp_path / "b", tune_dir, *SMALL, "trainer.max_epochs=1", "samples.num_samples=0", "test=false",
        "model.lr=1e-30", f"init_from={pretrained}",
    )  # fmt: skip
    summary = train(second)
    assert summary["global_step"] > 0 and summary["epochs"] == 1  # a new run: its own epochs and steps
    tuned = torch.load(summary["best_checkpoint"], weights_only=True)
    assert tuned["hyper_parameters"]["hidden_size"] == 24  # the shape came from init_from
    assert tuned["hyper_parameters"]["lr"] == 1e-30  # the optimizer's settings from this run
    assert all(torch.allclose(weights[k], v) for k, v in tuned["state_dict"].items())
    contradicting = compose_train(
        tmp_path / "c", tune_dir, *SMALL, "samples.num_samples=0", f"init_from={pretrained}",
        "model.hidden_size=32",
    )  # fmt: skip
    with pytest.raises(
        MelodygenError, match=r"^model.hidden_size=32 contradicts the checkpoint in init_from"
    ):
        train(contradicting, ["model.hidden_size=32"])


def test_a_run_with_bar_positions_keeps_them_in_its_checkpoint_and_a_later_run_reads_them(tmp_path, tune_dir):
    from melodygen.errors import MelodygenError
    from melodygen.models import load_model
    from melodygen.representations.position import SIZES

    first = compose_train(
        tmp_path / "a",
        tune_dir,
        *SMALL,
        "data.bar_position=true",
        "trainer.max_epochs=1",
        "samples.num_samples=0",
    )
    trained = train(first)
    last = tmp_path / "a" / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["hyper_parameters"]["bar_position"] is True
    assert load_model(last).net.condition_sizes == SIZES  # unconditioned: the two position columns alone
    # scored again without the setting: the checkpoint's is taken, and the scores are the same
    again = compose_train(
        tmp_path / "b", tune_dir, *SMALL, "train=false", f"ckpt_path={last}", "samples.num_samples=0"
    )
    assert train(again)["val/loss"] == pytest.approx(trained["val/loss"], rel=1e-5)
    contradicting = compose_train(
        tmp_path / "c", tune_dir, *SMALL, "train=false", f"ckpt_path={last}", "data.bar_position=false"
    )
    with pytest.raises(
        MelodygenError, match=r"^data.bar_position=false contradicts the checkpoint in ckpt_path"
    ):
        train(contradicting, ["data.bar_position=false"])


def test_a_run_with_bars_left_says_its_figures_look_ahead_and_writes_tunes_of_whole_bars(tmp_path, tune_dir):
    from melodygen.data.midi import load_melody
    from melodygen.evaluation.scoring import melody_sums
    from melodygen.generation.sampling import sample_melodies
    from melodygen.models import load_model
    from melodygen.representations.position import sizes

    cfg = compose_train(
        tmp_path, tune_dir, *SMALL, "data.bars_left=true", "trainer.max_epochs=1", "samples.num_samples=0"
    )
    summary = train(cfg)
    assert summary["looks_ahead"] == ["bars_left"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["looks_ahead"] == ["bars_left"]
    model = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert model.bars_left and model.net.condition_sizes == sizes(bars_left=True)
    melodies = [load_melody(path) for path in sorted(tune_dir.glob("*.mid"))[:3]]
    scored = melody_sums(model, melodies)  # melodygen-evaluate's scoring, told each tune's own length
    assert all(s["notes"] == len(m) and s["pitch_bits"] > 0 for s, m in zip(scored, melodies, strict=True))
    assert [m.total_steps for m in sample_melodies(model, 2, 0, seed=0, bars=2)] == [32, 32]
