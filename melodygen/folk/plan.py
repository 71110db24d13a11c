"""What a build does: the collections' files, the route (``auto`` resolved), the units of work.

A collection is a folder of music21's corpus, or a list of ABC files given as ``sources`` (then its name
becomes a folder, so it must be letters, digits, ``_`` or ``-``, and two of its files must not share a
name). ``auto`` takes abc2midi when it is on ``PATH`` and says so when it is not. Work units hold about
a second of work each (the measured cost per tune of each route and collection), the slowest
collection's first, and a small build is cut finer so every worker gets some.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from melodygen.config import FolkCollection, FolkRoute, require
from melodygen.errors import MelodygenError
from melodygen.folk import abc2midi_route
from melodygen.folk.abc import Tune
from melodygen.runtime.pool import cut_into_units, resolve_workers

#: Collection name → folder inside music21's corpus.
COLLECTIONS = {
    FolkCollection.essen.value: "essenFolksong",
    FolkCollection.oneills.value: "oneills1850",
    FolkCollection.ryans.value: "ryansMammoth",
}
ROUTE_CHOICES = tuple(route.value for route in FolkRoute)
NO_MUSIC21 = (
    "the folk corpus needs music21, whose package holds the ABC collections: pip install 'melodygen[folk]'"
)
NO_ABC2MIDI = "abc2midi is not installed: apt-get install abcmidi, or route=music21"

# Measured cost per tune and core. music21: GUIDE §3 (O'Neill's slowed by repeat expansion). abc2midi: ~2 ms
# a tune (reading back and writing the melody; abc2midi itself ~0.05 ms) plus the tunes that fall back to
# music21: 0.3% of Essen, 3% of O'Neill's, 8% of Ryan's.
_SECONDS_PER_TUNE = {
    "music21": {"essen": 1 / 27, "ryans": 1 / 12, "oneills": 1 / 6, "": 1 / 10},
    "abc2midi": {"essen": 1 / 470, "ryans": 1 / 100, "oneills": 1 / 170, "": 1 / 200},
}
_UNIT_SECONDS = 1.0
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a collection name (it becomes a folder)


def resolve_route(route: str, progress: bool) -> tuple[str, str | None]:
    """``(route to run, abc2midi program or None)``; ``auto`` takes abc2midi when it is on ``PATH``."""
    program = abc2midi_route.find_abc2midi()
    if route == "abc2midi":
        require(program is not None, "route", route, NO_ABC2MIDI)
    if route == "music21" or program is None:
        if route == "auto" and progress:
            print(
                "corpus: building with music21 because abc2midi is not installed "
                "(apt-get install abcmidi builds it in seconds instead of minutes)",
                flush=True,
            )
        return "music21", None
    return "abc2midi", program


def music21_files(name: str) -> list[Path]:
    """The ABC files of one of music21's collections, in name order."""
    try:
        from music21 import common
    except ModuleNotFoundError:
        raise MelodygenError(NO_MUSIC21) from None
    folder = Path(common.getCorpusFilePath()) / COLLECTIONS[name]
    files = sorted(folder.glob("*.abc"))
    require(bool(files), "collections", name, f"no ABC files in {folder} (is music21 complete?)")
    return files


def check_sources(plan: Mapping[str, list[Path]]) -> None:
    """Collection names become folders, and two files of one collection must not share a name."""
    for name, paths in plan.items():
        require(
            bool(_SAFE_NAME.fullmatch(name)), "sources", name, "a collection name is letters, digits, _ or -"
        )
        clashes = sorted(n for n, count in Counter(path.name for path in paths).items() if count > 1)
        # both would write <collection>/<stem>-<number>.mid
        require(not clashes, "sources", name, f"two files are named {clashes[0]!r}" if clashes else "")


def plan_units(todo: list[Tune], route: str, workers: int) -> list[list[Tune]]:
    """Cut the tunes into units of about one second's work, the slowest collection first."""
    by_collection: dict[str, list[Tune]] = {}
    for tune in todo:
        by_collection.setdefault(tune.collection, []).append(tune)
    costs = _SECONDS_PER_TUNE[route]
    spread = math.ceil(len(todo) / (4 * resolve_workers(workers)))  # small runs still use every worker
    units = []
    for name, tunes in by_collection.items():
        per_tune = costs.get(name, costs[""])
        size = max(1, min(round(_UNIT_SECONDS / per_tune), spread))
        units += [(per_tune, unit) for unit in cut_into_units(tunes, size)]
    units.sort(key=lambda unit: -unit[0])  # stable: file order kept within a collection
    return [unit for _, unit in units]
