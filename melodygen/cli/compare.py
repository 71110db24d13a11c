"""``melodygen-compare``: the runs of a sweep (or any run directories) side by side.

    melodygen-compare outputs/train/multiruns/<time> [more dirs …] [--metric val/pitch_bits] [--out DIR]

Also an Optuna study: its sweep directory, or the ``optuna.db`` in it. Prints a table sorted by the
metric (best first), lists pruned, failed and unfinished runs, and writes
``compare.csv`` and one plot per swept axis (``compare_<metric>_by_<axis>.png``) into ``--out`` (by
default the first directory given).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from melodygen.errors import MelodygenError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="melodygen-compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="sweep directories or run directories")
    parser.add_argument(
        "--metric", default=None, help="the metric to sort and plot by (default: val/pitch_bits)"
    )
    parser.add_argument(
        "--out", default=None, help="where compare.csv and the plots go (default: the first path)"
    )
    parser.add_argument("--no-plots", action="store_true", help="write the CSV only")
    return parser


def compare(paths: list[str], metric: str | None = None, out: str | None = None, plots: bool = True) -> dict:
    """Read the runs, print the table, write the CSV and plots; returns what was written and found."""
    from rich.console import Console
    from rich.table import Table

    from melodygen.compare import (
        DEFAULT_METRIC,
        DONE,
        PRUNED,
        SHOWN_METRICS,
        find_runs,
        line_axis,
        plot_axis,
        plot_name,
        ranked,
        swept_axes,
        write_csv,
    )

    metric = metric or DEFAULT_METRIC
    runs = find_runs(paths)
    axes = swept_axes(runs)
    best = ranked(runs, metric)
    done = [run for run in runs if run.status == DONE]
    if done and not best:
        known = sorted({name for run in done for name in run.metrics if "/" in name})
        raise MelodygenError(f"--metric {metric}: no run reports it; the runs report {', '.join(known)}")
    shown = [m for m in SHOWN_METRICS if m != metric and any(m in run.metrics for run in best)]
    table = Table(title=f"{len(runs)} runs, best {metric} first")
    table.add_column("#", justify="right")
    table.add_column("run")
    for axis in axes:
        table.add_column(axis.rsplit(".", 1)[-1])
    for column in (metric, *shown):
        table.add_column(column, justify="right")
    for rank, run in enumerate(best, 1):
        values = [f"{run.metrics[m]:.4f}" if m in run.metrics else "" for m in (metric, *shown)]
        table.add_row(str(rank), run.name, *(run.overrides.get(a, "") for a in axes), *values)
    console = Console() if sys.stdout.isatty() else Console(width=200)  # a log file keeps whole columns
    console.print(table)
    others = [run for run in runs if run not in best]
    for run in others:
        detail = f": {run.error}" if run.error else ""
        if run.status == PRUNED and metric in run.metrics:
            detail += f", {metric} {run.metrics[metric]:.4f}"
        settings = ",".join(f"{a}={run.overrides.get(a, '')}" for a in axes)
        console.print(f"{run.status}: {run.name} ({settings}){detail}", highlight=False, soft_wrap=True)
    first = Path(paths[0]).expanduser()
    out_dir = Path(out).expanduser() if out else first if first.is_dir() else first.parent
    written = [write_csv(runs, axes, out_dir / "compare.csv")]
    if plots and best:
        for axis in axes:
            by = line_axis(axes, axis, best)
            written.append(plot_axis(runs, metric, axis, by, out_dir / plot_name(metric, axis)))
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False, soft_wrap=True)
    return {"runs": runs, "best": best, "others": others, "axes": axes, "written": written}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        compare(args.paths, args.metric, args.out, plots=not args.no_plots)
    except MelodygenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
