"""What both MIDI readers share: the same track chosen, the same skip reasons, and details that are
sentences about the file, even for files damaged at random."""

from __future__ import annotations

import re

import numpy as np
import pytest

from melodygen.data.midi import ExtractionParams, SkipFile, load_melody
from melodygen.data.midi_rules import SKIP_REASONS, damage

#: a reader's exception text: a class name and a colon, or the phrases mido, pretty_midi and symusic use
READER_TEXT = re.compile(
    r"\b\w*(Error|Exception)\b|arg is an empty|status byte 0x[0-9a-f]{2}\b|MiniMidi|Traceback"
)


def mutated(original: bytes, rng: np.random.Generator) -> bytes:
    """``original`` damaged as files are in the wild: bytes overwritten, cut short, dropped or doubled."""
    data = bytearray(original)
    kind = rng.integers(4)
    if kind == 0:
        for at in rng.integers(0, len(data), size=int(rng.integers(1, 6))):
            data[at] = int(rng.integers(256))
    elif kind == 1:
        data = data[: int(rng.integers(8, len(data)))]
    elif kind == 2:
        at = int(rng.integers(14, len(data)))
        del data[at : at + int(rng.integers(1, 8))]
    else:
        at = int(rng.integers(14, len(data)))
        data[at:at] = data[at : at + int(rng.integers(1, 8))]
    return bytes(data)


def whole_file(path) -> bytes:
    """A tune over a bass line, with a tempo, a time signature and a key signature: every kind of event."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(6, 8, 0))
    pm.key_signature_changes.append(pretty_midi.KeySignature(7, 0))
    for program, low in ((0, 67), (32, 43)):
        track = pretty_midi.Instrument(program=program)
        for i in range(24):
            track.notes.append(pretty_midi.Note(80, low + (i * 5) % 12, i * 0.3, i * 0.3 + 0.25))
        track.control_changes.append(pretty_midi.ControlChange(7, 100, 0.0))
        pm.instruments.append(track)
    pm.write(str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("damaged")
    original = whole_file(folder / "whole.mid")
    rng = np.random.default_rng(7)
    paths = []
    for i in range(400):
        path = folder / f"m{i:03d}.mid"
        path.write_bytes(mutated(original, rng))
        paths.append(path)
    return paths


@pytest.mark.parametrize("reader", ["pretty_midi", "symusic"])
def test_every_detail_of_400_damaged_files_is_a_sentence_about_the_file(damaged, reader):
    pytest.importorskip(reader)
    params = ExtractionParams(reader=reader, min_notes=1)
    details = []
    for path in damaged:
        try:
            load_melody(path, params)
        except SkipFile as skip:
            assert skip.reason in SKIP_REASONS
            details.append((path.name, skip.reason, skip.detail))
    assert len(details) > 100  # most mutations break the file; the rest still read
    for name, reason, detail in details:
        assert detail and not READER_TEXT.search(detail), (name, reason, detail)
        assert detail[0].islower() and not detail.endswith("."), (name, detail)  # a clause after "reason: "
    corrupt = [d for _, r, d in details if r == "corrupt"]
    assert len(set(corrupt)) > 3  # they say where: not one phrase for every damage


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00", "announces 2 track(s) but it holds 1"),
        (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xf5\x00\x00", "track 1 holds the status byte 0xF5"),
        (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\x40\x40\x00", "track 1 starts an event without a status byte"),
        (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\x90\xc0\x40", "a note-on event with a value over 127"),
        (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x06\x00\xff\x59\x02\x09\x00", "a key signature that names no key"),
        (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x05\x00\xff\x51\x01\x07", "a tempo event of 1 bytes, where it takes 3"),
    ],
)  # fmt: skip
def test_damage_names_what_is_wrong_and_where(data, says):
    assert says in damage(data)


def test_a_file_without_tracks_has_no_notes_with_either_reader(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0")
    for reader in ("pretty_midi", "symusic"):
        with pytest.raises(SkipFile) as skip:
            load_melody(path, ExtractionParams(reader=reader))
        assert skip.value.reason == "no_notes", (reader, skip.value.detail)
