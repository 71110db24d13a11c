"""Does reading bar positions help? Bits per note and the rhythm of samples, for runs trained with and without
``data.bar_position``.

    python scripts/bar_position_study.py RUN [RUN …] [--samples 200] [--length 64] [--out FILE]

Each RUN is a run folder of melodygen-train (its best checkpoint is used); all must have been trained on the
same folder with the same split (the first one's data settings are read from its checkpoint). For each:

- ``val/pitch_bits`` and ``test/pitch_bits``, ``test/bits``: as training scored its best checkpoint on
  windows of the validation and test splits (its ``metrics.json``);
- whole tunes: bits per note of every test tune, each from its own start (``melodygen-evaluate``'s
  scoring), with the positions and conditions the model reads;
- what a listener hears: ``--samples`` melodies of ``--length`` notes and rests, sampled at temperature 1
  and read in 4/4 (the meter an unconditioned model with bar positions counts in), and the test tunes in
  4/4, cut to the same length: the share of bar lines with a note on them and the share of notes across a
  bar line (:mod:`melodygen.music.meter`), means with the real tunes' 10th–90th percentiles;
- the sample monitor's statistics (:func:`~melodygen.evaluation.metrics.sample_statistics`) of the same
  samples, beside those of every test tune cut to the same length.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from conditioning_study import checkpoint_of, data_of, rhythm, write_report

from melodygen.data.splits import TEST
from melodygen.evaluation.adherence import cut
from melodygen.evaluation.metrics import sample_statistics
from melodygen.evaluation.scoring import figures, melody_sums, total
from melodygen.generation.sampling import sample_melodies
from melodygen.models import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders of melodygen-train")
    parser.add_argument("--samples", type=int, default=200, help="samples of each model")
    parser.add_argument("--length", type=int, default=64, help="notes and rests per sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    data, datamodule = data_of(checkpoint_of(args.runs[0]))
    parsed, split, conditions = datamodule.parsed, datamodule.split, datamodule.melody_conditions
    test = np.flatnonzero(split == TEST).tolist()
    tunes = []
    for i in test:
        melody = parsed.melody(i)
        melody.meta["style"] = conditions[i]["style"]
        tunes.append(melody)
    in_four = [cut(tunes[k], args.length) for k, i in enumerate(test) if conditions[i]["meter"] == "4/4"]
    real = rhythm(in_four, "4/4")
    real_statistics = sample_statistics([cut(t, args.length) for t in tunes])
    print(f"{len(test)} test tunes ({len(in_four)} in 4/4) in {data['midi_dir']}")

    rows = []
    for run in args.runs:
        path = checkpoint_of(run)
        model = load_model(path)
        metrics = json.loads((Path(run) / "metrics.json").read_text()) if Path(run).is_dir() else {}
        whole = figures(total(melody_sums(model, tunes)))
        samples = sample_melodies(model, args.samples, args.length, seed=args.seed)
        rows.append(
            {
                "run": str(run),
                "architecture": model.hparams.architecture,
                "bar_position": bool(model.bar_position),
                "val/pitch_bits": metrics.get("val/pitch_bits"),
                "test/pitch_bits": metrics.get("test/pitch_bits"),
                "test/bits": metrics.get("test/bits"),
                "whole/bits": whole["all/bits"],
                "whole/pitch_bits": whole.get("all/pitch_bits"),
                "whole/duration_bits": whole.get("all/duration_bits"),
                "rhythm": rhythm(samples, "4/4"),
                "statistics": sample_statistics(samples),
            }
        )

    def number(value) -> str:
        return "" if value is None else f"{value:.4f}"

    print()
    print(
        "| model | bar positions | val/pitch_bits | test/pitch_bits | test/bits | whole tunes: bits/note | pitch "
        "| duration | bar lines with a note | notes across a bar line |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        cells = [row["architecture"], "yes" if row["bar_position"] else "no"]
        cells += [number(row[k]) for k in ("val/pitch_bits", "test/pitch_bits", "test/bits", "whole/bits")]
        cells += [number(row["whole/pitch_bits"]), number(row["whole/duration_bits"])]
        cells += [f"{row['rhythm'][what][0]:.1%}" for what in ("downbeat", "across")]
        print("| " + " | ".join(cells) + " |")
    low, high = real["downbeat"][1:]
    low_across, high_across = real["across"][1:]
    print(
        f"| real tunes in 4/4 | | | | | | | | {real['downbeat'][0]:.1%} ({low:.0%}–{high:.0%}) | "
        f"{real['across'][0]:.1%} ({low_across:.0%}–{high_across:.0%}) |"
    )
    print("\n| sample statistic | real tunes | " + " | ".join(Path(r["run"]).name for r in rows) + " |")
    print("| --- | ---: |" + " ---: |" * len(rows))
    for name, value in real_statistics.items():
        print(f"| {name} | {value:.3f} | " + " | ".join(f"{r['statistics'][name]:.3f}" for r in rows) + " |")
    print(
        f"\n{args.samples} samples of {args.length} per model, read in 4/4; {len(test)} test tunes; "
        f"{time.perf_counter() - started:.0f} s"
    )
    if args.out is not None:
        write_report(
            args.out,
            {
                "samples": args.samples,
                "length": args.length,
                "rows": rows,
                "real_four_four": real,
                "real_statistics": real_statistics,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
