"""``melodygen-compare``: the runs of a sweep (or any run directories) side by side.

    melodygen-compare outputs/train/multiruns/<time> [more dirs …] [--metric val/pitch_bits] [--out DIR]
                      [--no-group] [--baseline GROUP|RUN] [--html] [--html-dir DIR] [--html-copy]

Also an Optuna study: its sweep directory, or the ``optuna.db`` in it. Runs that differ only in ``seed``
or ``data.fold`` are one row: the mean, sd, n and 95% t interval of the metric, best mean first
(``--no-group``: a row per run). ``--baseline`` adds each row's difference to it, with its interval and a
paired t-test where the runs share seeds or folds (Welch's where they do not). Lists pruned, failed and
unfinished runs, and writes ``compare.csv`` (the groups and the runs) and one plot per swept axis
(``compare_<metric>_by_<axis>.png``) into ``--out`` (by default the first directory given); ``--html``
adds the listening report (:mod:`melodygen.analysis.report`).
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
    parser.add_argument(
        "--no-group", action="store_true", help="one row per run, not one per group of seeds and folds"
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="a group (its label as the table prints it, e.g. hidden_size=64) or a run (its job number or "
        "directory): every other row gets its difference to it, with a 95%% interval and a test",
    )
    parser.add_argument(
        "--html", action="store_true", help="also write the listening report, <out>/report/index.html"
    )
    parser.add_argument(
        "--html-dir", default=None, metavar="DIR", help="write the report into DIR instead (implies --html)"
    )
    parser.add_argument(
        "--html-copy",
        action="store_true",
        help="put the report's media into its media/ folder (hard links where possible) instead of linking "
        "to the run directories: a folder that can be moved or sent on its own (implies --html)",
    )
    return parser


def _mean_sd(stats) -> str:
    if stats is None:
        return ""
    return f"{stats.mean:.4f}" + (f" ± {stats.sd:.4f}" if stats.n > 1 else "")


def _interval(low: float, high: float) -> str:
    return "" if low != low else f"[{low:.4f}, {high:.4f}]"


def _verdict(diff, metric: str) -> str:
    from melodygen.analysis.compare import higher_is_better
    from melodygen.analysis.uncertainty import verdict

    return verdict(diff.includes_zero, diff.delta, higher_is_better(metric))


def _p(diff) -> str:
    if diff.p != diff.p:
        return ""
    return f"{diff.p:.3g}" if diff.p >= 1e-4 else "<1e-4"


def compare(
    paths: list[str],
    metric: str | None = None,
    out: str | None = None,
    plots: bool = True,
    group: bool = True,
    baseline: str | None = None,
    html: str | None = None,
    html_copy: bool = False,
) -> dict:
    """Read the runs, print the table, write the CSV and plots; returns what was written and found."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from melodygen.analysis.compare import (
        DEFAULT_METRIC,
        DONE,
        PRUNED,
        REPEAT_KEYS,
        SHOWN_METRICS,
        find_baseline,
        find_runs,
        group_runs,
        has_repeats,
        line_axis,
        plot_axis,
        plot_name,
        ranked,
        ranked_groups,
        swept_axes,
        write_csv,
    )
    from melodygen.analysis.uncertainty import difference

    metric = metric or DEFAULT_METRIC
    left_out: list[Path] = []
    runs = find_runs(paths, left_out)
    axes = swept_axes(runs)
    best = ranked(runs, metric)
    done = [run for run in runs if run.status == DONE]
    if done and not best:
        known = sorted({name for run in done for name in run.metrics if "/" in name})
        raise MelodygenError(f"--metric {metric}: no run reports it; the runs report {', '.join(known)}")
    groups = group_runs(runs)
    grouped = group and has_repeats(groups)
    shown = [m for m in SHOWN_METRICS if m != metric and any(m in run.metrics for run in best)]
    base = find_baseline(baseline, runs, groups, grouped) if baseline else None
    console = Console() if sys.stdout.isatty() else Console(width=220)  # a log file keeps whole columns
    if grouped:
        best_groups = ranked_groups(groups, metric)
        repeats = [k for k in REPEAT_KEYS if k in axes]
        table = Table(
            title=f"{len(runs)} runs in {len(groups)} groups of repeats ({', '.join(repeats)}), "
            f"best mean {metric} first"
        )
        table.add_column("#", justify="right")
        shown_axes = [a for a in axes if a not in REPEAT_KEYS]
        for axis in shown_axes:
            table.add_column(axis.rsplit(".", 1)[-1])
        table.add_column("n", justify="right")
        table.add_column(f"{metric}\nmean ± sd", justify="right")
        table.add_column("95% interval", justify="right")
        for column in shown:
            table.add_column(f"{column}\nmean ± sd", justify="right")
        if base is not None:
            for column in (f"Δ vs\n{escape(base.label)}", "95% interval\nof Δ", "test", "p", "verdict"):
                table.add_column(column, justify="right" if column != "verdict" else "left")
        rows = []
        for rank, g in enumerate(best_groups, 1):
            stats = g.stats(metric)
            cells = [str(rank), *(escape(g.settings.get(a, "")) for a in shown_axes), str(stats.n)]
            cells += [
                _mean_sd(stats),
                _interval(stats.low, stats.high),
                *(_mean_sd(g.stats(m)) for m in shown),
            ]
            row = {"group": g, "stats": stats}
            if base is not None:
                if g is base:
                    cells += ["baseline", "", "", "", ""]
                else:
                    diff = difference(g.values(metric), base.values(metric))
                    row["difference"] = diff
                    n = f"{diff.test}, n={diff.n}" if diff.test != "none" else ""
                    cells += [f"{diff.delta:+.4f}", _interval(diff.low, diff.high), n, _p(diff)]
                    cells.append(_verdict(diff, metric))
            table.add_row(*cells)
            rows.append(row)
    else:
        table = Table(title=f"{len(runs)} runs, best {metric} first")
        table.add_column("#", justify="right")
        table.add_column("run")
        for axis in axes:
            table.add_column(axis.rsplit(".", 1)[-1])
        for column in (metric, *shown):
            table.add_column(column, justify="right")
        if base is not None:
            table.add_column(f"Δ vs run {base.name}", justify="right")
        rows = []
        for rank, run in enumerate(best, 1):
            values = [f"{run.metrics[m]:.4f}" if m in run.metrics else "" for m in (metric, *shown)]
            cells = [str(rank), run.name, *(escape(run.overrides.get(a, "")) for a in axes), *values]
            if base is not None:
                cells.append(
                    "baseline" if run is base else f"{run.metrics[metric] - base.metrics[metric]:+.4f}"
                )
            table.add_row(*cells)
            rows.append({"run": run})
    console.print(table)
    if grouped and base is not None:
        console.print(
            "Δ: the row's mean minus the baseline's. paired t: over the seeds and folds both groups ran; "
            "Welch t: unpaired, where they share fewer than two. 0 in interval: no difference shown.",
            highlight=False,
            soft_wrap=True,
        )
    others = [run for run in runs if run not in best]
    for run in others:
        detail = f": {run.error}" if run.error else ""
        if run.status == PRUNED and metric in run.metrics:
            detail += f", {metric} {run.metrics[metric]:.4f}"
        settings = ",".join(f"{a}={run.overrides.get(a, '')}" for a in axes)
        line = escape(f"{run.status}: {run.name} ({settings}){detail}")
        console.print(line, highlight=False, soft_wrap=True)
    if left_out:
        names = ", ".join(p.name for p in left_out)
        console.print(f"left out {len(left_out)} run(s) of other commands (not melodygen-train): {names}",
                      highlight=False, soft_wrap=True)  # fmt: skip
    first = Path(paths[0]).expanduser()
    out_dir = Path(out).expanduser() if out else first if first.is_dir() else first.parent
    written = [write_csv(runs, axes, out_dir / "compare.csv", metric)]
    plotted = [a for a in axes if a not in REPEAT_KEYS] if grouped else axes
    if plots and best:
        for axis in plotted:
            by = line_axis(plotted, axis, best)
            plotted_png = plot_axis(runs, metric, axis, by, out_dir / plot_name(metric, axis))
            written += [plotted_png] if plotted_png else []
    if html is not None:
        from melodygen.analysis.report import write_report

        report_dir = Path(html).expanduser() if html else out_dir / "report"
        pngs = [p for p in written if p.suffix == ".png"]
        written.append(write_report(runs, metric, report_dir, pngs, copy=html_copy))
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False, soft_wrap=True)
    return {
        "runs": runs, "best": best, "others": others, "axes": axes, "written": written,
        "groups": groups if grouped else None, "rows": rows,
    }  # fmt: skip


def _report_dir(args) -> str | None:
    """``""`` (the default folder) for ``--html``, the folder ``--html-dir`` gives, or None: no report."""
    if args.html_dir is not None:
        return args.html_dir
    return "" if args.html or args.html_copy else None


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        compare(
            args.paths, args.metric, args.out, plots=not args.no_plots, group=not args.no_group,
            baseline=args.baseline, html=_report_dir(args), html_copy=args.html_copy,
        )  # fmt: skip
    except MelodygenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
