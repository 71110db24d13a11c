"""Pitch bits per note on the Essen nursery songs, cross-validated, beside IDyOM's published figures.

    python scripts/bench_idyom.py                                  # the kinder set, 10 folds
    python scripts/bench_idyom.py --midi-dir DIR --json OUT.json   # any folder of melodies

Protocol, as Pearce (2005) scores IDyOM on the same 213 melodies: the set is split into 10 folds by file
(seeded: ``--seed``); for each fold, models learn from the other nine and predict every note of the
held-out melodies, each melody from its own start (the first note from the start element), with pitch
predicted among the pitches of the set (its alphabet) given that a note comes. The figure is pitch bits
per note over every note of every fold. Settings are chosen on each fold's validation melodies, drawn
from its nine training folds, never on the fold it is scored on.

Each step of the table adds one thing to the step above it and is scored the same way:

* from scratch: ``experiment=idyom_scratch`` trained per fold on the nine other folds;
* pretrained: ``experiment=idyom_pretrain`` trained once on the folk corpus with every melody of the
  benchmarked set left out (``data.exclude_dir``, by content hash), scored without seeing the set;
* fine-tuned: that model trained on for each fold (``experiment=idyom_finetune``, ``init_from``);
* adaptation: dynamic evaluation, learning within the melody being predicted (IDyOM's short-term model,
  as gradient steps); its learning rate chosen per fold on the validation melodies;
* notated key: the same three stages with every melody moved to C by its file's key signature
  (``data.transpose_to_c=true data.key=notated``), the key IDyOM's tonic viewpoints also take from the score;
* ensemble: the notated-key model fine-tuned with ``--seeds N`` seeds per fold, probabilities averaged.

Training runs land in ``outputs/bench_idyom/<set>/`` (``--out``); a run whose ``metrics.json`` is already
there with the same overrides is not trained again, so an interrupted benchmark goes on where it stopped.
Writes the table as JSON (``--json``) and Markdown (``--markdown``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from melodygen.cli.app import config_dir, quiet_third_party_noise
from melodygen.cli.overrides import check_overrides
from melodygen.config import register_configs
from melodygen.data.parsed import parse_midi_folder
from melodygen.data.splits import TEST, VAL, fold_split
from melodygen.melody import Melody
from melodygen.models import load_model
from melodygen.prediction import Adaptation, MelodyLogProbs, bits_per_note, log_probs, mix

ROOT = Path(os.environ.get("MELODYGEN_ROOT", Path.cwd()))
#: Pearce (2005), tables 6.4–6.7: pitch bits per note on the 213 kinder melodies, 10-fold cross-validation
PUBLISHED = {
    "IDyOM long-term model": 2.428,
    "IDyOM long-term + short-term model (its best)": 2.106,
    "n-gram emulation of Conklin & Witten": 2.555,
}
KINDER_FILE = "kinder0.abc"
KINDER_MELODIES, KINDER_NOTES = 213, 8393
ADAPTATION_RATES = (0.0, 0.01, 0.03, 0.1)  # 0 = none; chosen per fold on its validation melodies
ADAPTATION_CHUNK = 4
KEY_NORMALIZED = ["data.transpose_to_c=true", "data.key=notated"]
VAL_FRACTION = 0.1  # of each fold's training melodies: they choose the epoch and the adaptation rate
PROTOCOL = [
    "folds by file, seeded; settings chosen on validation melodies drawn from the training folds",
    "pitch predicted among the pitches of the set (the alphabet), given that a note comes, as IDyOM does",
    "rests are in the model's input (IDyOM's pitch sequence has none); only notes are scored",
    "the first note of each melody is predicted from the start element, and counts",
]

log = logging.getLogger("bench_idyom")


def kinder_folder(folk_dir: Path, out: Path) -> Path:
    """The 213 kinder melodies, copied from the folk corpus (``make data``) into their own folder."""
    manifest = folk_dir / "manifest.csv"
    if not manifest.is_file():
        sys.exit(f"error: no folk corpus in {folk_dir}: run `make data` first (or give --midi-dir)")
    import csv

    with manifest.open() as f:
        rows = [row for row in csv.DictReader(f) if row["source_file"] == KINDER_FILE]
    out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        target = out / Path(row["path"]).name
        if not target.exists():
            shutil.copyfile(folk_dir / row["path"], target)
    return out


def compose(overrides: Sequence[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides))


QUIET = [
    "logger=none",
    "callbacks.sample_monitor=null",
    "samples.num_samples=0",
    "test=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def trained(run_dir: Path, overrides: Sequence[str]) -> Path:
    """The best checkpoint of ``melodygen-train`` with ``overrides`` in ``run_dir`` (trained unless there)."""
    from melodygen.train import train

    overrides = [*overrides, *QUIET]
    metrics = run_dir / "metrics.json"
    if metrics.is_file():
        done = json.loads(metrics.read_text())
        if done.get("overrides") == overrides and done.get("best_checkpoint"):
            return Path(done["best_checkpoint"])
    started = time.perf_counter()
    cfg = compose([f"paths.root_dir={ROOT}", f"paths.output_dir={run_dir}", *overrides])
    summary = train(cfg, overrides)
    print(f"  trained {run_dir.relative_to(ROOT) if run_dir.is_relative_to(ROOT) else run_dir} "
          f"in {time.perf_counter() - started:.0f} s ({summary['epochs']} epochs)", flush=True)  # fmt: skip
    return Path(summary["best_checkpoint"])


def check_left_out(run_dir: Path, set_hashes: set[str]) -> int:
    """How many melodies the pretraining run left out; exits if a melody of the set trained it."""
    report = json.loads((run_dir / "data_report.json").read_text())
    corpus = parse_midi_folder(report["midi_dir"], ROOT / "data" / "cache", progress=False)
    left_out = set(report["left_out"])
    remaining = [
        f
        for i, f in enumerate(corpus.files)
        if f not in left_out and corpus.melody(i).content_hash() in set_hashes
    ]
    if remaining:
        sys.exit(
            f"error: {len(remaining)} melodies of the set trained the pretrained model, e.g. {remaining[0]}"
        )
    return len(left_out)


def score(model, melodies: list[Melody], alphabet: list[int], rate: float = 0.0) -> list[MelodyLogProbs]:
    """``model``'s scores of ``melodies`` (a checkpoint path is loaded first), adapting at ``rate`` when > 0."""
    model = load_model(str(model)) if isinstance(model, Path) else model
    adaptation = Adaptation(rate, ADAPTATION_CHUNK) if rate > 0 else None
    return log_probs(model, melodies, alphabet, adaptation)


def row(name: str, change: str, scores: list[MelodyLogProbs], **extra) -> dict:
    figures = bits_per_note(scores)
    return {"step": name, "change": change, **figures, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi-dir", type=Path, help="the melodies to benchmark (default: kinder)")
    parser.add_argument("--folk-dir", type=Path, default=ROOT / "data" / "folk", help="pretraining corpus")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="the folds' seed (data.split_seed)")
    parser.add_argument(
        "--seeds", type=int, default=2, help="fine-tuning seeds in the ensemble (1: no ensemble)"
    )
    parser.add_argument(
        "--exclude-run", type=int, default=0,
        help="also leave out of pretraining every melody that shares this many intervals with one of the set",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="training runs (default outputs/bench_idyom/<set>)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "overrides", nargs="*", help="Hydra overrides for every training run, e.g. trainer.max_epochs=2"
    )
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):  # "GPU available: …" per run
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_third_party_noise()
    started = time.perf_counter()
    register_configs()
    check_overrides(config_dir(), "train", args.overrides)  # a misspelled key: one line before any work

    kinder = args.midi_dir is None
    midi_dir = (
        kinder_folder(args.folk_dir, ROOT / "data" / "benchmarks" / "kinder") if kinder else args.midi_dir
    )
    midi_dir = midi_dir.expanduser().resolve()
    out = (args.out or ROOT / "outputs" / "bench_idyom" / midi_dir.name).resolve()
    parsed = parse_midi_folder(midi_dir, ROOT / "data" / "cache", progress=False)
    melodies = [parsed.melody(i) for i in range(len(parsed))]
    alphabet = sorted({int(p) for m in melodies for p in m.pitch[m.is_note]})
    notes = sum(m.num_notes for m in melodies)
    print(f"{midi_dir}: {len(melodies)} melodies, {notes} notes, an alphabet of {len(alphabet)} pitches "
          f"({len(parsed.skipped)} files skipped)", flush=True)  # fmt: skip
    if kinder and (len(melodies), notes) != (KINDER_MELODIES, KINDER_NOTES):
        print(f"warning: the published set has {KINDER_MELODIES} melodies and {KINDER_NOTES} notes")
    splits = [fold_split(parsed.files, args.folds, k, VAL_FRACTION, args.seed) for k in range(args.folds)]
    data = [f"data.midi_dir={midi_dir}", f"data.folds={args.folds}", f"data.split_seed={args.seed}",
            f"data.val_fraction={VAL_FRACTION}", *args.overrides]  # fmt: skip

    def held_out(k: int, which: int = TEST) -> list[Melody]:
        return [m for m, s in zip(melodies, splits[k], strict=True) if s == which]

    tested = [m for k in range(args.folds) for m in held_out(k)]  # the order every step scores in
    steps = []

    print("from scratch, per fold", flush=True)
    scratch = []
    for k in range(args.folds):
        ckpt = trained(out / "scratch" / f"fold{k}", ["experiment=idyom_scratch", *data, f"data.fold={k}"])
        scratch += score(ckpt, held_out(k), alphabet)
    steps.append(row("from scratch", "experiment=idyom_scratch, per fold", scratch))

    exclude = [f"data.midi_dir={args.folk_dir.resolve()}", f"data.exclude_dir={midi_dir}", *args.overrides]
    if args.exclude_run:
        exclude.append(f"data.exclude_shared_run={args.exclude_run}")
    set_hashes = {m.content_hash() for m in melodies}

    def pipeline(name: str, extra: list[str], tune_seeds: int = 1) -> dict:
        """Pretrain without the set, fine-tune per fold (``tune_seeds`` times, seeds 0, 1, …), adapt: the
        scores of each stage on the test folds, in order; ``adapted`` has one list per fine-tuning seed."""
        print(f"{name}: pretraining on {args.folk_dir} without the set's melodies", flush=True)
        run = out / name
        base = trained(run / "pretrain", ["experiment=idyom_pretrain", *exclude, *extra])
        left_out = check_left_out(run / "pretrain", set_hashes)
        print(
            f"  left out of pretraining: {left_out} melodies; no melody of the set remains",
            flush=True,
        )
        stages = {"pretrained": score(base, tested, alphabet), "fine-tuned": [], "adapted": [], "rates": []}
        stages["left_out"] = left_out
        for seed in range(tune_seeds):
            print(f"{name}: fine-tuning per fold (seed {seed})", flush=True)
            adapted, rates = [], []
            for k in range(args.folds):
                tune = ["experiment=idyom_finetune", *data, *extra, f"data.fold={k}", f"init_from={base}"]
                model = load_model(str(trained(run / f"seed{seed}" / f"fold{k}", [*tune, f"seed={seed}"])))
                if seed == 0:
                    stages["fine-tuned"] += score(model, held_out(k), alphabet)
                by_rate = {
                    r: bits_per_note(score(model, held_out(k, VAL), alphabet, r))["pitch_bits"]
                    for r in ADAPTATION_RATES
                }
                rates.append(min(by_rate, key=by_rate.get))
                adapted += score(model, held_out(k), alphabet, rates[-1])
            stages["adapted"].append(adapted)
            stages["rates"].append(rates)
        return stages

    absolute = pipeline("absolute", [])
    steps.append(row("pretrained", "experiment=idyom_pretrain, the set left out; not fine-tuned",
                     absolute["pretrained"]))  # fmt: skip
    steps.append(row("+ fine-tuned", "experiment=idyom_finetune per fold, from the pretrained weights",
                     absolute["fine-tuned"]))  # fmt: skip
    steps.append(row("+ adaptation", f"dynamic evaluation, rate per fold from {ADAPTATION_RATES}",
                     absolute["adapted"][0], rates=absolute["rates"][0]))  # fmt: skip
    keyed = pipeline("notated_key", KEY_NORMALIZED, max(1, args.seeds))
    steps.append(row("+ notated key", "all three stages with every melody moved to C by its key signature ("
                     + " ".join(KEY_NORMALIZED) + ")", keyed["adapted"][0], rates=keyed["rates"][0]))  # fmt: skip
    if args.seeds > 1:
        steps.append(row(f"+ ensemble of {args.seeds}", f"{args.seeds} fine-tuning seeds per fold, probabilities "
                         "averaged", mix(keyed["adapted"]), rates=keyed["rates"]))  # fmt: skip
    left_out = absolute["left_out"]

    seconds = time.perf_counter() - started
    result = {
        "set": str(midi_dir),
        "melodies": len(tested),
        "notes": sum(m.num_notes for m in tested),
        "alphabet": alphabet,
        "folds": args.folds,
        "fold_seed": args.seed,
        "left_out_of_pretraining": left_out,
        "exclude_shared_run": args.exclude_run,
        "variants": {
            "from_scratch": steps[0]["pitch_bits"],
            "pretrained": steps[2]["pitch_bits"],  # pretrained without the set, then fine-tuned per fold
            "best": min(s["pitch_bits"] for s in steps),
        },
        "best_step": min(steps, key=lambda s: s["pitch_bits"])["step"],
        "steps": steps,
        "published": PUBLISHED if kinder else {},
        "protocol": PROTOCOL,
        "seconds": round(seconds, 1),
    }
    table = markdown(result)
    print(table)
    for path in (args.json, args.markdown):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table + "\n")


def markdown(result: dict) -> str:
    lines = [
        f"Pitch bits per note, {result['folds']}-fold cross-validation (fold seed {result['fold_seed']}), "
        f"{result['melodies']} melodies, {result['notes']} notes; {result['seconds'] / 60:.0f} min on this machine.",
        "",
        "| step | what it adds | pitch bits/note | duration bits/note |",
        "|---|---|---:|---:|",
    ]
    for step in result["steps"]:
        lines.append(
            f"| {step['step']} | {step['change']} | {step['pitch_bits']:.3f} | {step['duration_bits']:.3f} |"
        )
    for name, figure in result["published"].items():
        lines.append(f"| {name} (Pearce 2005) | published | {figure:.3f} | |")
    lines += ["", "Protocol:", *[f"- {item}" for item in result["protocol"]]]
    return "\n".join(lines)


if __name__ == "__main__":
    from melodygen.errors import MelodygenError

    try:
        main()
    except MelodygenError as exc:  # a folder or an override that cannot work: one line, as the CLIs say it
        sys.exit(f"error: {exc}")
