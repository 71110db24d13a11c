"""Pitch bits per note on the Essen nursery songs, cross-validated, beside IDyOM's published figures.

    python scripts/bench_idyom.py                                  # the kinder set, 10 folds, the LSTM
    python scripts/bench_idyom.py --models lstm,gru,transformer    # a column per architecture
    python scripts/bench_idyom.py --midi-dir DIR --json OUT.json   # any folder of melodies
    python scripts/bench_idyom.py --set-alone                      # the set-alone steps only (no pretraining)
    python scripts/bench_idyom.py --models lstm,gru,transformer --best-only   # the declared best entry only

Protocol, as Pearce (2005) scores IDyOM on the same 213 melodies: the set is split into 10 folds by file
(seeded: ``--seed``); for each fold, models learn from the other nine and predict every note of the
held-out melodies, each melody from its own start (the first note from the start element), with pitch
predicted among the pitches of the set (its alphabet) given that a note comes. The figure is pitch bits
per note over every note of every fold. Settings are chosen on each fold's validation melodies, drawn
from its nine training folds, never on the fold it is scored on; every training run's data report is
checked to hold exactly the split of its fold the script scores.

Each architecture (``--models``) climbs the same ladder, every architecture's steps on the set alone
first; each step adds one thing to the step above it:

* from scratch: ``experiment=idyom_scratch`` trained per fold on the nine other folds (the set alone,
  the data IDyOM had);
* + adaptation: dynamic evaluation, learning within the melody being predicted (IDyOM's short-term model,
  as gradient steps); its learning rate chosen per fold on the validation melodies;
* + notated key: the same from scratch with every melody moved to C by its file's key signature
  (``data.transpose_to_c=true data.key=notated``), the key IDyOM's tonic viewpoints also take from the
  score. A melody without a key signature is scored as written (its key would be estimated from notes
  still to come); how many there were is reported;
* pretrained: ``experiment=idyom_pretrain`` trained once on the folk corpus with every melody of the
  set left out (``data.exclude_dir``, by content hash), for at most 15 minutes whatever the architecture
  (``PRETRAIN_BUDGET``), scored without seeing the set;
* + fine-tuned: that model trained on for each fold (``experiment=idyom_finetune``, ``init_from``);
* + adaptation, then + notated key: the three pretrained stages again with every melody moved to C;
* + ensemble of N seeds (``--seeds N``): the notated-key model fine-tuned with N seeds per fold.

With several architectures, two more rows average their probabilities: their from-scratch notated-key
adapted models (the set alone), and their pretrained notated-key adapted models. The table bolds two
entries declared here, before any test fold is scored (``DECLARED``): the best configuration by its
construction and the like-for-like one (the set alone); every entry also shows its pitch bits on the
validation melodies.

Training runs land in ``outputs/bench_idyom/<set>/<model>/`` (``--out``); a run whose ``metrics.json`` is
already there with the same overrides is not trained again, so an interrupted benchmark goes on where it
stopped. Writes the table as JSON (``--json``) and Markdown (``--markdown``).
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
from melodygen.config import register_configs
from melodygen.config.overrides import check_overrides
from melodygen.data.parsed import parse_midi_folder
from melodygen.data.splits import TEST, TRAIN, VAL, fold_split
from melodygen.evaluation.prediction import Adaptation, MelodyLogProbs, bits_per_note, log_probs, mix
from melodygen.models import load_model
from melodygen.music.melody import Melody
from melodygen.registry import NETWORKS, plugin_modules

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
_CONSTANT_LR = ["model.scheduler=none", "model.warmup_steps=0"]
#: the recurrent networks' recipe before 0.2.0, which the table was measured with (docs/changelog.md); an
#: experiment's own lr and dropout stand
_RECURRENT_0_1 = {
    "scratch": ["model.lr=0.002", *_CONSTANT_LR],
    "pretrain": ["model.lr=0.002", *_CONSTANT_LR, "model.dropout=0.2"],
    "finetune": [*_CONSTANT_LR, "model.dropout=0.2"],
}
#: what each architecture changes in the benchmark's experiments, whose sizes are the LSTM's: the
#: Transformer's warm-up fits the few steps of the small set
ARCHITECTURE = {
    "lstm": _RECURRENT_0_1,
    "gru": _RECURRENT_0_1,
    "transformer": {
        "scratch": [
            "model.num_layers=2",
            "model.hidden_size=64",
            "model.ff_size=256",
            "model.warmup_steps=20",
        ],
        "pretrain": [],  # the experiment's width of 256: 2 blocks of 4 heads, feed-forward 256
        "finetune": ["model.warmup_steps=5"],
    },
}
#: a network not named above (a plugin's) runs the experiments as they are
UNCHANGED = {"scratch": [], "pretrain": [], "finetune": []}
#: every architecture's pretraining gets the same wall-clock budget, as the architecture study gives each
#: the same budget (on a 2-core CPU: 4 of the experiment's 6 epochs for the LSTM and the GRU, 3 for the Transformer)
PRETRAIN_BUDGET = "trainer.max_time=00:00:15:00"
#: the two entries the table bolds, fixed before any test fold is scored: (several architectures, one)
DECLARED = {
    "best": ("pretrained, every architecture together", "+ notated key"),
    "like_for_like": ("from scratch, every architecture together", "from scratch + notated key"),
}
SPLIT_NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}
VAL_FRACTION = 0.1  # of each fold's training melodies: they choose the epoch and the adaptation rate
PROTOCOL = [
    "folds by file, seeded; settings chosen on validation melodies drawn from the training folds",
    "every training run's data report checked to hold exactly the fold's train, validation and test files",
    "the bold entries were declared before any test fold was scored, not picked among the test scores",
    "pitch predicted among the pitches of the set (the alphabet), given that a note comes, as IDyOM does",
    "rests are in the model's input (IDyOM's pitch sequence has none); only notes are scored",
    "the first note of each melody is predicted from the start element, and counts",
    "with data.bar_position (the default), each note is predicted knowing where in its bar it starts: that "
    "follows from the durations before it and the bar lines the file writes before the first note (its time "
    "signature and pickup, from the ABC); nothing is taken from the tune's length or from notes still to come",
    "a model trained with data.bars_left is never told the bars left to a melody's end here: it reads the "
    "class that tells nothing, as in a fifth of its training windows",
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
        target, source = out / Path(row["path"]).name, folk_dir / row["path"]
        if not target.exists() or target.read_bytes() != source.read_bytes():  # a rebuilt corpus replaces it
            shutil.copyfile(source, target)
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
    from melodygen.training.train import train

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


def check_splits(run_dir: Path, files: Sequence[str], split) -> None:
    """Exit unless the run trained, validated and tested on exactly the fold the script scores."""
    report = json.loads((run_dir / "data_report.json").read_text())
    used = {entry["file"]: entry["split"] for entry in report["kept_files"]}
    for name, which in zip(files, split, strict=True):
        if used.get(name) != SPLIT_NAMES[int(which)]:
            sys.exit(
                f"error: {run_dir} used {name} as {used.get(name, 'nothing')}, the benchmark scores it as "
                f"{SPLIT_NAMES[int(which)]}: an override changed the folds"
            )


def score(
    model, melodies: list[Melody], alphabet: list[int], rate: float = 0.0, lookahead: bool = True
) -> list[MelodyLogProbs]:
    """``model``'s scores of ``melodies`` (a checkpoint path is loaded first), adapting at ``rate`` when > 0."""
    model = load_model(str(model)) if isinstance(model, Path) else model
    adaptation = Adaptation(rate, ADAPTATION_CHUNK) if rate > 0 else None
    return log_probs(model, melodies, alphabet, adaptation, lookahead=lookahead)


class Scores:
    """One step's scores of the test melodies (every fold, in order) and of the validation melodies."""

    def __init__(self, test=None, val=None, rates=None):
        self.test, self.val, self.rates = test or [], val or [], rates or []


def mixed(steps: Sequence[Scores]) -> Scores:
    """The ensemble of several steps: their probabilities averaged, melody by melody."""
    return Scores(mix([s.test for s in steps]), mix([s.val for s in steps]))


def row(name: str, change: str, data: str, scores: Scores, **extra) -> dict:
    figures = bits_per_note(scores.test)
    val = bits_per_note(scores.val)["pitch_bits"] if scores.val else None
    return {"step": name, "change": change, "data": data, **figures, "val_pitch_bits": val,
            **({"rates": scores.rates} if scores.rates else {}), **extra}  # fmt: skip


SET_ONLY = "the set alone"
CORPUS = "the set + the folk corpus (11,369 tunes without the set's melodies)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--midi-dir", type=Path, help="the melodies to benchmark (default: kinder)")
    parser.add_argument("--folk-dir", type=Path, default=ROOT / "data" / "folk", help="pretraining corpus")
    parser.add_argument(
        "--models",
        default="lstm",
        help="comma-separated registered networks: lstm, gru, transformer, a plugin's",
    )
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="the folds' seed (data.split_seed)")
    parser.add_argument(
        "--seeds", type=int, default=1, help="fine-tuning seeds in an ensemble (1: no ensemble)"
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
    parser.add_argument(
        "--set-alone", action="store_true",
        help="only the steps that learn from the set alone (no pretraining: minutes instead of hours)",
    )  # fmt: skip
    parser.add_argument(
        "--best-only", action="store_true",
        help="only what the declared best entry needs: each network's notated-key pretraining, fine-tuning "
        "and adaptation (half the pretrainings, none of the set-alone steps)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.set_alone and args.best_only:
        sys.exit("error: --set-alone and --best-only leave nothing in common to run; choose one")
    models = args.models.split(",")
    register_configs(plugin_modules(args.overrides))  # installed plugins, and plugins=[module]
    unknown = [m for m in models if m not in NETWORKS]
    if not models or unknown:
        sys.exit(f"error: --models {args.models}: choose among {', '.join(NETWORKS)}")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):  # "GPU available: …" per run
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_third_party_noise()
    started = time.perf_counter()
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
    unsigned = sum(m.meta.get("key_signature") is None for m in melodies)
    print(f"{midi_dir}: {len(melodies)} melodies, {notes} notes, an alphabet of {len(alphabet)} pitches "
          f"({len(parsed.skipped)} files skipped; {unsigned} without a key signature)", flush=True)  # fmt: skip
    if kinder and (len(melodies), notes) != (KINDER_MELODIES, KINDER_NOTES):
        print(f"warning: the published set has {KINDER_MELODIES} melodies and {KINDER_NOTES} notes")
    splits = [fold_split(parsed.files, args.folds, k, VAL_FRACTION, args.seed) for k in range(args.folds)]
    data = [f"data.midi_dir={midi_dir}", f"data.folds={args.folds}", f"data.split_seed={args.seed}",
            f"data.val_fraction={VAL_FRACTION}", *args.overrides]  # fmt: skip

    def held_out(k: int, which: int = TEST) -> list[Melody]:
        return [m for m, s in zip(melodies, splits[k], strict=True) if s == which]

    tested = [m for k in range(args.folds) for m in held_out(k)]  # the order every step scores in
    validating = [m for k in range(args.folds) for m in held_out(k, VAL)]
    exclude = [f"data.midi_dir={args.folk_dir.resolve()}", f"data.exclude_dir={midi_dir}", *args.overrides]
    if args.exclude_run:
        exclude.append(f"data.exclude_shared_run={args.exclude_run}")
    set_hashes = {m.content_hash() for m in melodies}

    def per_fold(run: Path, overrides: list[str], keyed: bool, seed: int = 0) -> tuple[Scores, Scores]:
        """Train fold by fold, check each run's folds, and score its test and validation melodies as it
        is and adapting (at the rate its validation melodies choose): ``(static, adapted)``."""
        static, adapted = Scores(), Scores()
        for k in range(args.folds):
            fold = [*overrides, *data, *(KEY_NORMALIZED if keyed else []), f"data.fold={k}"]
            run_dir = run / f"fold{k}"
            model = load_model(str(trained(run_dir, [*fold, *([f"seed={seed}"] if seed else [])])))
            check_splits(run_dir, parsed.files, splits[k])
            by_rate = {
                r: score(model, held_out(k, VAL), alphabet, r, lookahead=False) for r in ADAPTATION_RATES
            }
            rate = min(by_rate, key=lambda r: bits_per_note(by_rate[r])["pitch_bits"])
            static.val += by_rate[0.0]
            static.test += score(model, held_out(k), alphabet, lookahead=False)
            adapted.val += by_rate[rate]
            adapted.test += score(model, held_out(k), alphabet, rate, lookahead=False)
            adapted.rates.append(rate)
        return static, adapted

    def pretrained(run: Path, overrides: list[str], keyed: bool) -> Path:
        base = trained(run / "pretrain", [*overrides, *exclude, *(KEY_NORMALIZED if keyed else [])])
        left_out = check_left_out(run / "pretrain", set_hashes)
        print(f"  left out of pretraining: {left_out} melodies; no melody of the set remains", flush=True)
        return base

    def absolute_ladder(name: str, arch: list[str], changes: dict, pretrain: list[str], where: Path,
                        steps: list[dict]) -> None:  # fmt: skip
        """The pretrained, fine-tuned and adapted steps with pitches as written."""
        print(f"{name}: pretraining on {args.folk_dir} without the set's melodies", flush=True)
        base = pretrained(where / "absolute", pretrain, False)
        stage = Scores(score(base, tested, alphabet), score(base, validating, alphabet))
        steps.append(
            row("pretrained", "experiment=idyom_pretrain, the set left out; not fine-tuned", CORPUS, stage)
        )
        print(f"{name}: fine-tuning per fold", flush=True)
        tune = ["experiment=idyom_finetune", *arch, *changes["finetune"], f"init_from={base}"]
        static, adapted = per_fold(where / "absolute" / "seed0", tune, False)
        steps.append(row("+ fine-tuned", "experiment=idyom_finetune per fold, from the pretrained weights",
                         CORPUS, static))  # fmt: skip
        steps.append(row("+ adaptation", f"dynamic evaluation, rate per fold from {ADAPTATION_RATES}", CORPUS,
                         adapted))  # fmt: skip

    results: dict[str, list[dict]] = {name: [] for name in models}
    finals: dict[str, dict[str, Scores]] = {name: {} for name in models}
    # the set alone first, for every architecture (minutes), then the pretrained ladders (the long part)
    for name in [] if args.best_only else models:
        arch = [f"model={name}"]
        where, steps = out / name, results[name]
        print(f"{name}: from scratch, per fold", flush=True)
        scratch = ["experiment=idyom_scratch", *arch, *ARCHITECTURE.get(name, UNCHANGED)["scratch"]]
        static, adapted = per_fold(where / "scratch", scratch, False)
        steps.append(row("from scratch", "experiment=idyom_scratch, per fold", SET_ONLY, static))
        steps.append(row("from scratch + adaptation", f"dynamic evaluation, rate per fold from {ADAPTATION_RATES}",
                         SET_ONLY, adapted))  # fmt: skip
        print(f"{name}: from scratch with the notated key, per fold", flush=True)
        _, finals[name]["scratch"] = per_fold(where / "scratch_notated_key", scratch, True)
        steps.append(row("from scratch + notated key", "+ adaptation, every melody moved to C by its key "
                         "signature (" + " ".join(KEY_NORMALIZED) + ")", SET_ONLY, finals[name]["scratch"]))  # fmt: skip
        print(f"  {name}, the set alone: " + ", ".join(f"{r['step']} {r['pitch_bits']:.3f}" for r in steps),
              flush=True)  # fmt: skip
    for name in [] if args.set_alone else models:
        arch = [f"model={name}"]
        changes = ARCHITECTURE.get(name, UNCHANGED)
        where, steps = out / name, results[name]
        pretrain = ["experiment=idyom_pretrain", *arch, *changes["pretrain"], PRETRAIN_BUDGET]
        if not args.best_only:
            absolute_ladder(name, arch, changes, pretrain, where, steps)
        what = "pretraining and fine-tuning" if args.best_only else "the same"
        print(f"{name}: {what} with the notated key", flush=True)
        base = pretrained(where / "notated_key", pretrain, True)
        tune = ["experiment=idyom_finetune", *arch, *changes["finetune"], f"init_from={base}"]
        seeds = [
            per_fold(where / "notated_key" / f"seed{s}", tune, True, seed=s)[1] for s in range(args.seeds)
        ]
        steps.append(row("+ notated key", "the three pretrained stages with every melody moved to C by its key "
                         "signature", CORPUS, seeds[0]))  # fmt: skip
        final = seeds[0]
        if args.seeds > 1:
            final = mixed(seeds)
            steps.append(row(f"+ ensemble of {args.seeds} seeds", f"{args.seeds} fine-tuning seeds per fold, "
                             "probabilities averaged", CORPUS, final))  # fmt: skip
        finals[name]["pretrained"] = final
        corpus_rows = steps if args.best_only else steps[3:]
        print(
            f"  {name}: " + ", ".join(f"{r['step']} {r['pitch_bits']:.3f}" for r in corpus_rows), flush=True
        )

    together = []
    if len(models) > 1:
        if not args.best_only:
            together.append(row("from scratch, every architecture together", "the from-scratch notated-key "
                                "adapted models of " + ", ".join(models) + ", probabilities averaged", SET_ONLY,
                                mixed([finals[m]["scratch"] for m in models])))  # fmt: skip
        if not args.set_alone:
            together.append(row("pretrained, every architecture together", "the pretrained notated-key adapted "
                                "models of " + ", ".join(models) + ", probabilities averaged", CORPUS,
                                mixed([finals[m]["pretrained"] for m in models])))  # fmt: skip

    def declared(which: str) -> dict:
        several, one = DECLARED[which]
        if len(models) > 1:
            return next(r for r in together if r["step"] == several)
        return next(r for r in results[models[0]] if r["step"] == one)

    scored = ["like_for_like"] if args.set_alone else ["best"] if args.best_only else list(DECLARED)
    seconds = time.perf_counter() - started
    result = {
        "set": str(midi_dir),
        "melodies": len(tested),
        "notes": sum(m.num_notes for m in tested),
        "validation_melodies": len(validating),
        "alphabet": alphabet,
        "folds": args.folds,
        "fold_seed": args.seed,
        "without_key_signature": unsigned,
        "exclude_shared_run": args.exclude_run,
        "models": models,
        "architecture_overrides": {m: ARCHITECTURE.get(m, UNCHANGED) for m in models},
        "steps": results,
        "together": together,
        "declared": {which: declared(which)["step"] for which in scored},
        "variants": {which: declared(which)["pitch_bits"] for which in scored},
        "best_validation": min(
            (r for rows in [*results.values(), together] for r in rows), key=lambda r: r["val_pitch_bits"]
        )["step"],
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
    models = result["models"]
    lines = [
        f"Pitch bits per note, {result['folds']}-fold cross-validation (fold seed {result['fold_seed']}), "
        f"{result['melodies']} melodies, {result['notes']} notes (in brackets: on the "
        f"{result['validation_melodies']} validation melodies of the folds); "
        f"{result['seconds'] / 60:.0f} min on this machine. Bold: the entries declared before scoring.",
        "",
        f"| step | data | {' | '.join(models)} |",
        f"|---|---|{'---:|' * len(models)}",
    ]
    declared = set(result["declared"].values())
    first = result["steps"][models[0]]
    for i, step in enumerate(first):
        cells = []
        for name in models:
            r = result["steps"][name][i]
            text = f"{r['pitch_bits']:.3f}"
            bold = len(models) == 1 and r["step"] in declared
            cells.append(f"{'**' + text + '**' if bold else text} ({r['val_pitch_bits']:.3f})")
        lines.append(f"| {step['step']} | {step['data']} | {' | '.join(cells)} |")
    for r in result["together"]:
        text = f"{r['pitch_bits']:.3f}"
        text = f"**{text}**" if r["step"] in declared else text
        lines.append(
            f"| {r['step']} | {r['data']} | {text} ({r['val_pitch_bits']:.3f}) |" + " |" * (len(models) - 1)
        )
    for name, figure in result["published"].items():
        lines.append(f"| {name} (Pearce 2005) | the set alone | {figure:.3f} |" + " |" * (len(models) - 1))
    lines += ["", "Protocol:", *[f"- {item}" for item in result["protocol"]]]
    return "\n".join(lines)


if __name__ == "__main__":
    from melodygen.errors import MelodygenError

    try:
        main()
    except MelodygenError as exc:  # a folder or an override that cannot work: one line, as the CLIs say it
        sys.exit(f"error: {exc}")
