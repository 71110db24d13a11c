"""Helpers for the folk-corpus tests: music21's real ABC files, and checks on the MIDI files built from them."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from types import SimpleNamespace

import mido
import pretty_midi
import pytest
from music21 import common

CORPUS = Path(common.getCorpusFilePath())


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def abc_tune(relative: str, number: str) -> str:
    """The text of tune ``X: number`` in one of music21's ABC files."""
    text = (CORPUS / relative).read_text(encoding="utf-8")
    tunes = [t for t in re.split(r"(?m)^(?=X:)", text) if t.startswith("X:")]
    return next(t for t in tunes if t.splitlines()[0][2:].strip() == number)


def write_abc(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_clean_melody(path: Path) -> list[pretty_midi.Note]:
    """A readable, monophonic one-instrument file of plausible notes, every note-on closed exactly once."""
    instruments = [inst for inst in pretty_midi.PrettyMIDI(str(path)).instruments if inst.notes]
    assert len(instruments) == 1, path
    notes = sorted(instruments[0].notes, key=lambda n: n.start)
    assert notes, path
    assert all(36 <= n.pitch <= 108 for n in notes), path
    assert all(n.end > n.start for n in notes), path
    assert all(b.start >= a.end - 1e-6 for a, b in zip(notes, notes[1:])), f"overlap in {path}"
    for track in mido.MidiFile(str(path)).tracks:
        sounding: dict[int, int] = {}
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[msg.note] = sounding.get(msg.note, 0) + 1
            elif msg.type in ("note_off", "note_on"):
                assert sounding.get(msg.note, 0) > 0, f"note-off before note-on in {path}"
                sounding[msg.note] -= 1
        assert not any(sounding.values()), f"hanging notes in {path}"
    return notes


@pytest.fixture(scope="session")
def folk() -> SimpleNamespace:
    """The helpers above, for the test modules of this folder."""
    return SimpleNamespace(
        corpus=CORPUS,
        read_csv=read_csv,
        abc_tune=abc_tune,
        write_abc=write_abc,
        assert_clean_melody=assert_clean_melody,
    )
