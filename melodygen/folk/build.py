"""The build loop: check the options, plan the tunes, skip what is done, export the rest, save the CSV files.

Tunes are cut into units (about a second of work each, the slowest collection first) that
:func:`melodygen.runtime.pool.run_units` runs on every core. Failures are counted and listed in
``failures.csv``, never fatal; a unit whose worker dies fails its tunes and the build goes on. A re-run
skips tunes whose manifest row is present and whose ``.mid`` exists (a row written before the ``pickup``
column is exported again), retries earlier failures, keeps the rows of collections it does not touch, and
removes temporary files an interrupted build left. The manifest is saved every 30 s, when the build ends
and when it is interrupted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from functools import partial
from pathlib import Path

from melodygen.config import CorpusConfig, FolkCollection, check_corpus, require
from melodygen.folk import abc2midi_route, music21_route
from melodygen.folk.abc import Tune, TuneKey, read_tunes
from melodygen.folk.checked import Outcome, reason
from melodygen.folk.manifest import (
    FAILURE_COLUMNS,
    MANIFEST_COLUMNS,
    failure_row,
    manifest_row,
    read_rows,
    write_rows,
)
from melodygen.folk.plan import (
    COLLECTIONS,
    ROUTE_CHOICES,
    check_sources,
    music21_files,
    plan_units,
    resolve_route,
)
from melodygen.folk.summary import CorpusSummary, Tally, print_summary
from melodygen.runtime.pool import run_units

_CHECKPOINT_SECONDS = 30.0


def build_corpus(
    out_dir: str | os.PathLike,
    collections: Sequence[str | Enum] | str | Enum = tuple(FolkCollection),
    route: str | Enum = CorpusConfig.route,
    workers: int = CorpusConfig.workers,
    limit: int | None = CorpusConfig.limit,
    max_tune_notes: int = CorpusConfig.max_tune_notes,
    sources: Mapping[str, Sequence[str | os.PathLike]] | None = None,
    progress: bool = True,
) -> CorpusSummary:
    """Export every tune of ``collections`` to ``out_dir`` (layout: :mod:`melodygen.folk`).

    ``route``: ``auto`` (abc2midi when installed, else music21), ``abc2midi`` or ``music21``.
    ``workers=0`` uses all cores, ``workers=1`` runs in this process. ``limit`` keeps at most that many
    tunes per collection (files in name order, tunes in file order). ``sources`` replaces music21's files
    with explicit ``{collection: [abc paths]}`` (then ``collections`` is ignored). ``progress`` shows a bar
    and prints the counts at the end.
    """
    started = time.perf_counter()
    route = _plain(route)
    check_corpus(workers, limit, max_tune_notes)
    require(route in ROUTE_CHOICES, "route", route, f"choose one of {', '.join(ROUTE_CHOICES)}")
    if sources is None:
        names = (
            [_plain(collections)] if isinstance(collections, str | Enum) else [_plain(c) for c in collections]
        )
        for name in names:
            require(name in COLLECTIONS, "collections", name, f"choose one of {', '.join(COLLECTIONS)}")
        plan = {name: music21_files(name) for name in dict.fromkeys(names)}
    else:
        plan = {name: [Path(p) for p in paths] for name, paths in sources.items()}
        check_sources(plan)
    route, program = resolve_route(route, progress)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out, plan)
    manifest_path, failures_path = out / "manifest.csv", out / "failures.csv"
    # a row from before the pickup column names a file whose pickup starts at time 0: export it again
    manifest = {
        k: row
        for k, row in read_rows(manifest_path).items()
        if (out / row["path"]).is_file() and row.get("pickup") is not None
    }
    failures: dict[TuneKey, dict] = {}
    attempted: set[TuneKey] = set()
    tally = Tally(plan)
    todo: list[Tune] = []
    for name, paths in plan.items():
        tunes: list[Tune] = []
        for path in paths:
            attempted.add((name, path.name, ""))
            try:
                tunes.extend(read_tunes(name, path))
            except Exception as exc:  # one unreadable file never stops the build
                failures[(name, path.name, "")] = failure_row((name, path.name, ""), reason(exc))
                tally.failed(name)
        for tune in tunes[:limit]:
            attempted.add(tune.id)
            if tune.id in manifest:
                tally.counts[name].existing += 1
            else:
                todo.append(tune)
    by_id = {tune.id: tune for tune in todo}
    failures.update(
        (k, row) for k, row in read_rows(failures_path).items() if k not in attempted and k not in manifest
    )

    def record(outcome: Outcome) -> None:
        tune = by_id[outcome.id]
        tally.add(tune.collection, outcome)
        if outcome.reason:
            failures[tune.id] = failure_row(tune.id, outcome.reason)
        else:
            manifest[tune.id] = manifest_row(tune, outcome)

    def save() -> None:
        write_rows(manifest_path, MANIFEST_COLUMNS, manifest)
        write_rows(failures_path, FAILURE_COLUMNS, failures)

    if route == "abc2midi":
        export = partial(
            abc2midi_route.export_unit, out_dir=str(out), max_tune_notes=max_tune_notes, program=program
        )
    else:
        export = partial(music21_route.export_unit, out_dir=str(out), max_tune_notes=max_tune_notes)
    last_save = time.perf_counter()
    try:
        for _, outcomes in run_units(
            export,
            plan_units(todo, route, workers),
            workers=workers,
            label="corpus",
            noun="tunes",
            progress=progress,
            on_error=_unit_failed,
        ):
            for outcome in outcomes:
                record(outcome)
            if time.perf_counter() - last_save > _CHECKPOINT_SECONDS:
                save()
                last_save = time.perf_counter()
    finally:
        save()
    summary = CorpusSummary(
        counts=tally.counts,
        route=route,
        elapsed_s=time.perf_counter() - started,
        manifest_path=manifest_path,
        failures_path=failures_path,
        repeats=dict(tally.repeats),
        dropped=dict(tally.dropped),
        fallbacks=dict(tally.fallbacks),
    )
    if progress:
        print_summary(summary)
    return summary


def _unit_failed(unit: list[Tune], exc: BaseException) -> list[Outcome]:
    """A worker died: this unit's tunes fail, the build goes on."""
    return [Outcome(id=tune.id, reason=reason(exc)) for tune in unit]


def _remove_leftovers(out: Path, plan: Iterable[str]) -> None:
    """Remove temporary files an interrupted build left (atomic writes, older builds' ``.mid.tmp-*``)."""
    for folder in (out, *(out / name for name in plan)):
        folder.mkdir(exist_ok=True)
        for stale in (*folder.glob(".*.tmp"), *folder.glob("*.mid.tmp-*")):
            stale.unlink(missing_ok=True)


def _plain(value: str | Enum) -> str:
    return value.value if isinstance(value, Enum) else value
