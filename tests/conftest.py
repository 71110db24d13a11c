"""Shared fixtures: small real MIDI files written with pretty_midi."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pretty_midi
import pytest


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs ``-n auto``), give each worker its own cores.

    Each worker and every process it starts (the CLI runs, DDP ranks, sweep jobs) then sees only its share
    through its CPU affinity, as melodygen's jobs do under SLURM or in a container, so two trainings never
    fight over the same cores (oversubscribed torch threads ran up to 14x slower here).
    """
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not (worker and count and hasattr(os, "sched_setaffinity")):
        return
    cores = sorted(os.sched_getaffinity(0))
    index, count = int(worker.removeprefix("gw")), int(count)
    if len(cores) >= count:
        mine = cores[index::count]
        os.sched_setaffinity(0, mine)
        # the tests that train in this process: torch's pool was sized before (an OpenMP runtime that numpy
        # loaded read the affinity first), so size it to this worker's cores
        import torch

        torch.set_num_threads(len(mine))


#: A few real folk-like phrases (pitch, duration in 16ths); 0 duration is never used.
TUNES = [
    [
        (67, 2),
        (72, 2),
        (72, 3),
        (74, 1),
        (76, 2),
        (72, 2),
        (74, 4),
        (71, 2),
        (67, 2),
        (69, 2),
        (71, 2),
        (72, 4),
        (76, 2),
        (79, 2),
        (77, 2),
        (76, 2),
        (74, 4),
        (72, 4),
    ],
    [
        (62, 4),
        (66, 2),
        (69, 2),
        (74, 4),
        (73, 2),
        (71, 2),
        (69, 4),
        (66, 4),
        (67, 2),
        (69, 2),
        (71, 4),
        (69, 2),
        (67, 2),
        (66, 8),
        (64, 4),
        (62, 8),
    ],
    [
        (57, 3),
        (60, 1),
        (64, 2),
        (69, 2),
        (67, 2),
        (64, 2),
        (62, 2),
        (60, 2),
        (59, 2),
        (60, 2),
        (62, 4),
        (64, 4),
        (57, 8),
    ],
]


def write_tune(
    path: Path,
    notes,
    qpm: float = 120.0,
    program: int = 0,
    is_drum: bool = False,
    rest_before: dict[int, int] | None = None,
) -> Path:
    """Write ``notes`` [(pitch, 16ths)] as a one-track MIDI file; ``rest_before[i]`` inserts a rest."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
    sixteenth = 60.0 / qpm / 4
    t = 0.0
    for i, (pitch, steps) in enumerate(notes):
        t += (rest_before or {}).get(i, 0) * sixteenth
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=t, end=t + steps * sixteenth))
        t += steps * sixteenth
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def random_tune(rng: np.random.Generator, length: int):
    pitch = 60 + np.cumsum(rng.integers(-3, 4, size=length)).clip(-12, 12)
    duration = rng.choice([1, 2, 2, 4, 4, 4, 8], size=length)
    return list(zip(pitch.tolist(), duration.tolist()))


def write_tune_folder(folder: Path, seed: int = 0, count: int = 20) -> Path:
    """``count`` usable one-track tunes of 40–80 notes at two tempi, ``tune00.mid`` …"""
    rng = np.random.default_rng(seed)
    for i in range(count):
        write_tune(
            folder / f"tune{i:02d}.mid",
            random_tune(rng, int(rng.integers(40, 80))),
            qpm=100.0 if i % 2 else 140.0,
        )
    return folder


@pytest.fixture
def tune_dir(tmp_path: Path) -> Path:
    """Twenty usable one-track tunes of 40–80 notes at two tempi."""
    return write_tune_folder(tmp_path / "tunes")


def write_notes(path: Path, tracks, qpm: float = 120.0) -> Path:
    """Write several tracks of ``(pitch, start, length)`` notes, times in 16ths (fractions allowed).

    ``tracks`` is a list of ``(notes, program, is_drum)``; the tracks are written in that order.
    """
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    sixteenth = 60.0 / qpm / 4
    for notes, program, is_drum in tracks:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
        for pitch, start, length in notes:
            inst.notes.append(
                pretty_midi.Note(
                    velocity=90, pitch=pitch, start=start * sixteenth, end=(start + length) * sixteenth
                )
            )
        pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


@pytest.fixture
def make_tune():
    """:func:`write_tune`, for tests in sub-folders."""
    return write_tune


@pytest.fixture
def make_midi():
    """:func:`write_notes`, for tests in sub-folders."""
    return write_notes


@pytest.fixture
def tunes():
    """:data:`TUNES`: three real phrases as ``[(pitch, 16ths)]``."""
    return TUNES


@pytest.fixture(scope="session")
def folk_dir(tmp_path_factory) -> Path:
    """A dozen real Essen folk tunes, exported from music21's ABC files by the corpus builder."""
    from melodygen.folk import build_corpus

    out = tmp_path_factory.mktemp("folk")
    build_corpus(out, collections=("essen",), workers=1, limit=12, progress=False)
    return out


class TinyCheckpoint:
    """A checkpoint written by a real two-step fit, and the model that wrote it (in eval mode)."""

    def __init__(self, path: Path, model):
        self.path, self.model = path, model


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> TinyCheckpoint:
    """A tiny categorical MelodyModel fitted for two steps on six written tunes, saved by the Trainer."""
    import pytorch_lightning as pl

    from melodygen.data.datamodule import MelodyDataModule
    from melodygen.models import MelodyModel

    root = tmp_path_factory.mktemp("tiny_checkpoint")
    rng = np.random.default_rng(7)
    for i in range(6):
        write_tune(root / "midi" / f"tune{i}.mid", random_tune(rng, 40))
    datamodule = MelodyDataModule(
        midi_dir=str(root / "midi"),
        cache_dir=str(root / "cache"),
        seq_len=16,
        batch_size=8,
        val_fraction=0.0,
        test_fraction=0.0,
        progress=False,
    )
    pl.seed_everything(0, verbose=False)
    model = MelodyModel("categorical", hidden_size=24, num_layers=2, embedding_dim=8)
    trainer = pl.Trainer(
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=datamodule)
    path = root / "tiny.ckpt"
    trainer.save_checkpoint(path)
    return TinyCheckpoint(path, model.eval())


@pytest.fixture(autouse=True)
def keep_ctrl_c():
    """Every test ends with Ctrl-C handled as it began. Lightning answers a KeyboardInterrupt inside ``fit``
    by ignoring SIGINT from then on (its shutdown must not be interrupted); in this process that would reach
    every later test, and every command a later test starts would inherit it and ignore Ctrl-C."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    if signal.getsignal(signal.SIGINT) is not handler:
        signal.signal(signal.SIGINT, handler)
