"""The rules every exported melody file meets, whichever route made it, and how a tune's result is told.

A file goes into place only after it is read back (by :func:`melodygen.folk.smf.read`, a strict reader
of the few events a melody file holds, nine times faster than mido and pretty_midi): note-ons and note-offs
pair up (every note-off closes an open note of the same channel and pitch, none stays open), its notes are
on one channel of one track (one instrument, as pretty_midi and symusic read it), at least one and at most
``max_tune_notes``, no note has zero length and no two notes overlap. It is then written with
:func:`melodygen.runtime.atomic.write_bytes_atomic`, so an interrupted build never leaves a half-written
``.mid``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from melodygen.folk import smf
from melodygen.folk.abc import TuneKey
from melodygen.runtime.atomic import write_bytes_atomic


class ExportError(Exception):
    """A tune that was read but gives no usable melody file."""


@dataclass(frozen=True)
class Outcome:
    """What became of one tune: ``reason`` is empty when it was exported by ``route``."""

    id: TuneKey
    notes: int = 0
    repeats: str = ""
    route: str = ""
    reason: str = ""
    dropped: tuple[tuple[str, int], ...] = ()  # grace notes, chord symbols, chord tones removed
    fallback: str = ""  # why abc2midi's file was not used, when music21 made this one instead
    pickup: str = ""  # 16ths before the first whole bar ("0": none); empty where the route does not say


def reason(exc: BaseException) -> str:
    """``ExceptionClass: message`` on one line, object ids removed so equal problems read the same."""
    message = re.sub(r"\s+", " ", str(exc)).strip()
    message = re.sub(r"id\(\)=\d+|0x[0-9a-fA-F]+", "…", message)
    return f"{type(exc).__name__}: {message[:160]}" if message else type(exc).__name__


def check_melody(data: bytes, max_tune_notes: int) -> int:
    """Read ``data`` back as the rules in the module docstring demand; return its note count."""
    try:
        _, tracks = smf.read(data)
    except smf.SmfError as exc:
        raise ExportError(str(exc)) from exc
    except (IndexError, struct.error) as exc:
        raise ExportError("the MIDI file is cut short") from exc
    parts = {(index, note.channel) for index, track in enumerate(tracks) for note in track.notes}
    if not parts:
        raise ExportError("the MIDI file has no notes")
    if len(parts) > 1:
        raise ExportError(f"the MIDI file has {len(parts)} instruments")
    notes = sorted((note for track in tracks for note in track.notes), key=lambda n: (n.start, n.pitch))
    if len(notes) > max_tune_notes:
        raise ExportError(f"{len(notes)} notes > max_tune_notes={max_tune_notes}")
    if any(n.end <= n.start for n in notes):
        raise ExportError("the MIDI file has a zero-length note")
    if any(b.start < a.end for a, b in zip(notes, notes[1:])):
        raise ExportError("the MIDI file has overlapping notes")
    return len(notes)


def write_checked(path: Path, data: bytes, max_tune_notes: int) -> int:
    """Check ``data`` (:func:`check_melody`), then write it to ``path`` atomically; return the note count."""
    notes = check_melody(data, max_tune_notes)
    write_bytes_atomic(path, data)
    return notes
