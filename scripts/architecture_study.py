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

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study import (  # noqa: E402
    RECURRENT_0_1,
    Record,
    checked_midi_dir,
    held_out,
    parser,
    sample_and_compare,
    score_whole_melodies,
    time_budget,
    train_run,
)

#: name → overrides; the LSTM is the default model, the GRU is widened to about its parameter count
RUNS = {
    "lstm": ["model=lstm", *RECURRENT_0_1],
    "gru": ["model=gru", "model.hidden_size=152", *RECURRENT_0_1],
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
DOCS = Path("docs")


def steps_per_second(midi_dir: Path, overrides: list[str], root: Path) -> tuple[float, int]:
    """Training steps a second of the model ``overrides`` describe, timed over 30 steps after 5, and the
    steps of an epoch."""
    from hydra import compose, initialize_config_dir

    from melodygen.cli.app import config_dir
    from melodygen.config import register_configs
    from melodygen.training.train import build_datamodule, build_model

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
    """One run of ``minutes``; a ``scheduled`` one (warm-up + cosine) gets the whole epochs the time allows
    as its ``max_epochs`` (validation takes some of the time), so its schedule spans the run."""
    max_epochs = 1000
    if scheduled:
        rate, per_epoch = steps_per_second(midi_dir, overrides, root)
        max_epochs = max(1, int(rate * minutes * 60 * 0.9 / per_epoch))
    return train_run(name, overrides, time_budget(minutes, max_epochs), midi_dir, root)


def main() -> None:
    options = parser(__doc__, 10.0, "outputs/architecture_study")
    options.add_argument("--pilot-minutes", type=float, default=3.0)
    args = options.parse_args()
    midi_dir = checked_midi_dir(args.midi_dir)
    root = args.out.resolve()
    record = Record(root, pilot={}, runs={})
    for name, overrides in TRANSFORMER_CANDIDATES.items():  # step 1: validation only
        if name not in record["pilot"]:
            record["pilot"][name] = train(
                f"pilot {name}", overrides, args.pilot_minutes, midi_dir, root, True
            )
            record.save()
    chosen = min(record["pilot"], key=lambda n: record["pilot"][n]["val/pitch_bits"])
    record["chosen"] = chosen
    runs = {**RUNS, "transformer": TRANSFORMER_CANDIDATES[chosen]}
    for name, overrides in runs.items():  # step 2
        if name not in record["runs"]:
            record["runs"][name] = train(name, overrides, args.minutes, midi_dir, root, name == "transformer")
            record.save()
    test_dir = held_out(midi_dir, root / "held_out")  # step 3
    ckpts = {name: record["runs"][name]["best_checkpoint"] for name in runs}
    record["whole_melodies"], record["test_melodies"] = score_whole_melodies(ckpts, test_dir, root)
    record["sets"], record["sampling_seconds"] = {}, {}
    for name, ckpt in ckpts.items():
        record["sets"][name], record["sampling_seconds"][name] = sample_and_compare(
            name, ckpt, args.samples, test_dir, root, DOCS / "architectures"
        )
    record.save()
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
