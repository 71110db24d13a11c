"""Which architecture models folk melodies best: the LSTM, the GRU and the Transformer at about the same
parameter count and the same wall-clock budget, on the folk corpus.

    python scripts/architecture_study.py [--midi-dir data/folk] [--minutes 10] [--pilot-minutes 3]
        [--samples 100] [--out outputs/architecture_study]

1. The Transformer's shape and learning rate are chosen among ``TRANSFORMER_CANDIDATES`` by each one's
   ``val/pitch_bits`` after ``--pilot-minutes`` of training (validation melodies only).
2. The default LSTM, a GRU of about its size and the chosen Transformer each train for ``--minutes``
   (``trainer.max_time``; the Transformer's warm-up + cosine schedule spans the steps it makes in that time,
   measured on 30 training steps first); the best checkpoint by ``val/loss`` is kept, as in any run.
3. Each is scored on the held-out test split: windows (``test/*`` of the run) and whole melodies, each
   from its own start (``melodygen-evaluate``); 100 melodies are sampled from each and compared with the
   held-out tunes (``melodygen-evaluate samples_dir=… reference_dir=…``, Yang & Lerch).

Writes ``docs/architectures.md`` (and the JSON beside the runs). Every run uses the folk corpus and
nothing else, with the default split (``data.split_seed=0``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the same test split, linked into a folder, and the CLIs run as a user runs them
from blog_post_study import cli, held_out  # noqa: E402

#: name → overrides; the LSTM is the default model, the GRU is widened to about its parameter count
RUNS = {
    "lstm": ["model=lstm"],
    "gru": ["model=gru", "model.hidden_size=152"],
}
#: the Transformer shapes tried in the pilot, all about the LSTM's parameter count
TRANSFORMER_CANDIDATES = {
    "4x64": ["model=transformer", "model.hidden_size=64", "model.num_layers=4", "model.ff_size=256"],
    "4x64, lr 2e-3": [
        "model=transformer", "model.hidden_size=64", "model.num_layers=4", "model.ff_size=256", "model.lr=0.002",
    ],
    "2x128": ["model=transformer", "model.hidden_size=128", "model.num_layers=2", "model.ff_size=256"],
    "3x96": ["model=transformer", "model.hidden_size=96", "model.num_layers=3", "model.ff_size=256"],
}  # fmt: skip
QUIET = ["callbacks.sample_monitor=null", "samples.num_samples=0", "trainer.enable_progress_bar=false"]
DOCS = Path("docs")


def steps_per_second(midi_dir: Path, overrides: list[str], root: Path) -> tuple[float, int]:
    """Training steps a second of the model ``overrides`` describe, timed over 30 steps after 5, and the
    steps of an epoch."""
    from hydra import compose, initialize_config_dir

    from melodygen.cli.app import config_dir
    from melodygen.config import register_configs
    from melodygen.train import build_datamodule, build_model

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.root_dir={root}", f"data.midi_dir={midi_dir}", *overrides])
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = build_model(cfg)
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    loader = datamodule.train_dataloader()
    batches = iter(loader)
    for i in range(35):
        if i == 5:
            started = time.perf_counter()
        x, y = next(batches)
        outputs, _ = model(x)
        loss = model.representation.loss(outputs, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return 30 / (time.perf_counter() - started), len(loader)


def train(
    name: str, overrides: list[str], minutes: float, midi_dir: Path, root: Path, scheduled: bool
) -> dict:
    run_dir = root / "runs" / name.replace(" ", "").replace(",", "_")
    # the budget is the time, not the patience; stopped by the time, a run validates where it stopped
    budget = [
        f"trainer.max_time=00:00:{int(minutes):02d}:{round(minutes % 1 * 60):02d}",
        "trainer.min_epochs=0",
        "callbacks.early_stopping=null",
    ]
    if scheduled:  # the schedule spans the whole epochs the time allows (validation takes some of it)
        rate, per_epoch = steps_per_second(midi_dir, overrides, root)
        budget.append(f"trainer.max_epochs={max(1, int(rate * minutes * 60 * 0.9 / per_epoch))}")
    else:
        budget.append("trainer.max_epochs=1000")
    started = time.perf_counter()
    cli(
        "train",
        f"data.midi_dir={midi_dir}",
        *overrides,
        *budget,
        *QUIET,
        f"hydra.run.dir={run_dir}",
        root=root,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["wall_seconds"] = time.perf_counter() - started
    metrics["overrides"] = overrides
    print(
        f"{name}: {metrics['global_step']} steps, {metrics['epochs']} epochs in {metrics['train_seconds']:.0f} s, "
        f"val/pitch_bits {metrics['val/pitch_bits']:.4f}",
        flush=True,
    )
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi-dir", type=Path, default=Path("data/folk"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--pilot-minutes", type=float, default=3.0)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("outputs/architecture_study"))
    args = parser.parse_args()
    if not args.midi_dir.is_dir():
        raise SystemExit(f"error: {args.midi_dir} is not a folder (run `make data` or pass --midi-dir)")
    root, midi_dir = args.out.resolve(), args.midi_dir.resolve()
    record_path = root / "study.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"pilot": {}, "runs": {}}

    def save() -> None:
        root.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=1) + "\n")

    for name, overrides in TRANSFORMER_CANDIDATES.items():  # step 1: validation only
        if name not in record["pilot"]:
            record["pilot"][name] = train(
                f"pilot {name}", overrides, args.pilot_minutes, midi_dir, root, True
            )
            save()
    chosen = min(record["pilot"], key=lambda n: record["pilot"][n]["val/pitch_bits"])
    record["chosen"] = chosen
    runs = {**RUNS, "transformer": TRANSFORMER_CANDIDATES[chosen]}
    for name, overrides in runs.items():  # step 2
        if name not in record["runs"]:
            record["runs"][name] = train(name, overrides, args.minutes, midi_dir, root, name == "transformer")
            save()
    test_dir = held_out(midi_dir, root / "held_out")  # step 3
    ckpts = {name: record["runs"][name]["best_checkpoint"] for name in runs}
    cli("evaluate", f"ckpt_path=[{','.join(ckpts.values())}]", f"data.midi_dir={test_dir}",
        f"hydra.run.dir={root / 'scores'}", root=root)  # fmt: skip
    scores = json.loads((root / "scores" / "evaluation.json").read_text())
    record["whole_melodies"] = {
        name: s["overall"] for name, s in zip(runs, scores["checkpoints"], strict=True)
    }
    record["test_melodies"] = scores["melodies"]
    record["sets"], record["sampling_seconds"] = {}, {}
    for name, ckpt in ckpts.items():
        samples = root / "samples" / name
        started = time.perf_counter()
        cli("generate", f"ckpt_path={ckpt}", f"samples.num_samples={args.samples}", "samples.length=64",
            "max_pngs=0", "wav=false", f"out_dir={samples}", f"hydra.run.dir={root / 'generate' / name}",
            root=root)  # fmt: skip
        record["sampling_seconds"][name] = time.perf_counter() - started
        cli("evaluate", f"samples_dir={samples}", f"reference_dir={test_dir}",
            f"hydra.run.dir={root / 'sets' / name}", root=root)  # fmt: skip
        record["sets"][name] = json.loads((root / "sets" / name / "set_comparison.json").read_text())[
            "features"
        ]
        (DOCS / "architectures").mkdir(parents=True, exist_ok=True)
        (DOCS / "architectures" / f"{name}_samples.png").write_bytes(
            (samples / "sample_grid.png").read_bytes()
        )
    save()
    write_report(args, record)


def write_report(args, record: dict) -> None:
    pilot = record["pilot"]
    lines = [
        "# Which architecture models folk melodies best",
        "",
        f"Written by `scripts/architecture_study.py` on the folk corpus ({args.midi_dir}; 9,244 training, 1,155",
        "validation and 1,183 test tunes, the default split) on a 2-core CPU. No other data.",
        "",
        f"**1. The Transformer's shape**, chosen by `val/pitch_bits` after {args.pilot_minutes:g} minutes of",
        "training each (validation melodies only; the test split is not looked at):",
        "",
        "| candidate | parameters | steps | val/pitch_bits |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, m in pilot.items():
        mark = " (chosen)" if name == record["chosen"] else ""
        lines.append(
            f"| {name}{mark} | {m['num_parameters']:,} | {m['global_step']:,} | {m['val/pitch_bits']:.4f} |"
        )
    lines += [
        "",
        f"**2. The three at the same budget**: {args.minutes:g} minutes of training each (`trainer.max_time`),",
        "the best checkpoint by `val/loss`, scored on the 1,183 held-out tunes as windows of 64 (`test/…`,",
        "as training scores) and as whole melodies, each from its own start (`melodygen-evaluate`); then",
        f"{args.samples} melodies of 64 notes sampled from each (temperature 1) and set against the held-out",
        f"tunes (mean overlap over the {len(next(iter(record['sets'].values())))} features of the Yang & Lerch "
        "comparison; 1 = as close to the real",
        "tunes as they are to each other).",
        "",
        "| model | parameters | steps (epochs) | val/pitch_bits | test/pitch_bits | whole melodies: pitch bits | "
        f"bits/note | set overlap | top-pitch share (real) | melodygen-generate of {args.samples} × 64, s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, m in record["runs"].items():
        whole, features = record["whole_melodies"][name], record["sets"][name]
        overlap = float(np.mean([f["overlap"] for f in features.values()]))
        top = features["top_pitch_share"]
        lines.append(
            f"| {name} (`{' '.join(m['overrides'])}`) | {m['num_parameters']:,} | {m['global_step']:,} "
            f"({m['epochs']}) | {m['val/pitch_bits']:.4f} | {m['test/pitch_bits']:.4f} | "
            f"{whole['all/pitch_bits']:.4f} | {whole['all/bits']:.4f} | {overlap:.3f} | "
            f"{top['generated_mean']:.2f} ({top['reference_mean']:.2f}) | {record['sampling_seconds'][name]:.1f} |"
        )
    lines += ["", "## Samples (the first 16 of each model)", ""]
    for name in record["runs"]:
        lines += [f"### {name}", "", f"![{name} samples](architectures/{name}_samples.png)", ""]
    (DOCS / "architectures.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {DOCS / 'architectures.md'}")


if __name__ == "__main__":
    main()
