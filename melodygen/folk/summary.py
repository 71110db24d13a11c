"""What one corpus build did: counts per collection and per route, and the table printed at the end."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from melodygen.folk.checked import Outcome

ROUTES = ("abc2midi", "music21")


@dataclass
class CollectionCounts:
    exported: int = 0
    existing: int = 0  # already in the manifest with their file present, skipped
    failed: int = 0
    routes: dict[str, int] = field(default_factory=dict)  # exported tunes per route


@dataclass
class CorpusSummary:
    """What one :func:`melodygen.folk.build_corpus` call did, per collection."""

    counts: dict[str, CollectionCounts]
    route: str  # the route asked for, after ``auto`` was resolved
    elapsed_s: float
    manifest_path: Path
    failures_path: Path
    repeats: dict[str, int] = field(default_factory=dict)  # how repeats were handled, exported tunes
    dropped: dict[str, int] = field(default_factory=dict)  # grace notes, chord symbols, chord tones
    fallbacks: dict[str, int] = field(default_factory=dict)  # why abc2midi's file was not used (digits: N)

    @property
    def exported(self) -> int:
        return sum(c.exported for c in self.counts.values())

    @property
    def existing(self) -> int:
        return sum(c.existing for c in self.counts.values())

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.counts.values())

    @property
    def routes(self) -> dict[str, int]:
        """Tunes exported in this build by each route."""
        total: Counter[str] = Counter()
        for counts in self.counts.values():
            total.update(counts.routes)
        return {name: total[name] for name in ROUTES if total[name]}

    @property
    def tunes_per_s(self) -> float:
        return (self.exported + self.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Tally:
    """Adds up outcomes as they arrive, for the :class:`CorpusSummary`."""

    def __init__(self, collections):
        self.counts = {name: CollectionCounts() for name in collections}
        self.repeats: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.fallbacks: Counter[str] = Counter()

    def failed(self, collection: str) -> None:
        self.counts[collection].failed += 1

    def add(self, collection: str, outcome: Outcome) -> None:
        if outcome.fallback:
            self.fallbacks[re.sub(r"\b\d+\b", "N", outcome.fallback)] += 1
        if outcome.reason:
            self.failed(collection)
            return
        counts = self.counts[collection]
        counts.exported += 1
        counts.routes[outcome.route] = counts.routes.get(outcome.route, 0) + 1
        self.repeats[outcome.repeats] += 1
        self.dropped.update(dict(outcome.dropped))


def print_summary(summary: CorpusSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    columns = ("collection", "exported", *ROUTES, "existing", "failed")
    table = Table(title=f"folk corpus (route: {summary.route})")
    for column in columns:
        table.add_column(column, justify="left" if column == "collection" else "right")
    for name, c in summary.counts.items():
        by_route = [str(c.routes.get(route, 0)) for route in ROUTES]
        table.add_row(name, str(c.exported), *by_route, str(c.existing), str(c.failed))
    totals = [str(summary.routes.get(route, 0)) for route in ROUTES]
    table.add_row(
        "total", str(summary.exported), *totals, str(summary.existing), str(summary.failed), style="bold"
    )
    console = Console()
    console.print(table)
    console.print(
        f"{summary.exported + summary.failed} tunes processed in {summary.elapsed_s:.1f} s "
        f"({summary.tunes_per_s:.1f} tunes/s); routes {summary.routes}; repeats {summary.repeats}; "
        f"dropped {summary.dropped}"
    )
    if summary.fallbacks:
        kinds = sorted(summary.fallbacks.items(), key=lambda item: -item[1])
        shown = ", ".join(f"{count}× {why}" for why, count in kinds[:4])
        more = f" and {len(kinds) - 4} more kinds" if len(kinds) > 4 else ""
        console.print(
            f"{sum(summary.fallbacks.values())} tunes went to music21, abc2midi could not make them: {shown}{more}",
            highlight=False,
        )
    console.print(f"manifest: {summary.manifest_path}\nfailures: {summary.failures_path}")
