"""Do conditioned melodies obey? Key, meter and style accuracy of a conditioned model's samples, beside an
unconditioned model's samples and the real tunes, and the bits per note both models give held-out tunes.

    python scripts/conditioning_study.py --conditioned RUN --unconditioned RUN [--samples 48] [--out FILE]
        [--temperature 1] [--guidance 1]

RUN is a run folder of melodygen-train (its best checkpoint is used) or a checkpoint. Both models must have
been trained on the same folder with the same split (the conditioned one's data settings are read from its
checkpoint). What is measured, for each asked value:

- key: the key estimated from the melody's notes (Krumhansl–Schmuckler, the estimator the training labels
  came from) equals the asked one; for real tunes, the estimate from their first ``--length`` notes equals
  their label;
- meter: a classifier of onset patterns (:mod:`melodygen.evaluation.adherence`), fit on the training split's notated
  meters, finds the asked meter; for real tunes, the test split's;
- style: a classifier of collection, fit on the training split, finds the asked one.

For each asked key it samples ``--samples`` whole tunes of ``--bars`` bars (``samples.bars``) and counts how
often their last note is the asked tonic, against the whole real test tunes of that key. A model trained with
``data.bars_left`` is told the bars left while it writes them; its bits per note are given without them and,
marked as looking ahead, with each tune's own. A model trained with ``data.transpose_to_c`` is asked for
the keys the melodies have: it is asked for the mode, writes in C and its melody is moved to the asked
tonic (as ``melodygen-generate`` does). ``--guidance`` other than 1 samples a model trained with
``model.condition_dropout`` with classifier-free guidance (``samples.guidance``). For each asked
meter it also reports what a listener hears (:mod:`melodygen.music.meter`, every melody
read in that meter): the share of bar lines with a note on them and of notes sounding across a bar line, as
means with the 10th–90th percentiles of the real tunes of that meter.

The conditioned model is asked for one condition at a time, the others drawn from the training tunes; the
unconditioned model's samples are the same set for every row (how often an unasked melody happens to have
the value). Real tunes are the test split's, cut to ``--length`` notes and rests like the samples. The
classifiers never see the test split or a sample before they judge them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from melodygen.data.datamodule import MelodyDataModule, conditions_of
from melodygen.data.splits import TEST, TRAIN
from melodygen.evaluation.adherence import (
    cut,
    estimated_key_name,
    feature_matrix,
    real_meter_classifier,
    rhythm_features,
    style_classifier,
)
from melodygen.evaluation.scoring import figures, melody_sums, total
from melodygen.generation.sampling import sample_melodies
from melodygen.models import load_model
from melodygen.models.checkpoint import read_checkpoint
from melodygen.music.conditions import key_parts
from melodygen.music.melody import Melody
from melodygen.music.meter import across_bar_share, downbeat_share

METERS = ("4/4", "3/4", "6/8")


def family(meter: str) -> str:
    """What a listener hears of a meter: two or four beats (2/4, 4/4, 2/2), three (3/4, 3/8, 3/2), or beats of
    three (6/8, 9/8, 12/8, 6/4); 2/4 and 4/4 differ only in where the bar lines are written."""
    numerator = int(meter.split("/")[0])
    if numerator in (6, 9, 12):
        return "compound"
    if numerator % 3 == 0:
        return "triple"
    return "duple"


def checkpoint_of(path: str) -> Path:
    """A run folder's best checkpoint (as metrics.json names it), or the checkpoint given."""
    path = Path(path)
    if path.is_dir():
        metrics = json.loads((path / "metrics.json").read_text())
        return Path(metrics["best_checkpoint"])
    return path


def data_of(checkpoint: Path) -> tuple[dict, MelodyDataModule]:
    """The data settings a checkpoint was trained with, and its datamodule, set up (the same split)."""
    data = dict(read_checkpoint(checkpoint)["datamodule_hyper_parameters"])
    datamodule = MelodyDataModule(**{**data, "progress": False})
    datamodule.prepare_data()
    datamodule.setup()
    return data, datamodule


def balanced(indices: list[int], labels: list[str], per_label: int, seed: int = 0) -> list[int]:
    """At most ``per_label`` of ``indices`` of each label (drawn with ``seed``), so no class wins by its prior."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(set(labels)):
        mine = [i for i, lab in zip(indices, labels) if lab == label]
        chosen += rng.choice(mine, size=min(per_label, len(mine)), replace=False).tolist()
    return sorted(chosen)


def share(found: list[str], wanted: str) -> float:
    return sum(f == wanted for f in found) / len(found) if found else float("nan")


def rhythm(melodies: list, meter: str) -> dict[str, list[float]]:
    """What a listener hears of ``meter`` in ``melodies`` (each read in it): for the share of bar lines with a
    note and the share of notes across a bar line, the mean and the 10th and 90th percentiles."""
    numerator, denominator = (int(part) for part in meter.split("/"))
    signature = {"time_signature": (numerator, denominator)}
    read = [Melody(m.pitch, m.duration, m.qpm, m.source, {**m.meta, **signature}) for m in melodies]
    out = {}
    for name, statistic in (("downbeat", downbeat_share), ("across", across_bar_share)):
        values = np.array([statistic(m) for m in read]) if read else np.zeros(1)
        out[name] = [float(values.mean()), float(np.percentile(values, 10)), float(np.percentile(values, 90))]
    return out


def tonic_ending(melodies: list, key: str) -> float:
    """The share of ``melodies`` whose last note is the tonic of ``key`` (a label such as ``"D major"``)."""
    tonic, _ = key_parts(key)
    last = [int(m.pitch[m.is_note][-1]) % 12 for m in melodies if m.num_notes]
    return share(last, tonic)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--conditioned", required=True, help="run folder or checkpoint of a conditioned model"
    )
    parser.add_argument(
        "--unconditioned", required=True, help="run folder or checkpoint of the same data, unconditioned"
    )
    parser.add_argument("--samples", type=int, default=48, help="samples per asked value")
    parser.add_argument("--length", type=int, default=64, help="notes and rests per sample")
    parser.add_argument("--keys", type=int, default=4, help="the major keys with the most training tunes")
    parser.add_argument(
        "--minor-keys", type=int, default=2, help="the minor keys with the most training tunes"
    )
    parser.add_argument(
        "--per-label", type=int, default=600, help="training tunes per class for the classifiers"
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of both models")
    parser.add_argument(
        "--guidance",
        type=float,
        default=1.0,
        help="samples.guidance of the conditioned model (one trained with model.condition_dropout)",
    )
    parser.add_argument(
        "--min-meter-tunes", type=int, default=50, help="meters with fewer training tunes are not classes"
    )
    parser.add_argument("--bars", type=int, default=8, help="bars of the tunes whose last note is checked")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the table's figures as JSON here")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    conditioned_path, unconditioned_path = checkpoint_of(args.conditioned), checkpoint_of(args.unconditioned)
    conditioned, unconditioned = load_model(conditioned_path), load_model(unconditioned_path)
    names = conditioned.conditioning.names
    if not names:
        sys.exit(
            f"error: --conditioned {conditioned_path} is not a conditioned model (model.conditions is empty)"
        )
    data, datamodule = data_of(conditioned_path)
    parsed, split, conditions = datamodule.parsed, datamodule.split, datamodule.melody_conditions
    if data.get("transpose_to_c"):
        # the model knows keys in C only: asked for a key it writes in C and its melody is moved to the asked
        # tonic, so the keys asked, and the real tunes they are set against, are the melodies' own
        own = conditions_of(parsed, data.get("key", "estimated"), False, data.get("style_lists"))
        conditions = [{**c, "key": o["key"]} for c, o in zip(conditions, own, strict=True)]
    train = np.flatnonzero(split == TRAIN).tolist()
    test = np.flatnonzero(split == TEST).tolist()
    print(f"{len(parsed)} melodies ({len(train)} training, {len(test)} test) in {data['midi_dir']}")

    # the classifiers: the training split only, each class at most --per-label tunes
    meter_counts = Counter(conditions[i]["meter"] for i in train if parsed.meter[i, 0] > 0)
    common = [
        i
        for i in train
        if parsed.meter[i, 0] > 0 and meter_counts[conditions[i]["meter"]] >= args.min_meter_tunes
    ]
    chosen = balanced(common, [conditions[i]["meter"] for i in common], args.per_label, args.seed)
    meters = real_meter_classifier(parsed, chosen, conditions, args.length, limit=10**9, seed=args.seed)
    if meters is None:
        sys.exit(f"error: fewer than two meters have --min-meter-tunes={args.min_meter_tunes} training tunes")
    chosen = balanced(train, [conditions[i]["style"] for i in train], args.per_label, args.seed)
    styles = style_classifier(
        [cut(parsed.melody(i), args.length) for i in chosen],
        [conditions[i]["style"] for i in chosen],
        seed=args.seed,
    )
    print(f"meter classifier: {', '.join(meters.labels)}; style classifier: {', '.join(styles.labels)}")

    # what is asked: the meters of the goal, the commonest keys, every style
    key_counts = Counter(conditions[i]["key"] for i in train)
    majors = [k for k, _ in key_counts.most_common() if k.endswith("major")][: args.keys]
    minors = [k for k, _ in key_counts.most_common() if k.endswith("minor")][: args.minor_keys]
    known = conditioned.conditioning.known("meter") if "meter" in names else []
    asks = [("meter", m) for m in METERS if m in known] + [("key", k) for k in majors + minors]
    asks += [("style", s) for s in conditioned.conditioning.known("style")] if "style" in names else []
    asks = [(name, value) for name, value in asks if name in names]

    real = {i: cut(parsed.melody(i), args.length) for i in test}
    free = sample_melodies(unconditioned, args.samples, args.length, args.temperature, seed=args.seed)
    free_found = {
        "key": [estimated_key_name(m) for m in free],
        "meter": meters.predict(np.stack([rhythm_features(m) for m in free])),
        "style": styles.predict(feature_matrix(free)),
    }
    rows = []
    for name, value in asks:
        asked = {name: value}  # a key as its label, "D major"
        melodies = sample_melodies(
            conditioned, args.samples, args.length, args.temperature, seed=args.seed, conditions=asked,
            guidance=args.guidance,
        )  # fmt: skip
        if name == "key":
            found = [estimated_key_name(m) for m in melodies]
            tunes = [i for i in test if conditions[i]["key"] == value]
            real_found = [estimated_key_name(real[i]) for i in tunes]
        elif name == "meter":
            found = meters.predict(np.stack([rhythm_features(m) for m in melodies]))
            tunes = [i for i in test if parsed.meter[i, 0] > 0 and conditions[i]["meter"] == value]
            real_found = meters.predict(np.stack([rhythm_features(real[i]) for i in tunes])) if tunes else []
        else:
            found = styles.predict(feature_matrix(melodies))
            tunes = [i for i in test if conditions[i]["style"] == value]
            real_found = styles.predict(feature_matrix([real[i] for i in tunes])) if tunes else []
        ending = None
        if (
            name == "key"
        ):  # whole tunes of --bars bars: how often they end on the asked tonic, as real tunes do
            tunes_of_bars = sample_melodies(
                conditioned,
                args.samples,
                0,
                args.temperature,
                seed=args.seed,
                conditions=asked,
                bars=args.bars,
                guidance=args.guidance,
            )
            ending = {
                "conditioned": tonic_ending(tunes_of_bars, value),
                "real": tonic_ending([parsed.melody(i) for i in tunes], value),
            }
        if name == "meter":  # the samples as a listener hears them, against real tunes of that meter
            heard = {
                "conditioned": rhythm(melodies, value),
                "unconditioned": rhythm(free, value),
                "real": rhythm([real[i] for i in tunes], value),
            }
        same = family if name == "meter" else (lambda label: label)
        rows.append(
            {
                "family": share([same(f) for f in found], same(value)) if name == "meter" else None,
                "family_unconditioned": share([same(f) for f in free_found[name]], same(value))
                if name == "meter"
                else None,
                "family_real": share([same(f) for f in real_found], same(value)) if name == "meter" else None,
                "condition": name,
                "asked": value,
                "training_tunes": sum(conditions[i][name] == value for i in train),
                "conditioned": share(found, value),
                "unconditioned": share(free_found[name], value),
                "real": share(real_found, value),
                "real_tunes": len(tunes),
                "rhythm": heard if name == "meter" else None,
                "tonic_ending": ending,
            }
        )

    # bits per note of the test split: every tune with its own conditions against the unconditioned model
    melodies = []
    for i in test:
        melody = parsed.melody(i)
        melody.meta["style"] = conditions[i]["style"]
        melodies.append(melody)
    bits = {}
    for label, model in (("conditioned", conditioned), ("unconditioned", unconditioned)):
        # a model with bars left is not told them here, as note-by-note prediction without lookahead
        bits[label] = figures(total(melody_sums(model, melodies, lookahead=False)))
        if model.bars_left:
            told = figures(total(melody_sums(model, melodies)))
            bits[f"{label}, told the bars left (looks ahead)"] = told

    print()
    print("| condition | asked | training tunes | conditioned | unconditioned | real tunes (n) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['condition']} | {row['asked']} | {row['training_tunes']} | {row['conditioned']:.0%} | "
            f"{row['unconditioned']:.0%} | {row['real']:.0%} ({row['real_tunes']}) |"
        )
    print()
    print("| meter asked | conditioned: same family | unconditioned | real tunes |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        if row["condition"] == "meter":
            print(
                f"| {row['asked']} ({family(row['asked'])}) | {row['family']:.0%} | "
                f"{row['family_unconditioned']:.0%} | {row['family_real']:.0%} |"
            )
    print()
    print(
        "| meter asked | bar lines with a note: conditioned | unconditioned | real tunes (10–90%) | "
        "notes across a bar line: conditioned | unconditioned | real tunes (10–90%) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        if row["condition"] == "meter":
            r = row["rhythm"]
            cells = []
            for what in ("downbeat", "across"):
                low, high = r["real"][what][1:]
                cells += [f"{r['conditioned'][what][0]:.1%}", f"{r['unconditioned'][what][0]:.1%}"]
                cells.append(f"{r['real'][what][0]:.1%} ({low:.0%}–{high:.0%})")
            print(f"| {row['asked']} | " + " | ".join(cells) + " |")
    print()
    print(f"| key asked | last note on the tonic: conditioned, {args.bars} bars | real tunes, whole |")
    print("| --- | ---: | ---: |")
    for row in rows:
        if row["tonic_ending"] is not None:
            print(
                f"| {row['asked']} | {row['tonic_ending']['conditioned']:.0%} | {row['tonic_ending']['real']:.0%} |"
            )
    print()
    print("| model | test bits/note (all) | pitch bits | duration bits |")
    print("| --- | ---: | ---: | ---: |")
    for label, values in bits.items():
        print(
            f"| {label} | {values['all/bits']:.4f} | {values.get('all/pitch_bits', float('nan')):.4f} | "
            f"{values.get('all/duration_bits', float('nan')):.4f} |"
        )
    print(
        f"\n{args.samples} samples of {args.length} per asked value (temperature {args.temperature:g}, guidance "
        f"{args.guidance:g}), {len(test)} test tunes; "
        f"{time.perf_counter() - started:.0f} s"
    )
    if args.out is not None:
        report = {
            "conditioned": str(conditioned_path),
            "unconditioned": str(unconditioned_path),
            "samples": args.samples,
            "length": args.length,
            "temperature": args.temperature,
            "guidance": args.guidance,
            "rows": rows,
            "bits": bits,
            "test_tunes": len(test),
        }
        write_report(args.out, report)
    return 0


def write_report(path: Path, report: dict) -> None:
    """``report`` as indented JSON in ``path`` (its folder made), and a line that says so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
