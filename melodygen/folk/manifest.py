"""``manifest.csv`` and ``failures.csv``: reading them back and writing them atomically.

``manifest.csv`` has one row per exported tune (:data:`MANIFEST_COLUMNS`): ``path`` is relative to the
corpus folder, ``title``/``key``/``meter`` are the tune's ``T:``/``K:``/``M:`` fields as written, ``notes``
is the note count read back from the MIDI file, ``repeats`` how repeats were handled and ``route`` which
route built the file (``abc2midi`` or ``music21``), and ``pickup`` the 16ths before its first whole bar (0:
none; empty where the ABC's opening could not be read or music21 built it). ``failures.csv`` has one row per tune or file that
gave no melody (:data:`FAILURE_COLUMNS`); a whole ABC file that failed (unreadable, no tunes) has an
empty ``tune_number``. Both are sorted (tune numbers in numeric order) and written with
:func:`melodygen.runtime.atomic.write_atomic`. A manifest from before the ``route`` column reads back with an
empty ``route``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from melodygen.folk.abc import Tune, TuneKey
from melodygen.folk.checked import Outcome
from melodygen.runtime.atomic import write_atomic

MANIFEST_COLUMNS = (
    "collection",
    "source_file",
    "tune_number",
    "title",
    "key",
    "meter",
    "path",
    "notes",
    "repeats",
    "route",
    "pickup",
)
FAILURE_COLUMNS = ("collection", "source_file", "tune_number", "reason")


def read_rows(path: Path) -> dict[TuneKey, dict]:
    """The rows of a manifest or failures file keyed by ``(collection, source_file, tune_number)``."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {(r["collection"], r["source_file"], r["tune_number"]): r for r in rows if "collection" in r}


def write_rows(path: Path, columns: Sequence[str], rows: Mapping[TuneKey, dict]) -> None:
    """Replace ``path`` with ``rows`` in natural order (``columns`` only; a missing value is empty)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for key in sorted(rows, key=_natural):
        writer.writerow(rows[key])
    write_atomic(path, lambda handle: handle.write(text.getvalue().encode("utf-8")))


def manifest_row(tune: Tune, outcome: Outcome) -> dict:
    return {
        "collection": tune.collection,
        "source_file": tune.source_file,
        "tune_number": tune.tune_number,
        "title": tune.title,
        "key": tune.key,
        "meter": tune.meter,
        "path": tune.rel_path,
        "notes": outcome.notes,
        "repeats": outcome.repeats,
        "route": outcome.route,
        "pickup": outcome.pickup,
    }


def failure_row(key: TuneKey, reason: str) -> dict:
    return dict(zip(FAILURE_COLUMNS, (*key, reason)))


def _natural(key: TuneKey) -> tuple:
    number = key[2]
    return (key[0], key[1], (0, int(number), "") if number.isdigit() else (1, 0, number))
