"""What the studies share: the commands run as a user runs them, the held-out tunes, a record that
resumes, training on a time budget, and scoring and sampling every run the same way.

A study imports this module from beside it (``scripts/`` is not a package):

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from study import Record, cli, held_out, train_run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from melodygen.config import DataConfig
from melodygen.data.parse_cache import list_midi_files
from melodygen.data.splits import TEST, split_files

#: the recurrent networks' recipe before 0.2.0, which the studies' tables were measured with (docs/changelog.md)
RECURRENT_0_1 = ["model.lr=0.002", "model.scheduler=none", "model.warmup_steps=0", "model.dropout=0.2"]
#: no sample monitor, no samples at the end, no progress bar: a study's runs only train and score
QUIET = ["callbacks.sample_monitor=null", "samples.num_samples=0", "trainer.enable_progress_bar=false"]
#: the studies' tables were measured before bar positions were on by default and while a batch held 64
#: windows (docs/changelog.md); a study's own overrides may change either
AS_MEASURED = ["data.bar_position=false", "data.batch_size=64"]


def cli(command: str, *overrides: str, root: Path) -> str:
    """Run ``melodygen-<command>`` with ``overrides`` in a process of its own, its outputs under ``root``."""
    env = {**os.environ, "MELODYGEN_ROOT": str(root)}
    proc = subprocess.run(
        [sys.executable, "-m", f"melodygen.cli.{command}", *overrides],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode:
        raise SystemExit(f"melodygen-{command} {' '.join(overrides)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def held_out(midi_dir: Path, folder: Path) -> Path:
    """The test split of ``midi_dir`` (the same files every training run holds out), linked into ``folder``."""
    files = list_midi_files(midi_dir)
    split = split_files(files, DataConfig.val_fraction, DataConfig.test_fraction, DataConfig.split_seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, which in zip(files, split):
        if which == TEST:
            target = folder / name.replace("/", "__")
            if not target.exists():
                target.symlink_to((midi_dir / name).resolve())
    return folder


def parser(doc: str, minutes: float, out: str) -> argparse.ArgumentParser:
    """The options every study has: ``--midi-dir``, ``--minutes`` of training a run, ``--samples`` to
    compare with the held-out tunes, ``--out``."""
    found = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    found.add_argument("--midi-dir", type=Path, default=Path("data/folk"))
    found.add_argument("--minutes", type=float, default=minutes)
    found.add_argument("--samples", type=int, default=100)
    found.add_argument("--out", type=Path, default=Path(out))
    return found


def checked_midi_dir(midi_dir: Path) -> Path:
    if not midi_dir.is_dir():
        raise SystemExit(f"error: {midi_dir} is not a folder (run `make data` or pass --midi-dir)")
    return midi_dir.resolve()


class Record(dict):
    """A study's results in ``<out>/study.json``: read back when the study is run again, so what it has
    done already (a run, a measurement) is not done twice."""

    def __init__(self, root: Path, **empty):
        self.path = root / "study.json"
        super().__init__(json.loads(self.path.read_text()) if self.path.is_file() else empty)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self, indent=1) + "\n")


def time_budget(minutes: float, max_epochs: int = 1000) -> list[str]:
    """Overrides that stop a run after ``minutes`` of training (not by patience); stopped by the time, a
    run validates where it stopped."""
    return [
        f"trainer.max_time=00:00:{int(minutes):02d}:{round(minutes % 1 * 60):02d}",
        "trainer.min_epochs=0",
        f"trainer.max_epochs={max_epochs}",
        "callbacks.early_stopping=null",
    ]


def folder_name(name: str) -> str:
    return name.replace(" ", "").replace(",", "_").replace("+", "_")


def train_run(name: str, overrides: list[str], budget: list[str], midi_dir: Path, root: Path) -> dict:
    """Train one run of the study into ``<root>/runs/<name>`` and return its ``metrics.json``, with the
    wall-clock seconds and its overrides."""
    run_dir = root / "runs" / folder_name(name)
    started = time.perf_counter()
    cli(
        "train",
        f"data.midi_dir={midi_dir}",
        *AS_MEASURED,
        *overrides,
        *budget,
        *QUIET,
        f"hydra.run.dir={run_dir}",
        root=root,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["wall_seconds"] = time.perf_counter() - started
    metrics["overrides"] = overrides
    print(f"{name}: {metrics['global_step']} steps, {metrics['epochs']} epochs, "
          f"val/pitch_bits {metrics['val/pitch_bits']:.4f}", flush=True)  # fmt: skip
    return metrics


def score_whole_melodies(ckpts: dict[str, str], test_dir: Path, root: Path) -> tuple[dict, int]:
    """Each checkpoint's figures over whole held-out melodies, each scored from its own start
    (``melodygen-evaluate``), and how many melodies that was."""
    cli("evaluate", f"ckpt_path=[{','.join(ckpts.values())}]", f"data.midi_dir={test_dir}",
        f"hydra.run.dir={root / 'scores'}", root=root)  # fmt: skip
    scores = json.loads((root / "scores" / "evaluation.json").read_text())
    return {name: s["overall"] for name, s in zip(ckpts, scores["checkpoints"], strict=True)}, scores[
        "melodies"
    ]


def sample_and_compare(name: str, ckpt: str, samples: int, test_dir: Path, root: Path, pictures: Path):
    """Sample ``samples`` melodies of 64 notes from ``ckpt``, set them against the held-out tunes (Yang &
    Lerch), and copy their piano-roll grid into ``pictures``; returns the features and the seconds
    sampling took."""
    folder = folder_name(name)
    out = root / "samples" / folder
    started = time.perf_counter()
    cli("generate", f"ckpt_path={ckpt}", f"samples.num_samples={samples}", "samples.length=64", "max_pngs=0",
        "wav=false", f"out_dir={out}", f"hydra.run.dir={root / 'generate' / folder}", root=root)  # fmt: skip
    seconds = time.perf_counter() - started
    cli("evaluate", f"samples_dir={out}", f"reference_dir={test_dir}", f"hydra.run.dir={root / 'sets' / folder}",
        root=root)  # fmt: skip
    features = json.loads((root / "sets" / folder / "set_comparison.json").read_text())["features"]
    pictures.mkdir(parents=True, exist_ok=True)
    (pictures / f"{folder}_samples.png").write_bytes((out / "sample_grid.png").read_bytes())
    return features, seconds
