"""Comparing runs: every job of a sweep (or any run directories) in one table, a CSV and plots.

A run directory is one that ``melodygen-train`` made (it holds ``.hydra/overrides.yaml`` and a config with a
trainer; a ``melodygen-generate`` run is left out); a sweep directory holds one per job. A run is ``done`` when it wrote ``metrics.json``, ``failed`` when it wrote ``failure.json``, and
``unfinished`` otherwise (still running, or killed), so a sweep can be compared while it runs. A trial of
an Optuna study (``sweep=optuna``) that the pruner stopped is ``pruned``; the study's ``optuna.db`` in the
sweep directory marks a trial that was running when the study was killed as ``failed``. The swept axes are
the override keys whose values differ between runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from melodygen.errors import MelodygenError
from melodygen.runtime.atomic import write_atomic, write_text_atomic
from melodygen.sweeps.optuna_search import STUDY_FILE

DONE, PRUNED, FAILED, UNFINISHED = "done", "pruned", "failed", "unfinished"
DEFAULT_METRIC = "val/pitch_bits"
#: Metrics shown beside the one runs are sorted by, when runs have them.
SHOWN_METRICS = ("val/pitch_bits", "val/duration_bits", "val/pitch_acc", "val/loss")
#: Override keys that only repeat a configuration: runs that differ in nothing else are one group.
REPEAT_KEYS = ("seed", "data.fold")
#: An axis with more values than this (an Optuna search's) is plotted as points on the axis's own ticks.
MAX_TICKS = 6


@dataclass
class Run:
    path: Path
    overrides: dict[str, str]
    status: str
    metrics: dict[str, float] = field(default_factory=dict)  # the numbers of metrics.json
    error: str = ""

    @property
    def name(self) -> str:
        return self.path.name if self.path.name.isdigit() else str(self.path)


def _is_run(path: Path) -> bool:
    return (path / ".hydra" / "overrides.yaml").is_file()


def is_training_run(path: Path) -> bool:
    """A run of ``melodygen-train`` (its config has a trainer), not of another command such as
    ``melodygen-generate``, whose folders look alike."""
    config = path / ".hydra" / "config.yaml"
    if not config.is_file():
        return False
    try:
        return "trainer" in (yaml.safe_load(config.read_text()) or {})
    except yaml.YAMLError:
        return False


def _job_number(path: Path) -> tuple[int, str]:
    return (int(path.name), "") if path.name.isdigit() else (1 << 30, path.name)


def find_runs(paths: Iterable[str | os.PathLike], left_out: list[Path] | None = None) -> list[Run]:
    """Every training run in ``paths`` (run directories, sweep directories holding them, or a study's
    ``optuna.db``), in job order; the runs of other commands found there go into ``left_out``."""
    runs = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_file() and path.name.endswith(".db"):  # a study: its sweep directory
            path = path.parent
        if not path.is_dir():
            raise MelodygenError(f"{str(path)!r} is not a folder: give a sweep or run directory")
        candidates = (
            [path] if _is_run(path) else sorted((p for p in path.iterdir() if _is_run(p)), key=_job_number)
        )
        found = [p for p in candidates if is_training_run(p)]
        if left_out is not None:
            left_out += [p for p in candidates if p not in found]
        if not found:
            what = "no training run" if candidates else "no run"
            raise MelodygenError(
                f"{str(path)!r} holds {what}: give a sweep directory (outputs/train/multiruns/<time>) "
                f"or a run directory (outputs/train/runs/<time>)"
            )
        found_runs = [read_run(p) for p in found]
        if (path / STUDY_FILE).is_file():
            _add_study_states(found_runs, path / STUDY_FILE)
        runs += found_runs
    return runs


def _add_study_states(runs: list[Run], db: Path) -> None:
    """What only the study knows: a trial it marked failed without the job saying so was running when the
    study was killed, and a trial killed before its job started has no directory at all."""
    from melodygen.sweeps.optuna_search import load_study, storage_url, trial_overrides

    study = load_study(storage_url(None, db.parent))
    metric = study.user_attrs.get("metric", DEFAULT_METRIC)
    by_name = {run.path.name: run for run in runs}
    for trial in study.trials:
        run = by_name.get(str(trial.number))
        if run is None:
            pairs = dict(o.split("=", 1) for o in trial_overrides(trial.params))
            run = Run(db.parent / str(trial.number), pairs, UNFINISHED)
            if trial.state.name == "COMPLETE":
                run.status, run.metrics = DONE, {metric: trial.value}
            runs.append(run)
        if run.status == UNFINISHED and trial.state.name == "FAIL":
            run.status, run.error = FAILED, "interrupted: the study was stopped while this trial ran"
    runs.sort(key=lambda run: _job_number(run.path))


def _as_typed(text: str) -> str:
    """An override's value as one spelling: a sweep's job records ``False`` where a run typed ``false``."""
    return {"True": "true", "False": "false", "None": "null"}.get(text, text)


def read_run(path: Path) -> Run:
    overrides = yaml.safe_load((path / ".hydra" / "overrides.yaml").read_text()) or []
    pairs = {
        key: _as_typed(value)
        for key, value in (text.lstrip("+~").split("=", 1) for text in overrides if "=" in text)
    }
    pairs = {key: value for key, value in pairs.items() if not key.startswith("trial.")}  # bookkeeping
    if (path / "metrics.json").is_file():
        metrics = json.loads((path / "metrics.json").read_text())
        numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if metrics.get("pruned_at_epoch") is not None:
            epoch = metrics["pruned_at_epoch"]
            return Run(path, pairs, PRUNED, numbers, error=f"pruned after epoch {epoch}")
        return Run(path, pairs, DONE, numbers)
    if (path / "failure.json").is_file():
        return Run(
            path, pairs, FAILED, error=json.loads((path / "failure.json").read_text()).get("error", "")
        )
    return Run(path, pairs, UNFINISHED)


def swept_axes(runs: Sequence[Run]) -> list[str]:
    """Override keys whose value is not the same in every run, in the order they first appear."""
    keys = list(dict.fromkeys(key for run in runs for key in run.overrides))
    return [k for k in keys if len({run.overrides.get(k) for run in runs}) > 1]


def group_key(run: Run) -> tuple[tuple[str, str], ...]:
    """What a run's configuration is, leaving out what only repeats it (its seed, its fold)."""
    return tuple(sorted((k, v) for k, v in run.overrides.items() if k not in REPEAT_KEYS))


def repeat_key(run: Run) -> tuple[str, str]:
    """Which repeat of its configuration a run is: its seed and fold (how repeats of two groups pair)."""
    return tuple(run.overrides.get(k, "") for k in REPEAT_KEYS)  # type: ignore[return-value]


@dataclass
class Group:
    """Runs whose configurations differ only in ``seed`` and ``data.fold``: one row of the table."""

    settings: dict[str, str]  # the overrides every run of the group has (seed and fold left out)
    runs: list[Run]
    label: str = ""

    def scored(self, metric: str) -> list[Run]:
        return [r for r in self.runs if r.status == DONE and metric in r.metrics]

    def values(self, metric: str) -> dict[tuple[str, str], float]:
        """``{(seed, fold): value}`` of the finished runs that report ``metric`` (how groups pair up; two
        runs of one seed, a run repeated as it was, count as their mean)."""
        found: dict[tuple[str, str], list[float]] = {}
        for run in self.scored(metric):
            found.setdefault(repeat_key(run), []).append(run.metrics[metric])
        return {key: sum(v) / len(v) for key, v in found.items()}

    def stats(self, metric: str):
        """Mean, sd, n and interval over every finished run that reports ``metric``; None without one."""
        from melodygen.analysis.uncertainty import summary

        values = [run.metrics[metric] for run in self.scored(metric)]
        return summary(values) if values else None


def group_runs(runs: Sequence[Run]) -> list[Group]:
    """The runs as groups of repeats, in the order each group's first run appears; each labelled by the
    values of the axes that tell groups apart (``hidden_size=64,num_layers=2``; ``all`` for one group)."""
    by_key: dict[tuple, Group] = {}
    for run in runs:
        key = group_key(run)
        if key not in by_key:
            by_key[key] = Group(dict(key), [])
        by_key[key].runs.append(run)
    groups = list(by_key.values())
    axes = [a for a in swept_axes(runs) if a not in REPEAT_KEYS]
    short = {a: a.rsplit(".", 1)[-1] for a in axes}
    if len(set(short.values())) < len(axes):  # two axes end alike (model.dropout, data.dropout): in full
        short = {a: a for a in axes}
    for group in groups:
        group.label = ",".join(f"{short[a]}={group.settings.get(a, '')}" for a in axes) or "all"
    return groups


def has_repeats(groups: Sequence[Group]) -> bool:
    """Whether any group holds runs of different seeds or folds (a table of groups says more than one of
    runs)."""
    return any(len({repeat_key(run) for run in group.runs}) > 1 for group in groups)


def ranked_groups(groups: Sequence[Group], metric: str) -> list[Group]:
    """Groups with at least one finished run reporting ``metric``, by its mean, best first."""
    scored = [group for group in groups if group.scored(metric)]
    return sorted(scored, key=lambda g: g.stats(metric).mean, reverse=higher_is_better(metric))


def find_baseline(spec: str, runs: Sequence[Run], groups: Sequence[Group], grouped: bool):
    """The group (or, ungrouped, the run) ``--baseline`` names: a group's label as the table prints it or
    its ``key=value`` settings, a run's name (its job number) or its directory."""
    if grouped:
        for group in groups:
            if spec == group.label:
                return group
        parts = spec.split(",")
        if all("=" in part for part in parts):  # key=value settings, keys in full or by their last part
            pairs = [part.split("=", 1) for part in parts]
            found = [g for g in groups if all(_has_setting(g.settings, k, v) for k, v in pairs)]
            if len(found) == 1:
                return found[0]
    for run in runs:
        if spec in (run.name, str(run.path)) or Path(spec).expanduser().resolve() == run.path.resolve():
            if not grouped:
                return run
            return next(g for g in groups if run in g.runs)
    known = ", ".join(g.label for g in groups) if grouped else ", ".join(r.name for r in runs)
    what = "groups" if grouped else "runs"
    raise MelodygenError(f"--baseline {spec}: no such {what[:-1]}; the {what} are {known}")


def _has_setting(settings: dict[str, str], key: str, value: str) -> bool:
    return any((k == key or k.endswith("." + key)) and v == value for k, v in settings.items())


def higher_is_better(metric: str) -> bool:
    return metric.rsplit("/", 1)[-1].endswith("acc")


def ranked(runs: Sequence[Run], metric: str) -> list[Run]:
    """Finished runs that report ``metric``, best first (a pruned trial's score is of a shorter training)."""
    scored = [run for run in runs if metric in run.metrics and run.status == DONE]
    return sorted(scored, key=lambda run: run.metrics[metric], reverse=higher_is_better(metric))


def _value(text: str | None):
    """An axis value as a number when it is one, so plots and sorting follow its size."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def write_csv(runs: Sequence[Run], axes: Sequence[str], path: Path, metric: str = DEFAULT_METRIC) -> Path:
    """One row per group of repeats (``kind`` group: each metric's mean, and its sd and 95% interval ends,
    best ``metric`` first) and one per run (``kind`` run, in job order, naming its group)."""
    groups = group_runs(runs)
    metrics = sorted({name for run in runs for name in run.metrics})
    spread = [f"{name} {part}" for name in metrics for part in ("sd", "low", "high")]
    text = io.StringIO()
    fields = ["kind", "group", "run", "status", "n", *axes, *metrics, *spread, "error"]
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    best = ranked_groups(groups, metric)
    for group in [*best, *(g for g in groups if g not in best)]:
        done = [run for run in group.runs if run.status == DONE]
        row = {"kind": "group", "group": group.label, "status": f"{len(done)} of {len(group.runs)} done"}
        row.update({axis: group.settings.get(axis, "") for axis in axes if axis not in REPEAT_KEYS})
        row["n"] = len(done)
        for name in metrics:
            stats = group.stats(name)
            if stats is not None:
                row[name] = stats.mean
                for part, value in (("sd", stats.sd), ("low", stats.low), ("high", stats.high)):
                    row[f"{name} {part}"] = "" if value != value else value  # NaN (one run): empty
        writer.writerow(row)
    label = {id(run): group.label for group in groups for run in group.runs}
    for run in runs:
        row = {"kind": "run", "group": label[id(run)], "run": str(run.path), "status": run.status}
        row.update({"error": run.error, "n": 1 if run.status == DONE else 0})
        row.update({axis: run.overrides.get(axis, "") for axis in axes})
        row.update({name: run.metrics.get(name, "") for name in metrics})
        writer.writerow(row)
    return write_text_atomic(path, text.getvalue())


def plot_axis(runs: Sequence[Run], metric: str, axis: str, by: str | None, path: Path) -> Path | None:
    """``metric`` against the values of ``axis``, one line per value of ``by`` (another swept axis); None
    (and no file) when no finished run has both."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    done = [run for run in runs if run.status == DONE and metric in run.metrics and axis in run.overrides]
    if not done:
        return None
    groups: dict[str, list[Run]] = {}
    for run in done:
        groups.setdefault(run.overrides.get(by, "") if by else "", []).append(run)
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    values = sorted({_value(run.overrides[axis]) for run in done}, key=lambda v: (isinstance(v, str), v))
    numeric = all(isinstance(v, float) for v in values)
    # a grid's few values are joined by lines; a search's (many values, or several runs at one) are points
    many = numeric and len(values) > MAX_TICKS
    repeated = any(len({run.overrides[axis] for run in group}) < len(group) for group in groups.values())
    scattered = many or repeated or not numeric  # a line between two names (lstm, mlp) would be no trend
    for label in sorted(groups, key=lambda v: (isinstance(_value(v), str), _value(v))):
        points = sorted(groups[label], key=lambda run: values.index(_value(run.overrides[axis])))
        xs = [
            _value(r.overrides[axis]) if numeric else values.index(_value(r.overrides[axis])) for r in points
        ]
        ys = [r.metrics[metric] for r in points]
        at_x: dict = {}
        for x, run in zip(xs, points):
            at_x.setdefault(x, []).append(run)
        if repeated and all(len({group_key(r) for r in same}) == 1 for same in at_x.values()):
            # seeds or folds of one configuration: their mean and 95% interval, the runs as dots
            from melodygen.analysis.uncertainty import summary

            stats = [summary([r.metrics[metric] for r in at_x[x]]) for x in at_x]
            half = [0.0 if s.n < 2 else s.high - s.mean for s in stats]
            line = axes.errorbar(
                list(at_x), [s.mean for s in stats], yerr=half, marker="o", capsize=4,
                linestyle="none" if many else "-", label=f"{by}={label}" if by else None,
            )  # fmt: skip
            axes.plot(xs, ys, marker=".", linestyle="none", alpha=0.35, color=line.lines[0].get_color())
            continue
        axes.plot(
            xs,
            ys,
            marker="o",
            linestyle="none" if scattered else "-",
            label=f"{by}={label}" if by else None,
        )
    wide = numeric and len(values) > 2 and values[-1] / max(values[0], 1e-12) >= 8
    if not numeric:
        axes.set_xticks(range(len(values)), [str(v) for v in values])
    elif wide and many:
        axes.set_xscale("log")
    elif wide:
        axes.set_xscale("log", base=2)
        axes.set_xticks(values, [f"{v:g}" for v in values])
    axes.set_xlabel(axis)
    axes.set_ylabel(metric)
    seeds = repeated and any(len(runs_) > 1 for runs_ in _by_group(done).values())
    axes.set_title(f"{metric} by {axis}" + (" (mean, 95% interval)" if seeds else ""))
    axes.grid(alpha=0.3)
    if by and axes.get_legend_handles_labels()[0]:
        axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: figure.savefig(handle, format="png"))
    return path


def _by_group(runs: Sequence[Run]) -> dict:
    found: dict = {}
    for run in runs:
        found.setdefault(group_key(run), []).append(run)
    return found


def line_axis(axes: Sequence[str], axis: str, runs: Sequence[Run], most: int = 6) -> str | None:
    """The other swept axis with the fewest values (at most ``most``), one line per value; or None."""
    counts = {other: len({run.overrides.get(other) for run in runs}) for other in axes if other != axis}
    fit = [other for other, count in counts.items() if count <= most]
    return min(fit, key=lambda other: counts[other]) if fit else None


def plot_name(metric: str, axis: str) -> str:
    return f"compare_{metric.replace('/', '_')}_by_{axis.replace('/', '_').replace('.', '_')}.png"
