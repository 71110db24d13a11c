"""The rules every exported melody file meets, whichever route made it, and how a tune's result is told.

A file goes into place only after it is read back: note-ons and note-offs pair up (every note-off closes
an open note of the same channel and pitch, none stays open), pretty_midi reads it as one instrument
holding at least one note and at most ``max_tune_notes``, no note has zero length and no two notes
overlap. It is then written with :func:`melodygen.runtime.atomic.write_bytes_atomic`, so an interrupted build
never leaves a half-written ``.mid``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

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


def check_note_pairs(midi) -> None:
    """Raise :class:`ExportError` unless every note-on of the ``mido.MidiFile`` is closed exactly once."""
    for track in midi.tracks:
        sounding: Counter[tuple[int, int]] = Counter()
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[(msg.channel, msg.note)] += 1
            elif msg.type in ("note_on", "note_off"):
                if sounding[(msg.channel, msg.note)] == 0:
                    raise ExportError(f"note-off before note-on (pitch {msg.note})")
                sounding[(msg.channel, msg.note)] -= 1
        hanging = sorted(pitch for (_, pitch), n in sounding.items() if n > 0)
        if hanging:
            raise ExportError(f"hanging notes (pitches {hanging})")


def check_melody(data: bytes, max_tune_notes: int) -> int:
    """Read ``data`` back as the rules in the module docstring demand; return its note count."""
    import mido
    import pretty_midi

    midi = mido.MidiFile(file=io.BytesIO(data))
    check_note_pairs(midi)
    instruments = [inst for inst in pretty_midi.PrettyMIDI(mido_object=midi).instruments if inst.notes]
    if not instruments:
        raise ExportError("the MIDI file has no notes")
    if len(instruments) > 1:
        raise ExportError(f"the MIDI file has {len(instruments)} instruments")
    notes = sorted(instruments[0].notes, key=lambda n: (n.start, n.pitch))
    if len(notes) > max_tune_notes:
        raise ExportError(f"{len(notes)} notes > max_tune_notes={max_tune_notes}")
    if any(n.end <= n.start for n in notes):
        raise ExportError("the MIDI file has a zero-length note")
    if any(b.start < a.end - 1e-6 for a, b in zip(notes, notes[1:])):
        raise ExportError("the MIDI file has overlapping notes")
    return len(notes)


def write_checked(path: Path, data: bytes, max_tune_notes: int) -> int:
    """Check ``data`` (:func:`check_melody`), then write it to ``path`` atomically; return the note count."""
    notes = check_melody(data, max_tune_notes)
    write_bytes_atomic(path, data)
    return notes
