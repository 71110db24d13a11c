"""One way to run many small jobs on every core with a progress bar: units of work in a process pool.

Callers cut their work into units (lists of items, each unit about a second of work or less) and get
back ``(unit, results)`` pairs as units finish. A unit whose worker dies is handed to ``on_error``, so
one crash never stops the whole run. Few units, or ``workers=1``, run in this process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def resolve_workers(workers: int) -> int:
    """``0`` means every core."""
    return workers or os.cpu_count() or 1


def cut_into_units(items: Sequence[Item], size: int) -> list[list[Item]]:
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def progress_display(label: str, noun: str, enabled: bool = True, transient: bool = False):
    """A rich bar on a terminal; elsewhere (a log file, a pipe) a line every few seconds."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from melodygen.runtime.progress import LineCounter, is_terminal

    if enabled and not is_terminal():
        return LineCounter(label, noun)
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(noun),
        TextColumn("{task.fields[rate]:.1f}/s"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=transient,
    )


def run_units(
    fn: Callable[[list[Item]], list[Result]],
    units: Sequence[list[Item]],
    *,
    workers: int = 0,
    label: str = "working",
    noun: str = "items",
    progress: bool = True,
    transient: bool = False,
    on_error: Callable[[list[Item], BaseException], list[Result]] | None = None,
) -> Iterator[tuple[list[Item], list[Result]]]:
    """Yield ``(unit, fn(unit))`` for every unit, in the order units finish.

    ``fn`` must be a module-level function (it is pickled to the workers). ``workers=0`` uses every
    core. Without ``on_error`` a failing unit's exception propagates.
    """
    total = sum(len(unit) for unit in units)
    n_workers = min(resolve_workers(workers), max(1, len(units)))
    started = time.perf_counter()
    done = 0

    def advance(bar, task, unit) -> None:
        nonlocal done
        done += len(unit)
        bar.update(task, advance=len(unit), rate=done / max(time.perf_counter() - started, 1e-9))

    def failed(unit, exc) -> list[Any]:
        if on_error is None:
            raise exc
        return on_error(unit, exc)

    if n_workers == 1:
        with progress_display(label, noun, progress, transient) as bar:
            task = bar.add_task(label, total=total, rate=0.0)
            for unit in units:
                try:
                    results = fn(unit)
                except Exception as exc:
                    results = failed(unit, exc)
                advance(bar, task, unit)
                yield unit, results
        return
    # Start the workers (and submit everything) before the progress bar starts its refresh thread.
    pool = ProcessPoolExecutor(max_workers=n_workers)
    try:
        futures = {pool.submit(fn, unit): unit for unit in units}
        with progress_display(label, noun, progress, transient) as bar:
            task = bar.add_task(label, total=total, rate=0.0)
            for future in as_completed(futures):
                unit = futures[future]
                try:
                    results = future.result()
                except Exception as exc:  # a worker died or fn raised: the caller decides
                    results = failed(unit, exc)
                advance(bar, task, unit)
                yield unit, results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
