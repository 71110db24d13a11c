"""The folk corpus: one MIDI melody per tune of the ABC collections inside music21, built offline.

Layout of the corpus folder::

    <collection>/<abc-file-stem>-<tune-number>.mid   one melody per tune
    manifest.csv    one row per exported tune (columns: MANIFEST_COLUMNS)
    failures.csv    one row per tune or file that gave no melody (columns: FAILURE_COLUMNS)

Two routes turn ABC into MIDI: abc2midi (:mod:`~melodygen.folk.abc2midi_route`, a whole collection in
seconds) and music21 (:mod:`~melodygen.folk.music21_route`, minutes); ``route="auto"`` takes abc2midi
when it is installed. Either way every file is a checked, monophonic melody
(:mod:`~melodygen.folk.checked`). Modules: :mod:`~melodygen.folk.abc` splits ABC files into tunes,
:mod:`~melodygen.folk.manifest` keeps the CSV files, :mod:`~melodygen.folk.plan` decides what to build,
:mod:`~melodygen.folk.build` runs the build and :mod:`~melodygen.folk.summary` counts what it did.
"""

from melodygen.folk.build import build_corpus
from melodygen.folk.manifest import FAILURE_COLUMNS, MANIFEST_COLUMNS
from melodygen.folk.plan import COLLECTIONS
from melodygen.folk.summary import CollectionCounts, CorpusSummary

__all__ = [
    "COLLECTIONS",
    "FAILURE_COLUMNS",
    "MANIFEST_COLUMNS",
    "CollectionCounts",
    "CorpusSummary",
    "build_corpus",
]
