"""Reading ABC files into tunes, the copy abc2midi reads, and the small MIDI reader/writer."""

from __future__ import annotations

import io
import re
from fractions import Fraction

import mido
import pytest

from melodygen.folk import smf
from melodygen.folk.abc import NoTunes, has_repeat_signs, pickup, read_tunes, unplayed_marks
from melodygen.folk.abc2midi_copy import as_written, renumbered


def test_tunes_split_at_x_lines_with_header_fields_and_unique_file_names(tmp_path):
    path = tmp_path / "set.abc"
    text = "% file header\nL:1/8\n\nX: 7\nT: Caf\xe9\nM:6/8\nK:D\nT:not a header\nABc|\n\n"
    path.write_bytes((text + "X:7\nK:G\nG4|]\nX:\nK:C\nC|]\n").encode("latin-1"))  # not UTF-8
    tunes = read_tunes("mine", path)
    assert [t.tune_number for t in tunes] == ["7", "7_2", "3"]
    assert [t.rel_path for t in tunes] == ["mine/set-7.mid", "mine/set-7_2.mid", "mine/set-3.mid"]
    assert (tunes[0].title, tunes[0].key, tunes[0].meter) == ("Caf\xe9", "D", "6/8")
    assert tunes[0].abc.startswith("X: 7\n") and "% file header" not in tunes[0].abc
    assert tunes[0].body.splitlines() == ["T:not a header", "ABc|"]
    with pytest.raises(NoTunes, match="no X: line"):
        (tmp_path / "empty.abc").write_text("no tunes here\n")
        read_tunes("mine", tmp_path / "empty.abc")


@pytest.mark.parametrize(
    ("music", "repeats"),
    [
        ("ABcd|efga|]", False),
        ('"A:|"AB "^|:"cd|', False),  # inside quoted text
        ("% a comment :|\nABcd|]", False),
        ("|:ABcd:|", True),
        ("ABcd::efga|]", True),
        ("ABcd|1 efga:|2 gfed|]", True),
        ("ABcd|[2 efga|]", True),
    ],
)
def test_repeat_signs(tmp_path, music, repeats):
    path = tmp_path / "t.abc"
    path.write_text(f"X:1\nL:1/8\nK:C\n{music}\n")
    (tune,) = read_tunes("t", path)
    assert has_repeat_signs(tune) is repeats


def test_grace_notes_and_chord_symbols_are_counted(tmp_path):
    path = tmp_path / "t.abc"
    path.write_text('X:1\nL:1/8\nK:C\n"Am"{ag}A2 "^text"{B}c2 "G7"d2 % "C"{ef}\n"D"e4|]\n')
    (tune,) = read_tunes("t", path)
    assert unplayed_marks(tune) == {"grace_notes": 3, "chord_symbols": 3}


def test_the_copy_drops_what_abc2midi_would_play_out_but_keeps_text_and_fields():
    assert as_written('~B TB Hc .d|u e v f "T.u~" !trill!g !fermata!a !p!b [K:D] c % T.') == (
        'B B c d| e  f "T.u~" g a !p!b [K:D] c % T.'
    )
    assert as_written("T:Title with T. and u") == "T:Title with T. and u"
    assert as_written("w:lyrics") == "w:lyrics"


def test_renumbered_copies_keep_line_numbers_and_add_directives_after_k(tmp_path):
    path = tmp_path / "t.abc"
    path.write_text("X:5\nT:One\nR:hornpipe\nK:C\nAB|\n\n\nX:9\nT:Two\nK:G\nGA|\n")
    text, first_lines = renumbered(read_tunes("t", path))
    lines = text.splitlines()
    assert first_lines == [1, 8]
    assert lines[:7] == [
        "X:1",
        "T:One",
        "K:C",
        "%%propagate-accidentals not",
        "%%MIDI chordattack 0",
        "AB|",
        "",
    ]
    assert lines[7] == "X:2" and "R:hornpipe" not in text


def test_smf_round_trip_agrees_with_mido():
    notes = [
        smf.Note(0, 480, 60, 90, 0),
        smf.Note(480, 960 + 240, 64, 80, 0),
        smf.Note(5000, 20000, 67, 70, 0),
    ]
    metas = [(0, 0x51, bytes([0x07, 0xA1, 0x20])), (960, 0x58, bytes([3, 2, 24, 8]))]
    data = smf.write(480, metas, notes)
    midi = mido.MidiFile(file=io.BytesIO(data))
    assert midi.type == 0 and midi.ticks_per_beat == 480
    tick, seen = 0, []
    for msg in midi.tracks[0]:
        tick += msg.time
        seen.append((tick, msg.type, getattr(msg, "note", None)))
    assert seen[:3] == [(0, "set_tempo", None), (0, "note_on", 60), (480, "note_off", 60)]
    assert (960, "time_signature", None) in seen and seen[-1] == (20000, "end_of_track", None)
    division, tracks = smf.read(data)
    assert division == 480 and tracks[0].notes == notes and tracks[0].metas[:2] == metas


def test_smf_reads_running_status_and_refuses_unpaired_notes():
    header = (
        b"MThd"
        + (6).to_bytes(4, "big")
        + (0).to_bytes(2, "big")
        + (1).to_bytes(2, "big")
        + (96).to_bytes(2, "big")
    )
    body = bytes([0, 0x90, 60, 100, 96, 60, 0, 0, 0xFF, 0x2F, 0])  # second event: running status, velocity 0
    division, tracks = smf.read(header + b"MTrk" + len(body).to_bytes(4, "big") + body)
    assert division == 96 and [(n.start, n.end, n.pitch) for n in tracks[0].notes] == [(0, 96, 60)]
    hanging = bytes([0, 0x90, 60, 100, 0, 0xFF, 0x2F, 0])
    with pytest.raises(smf.SmfError, match="hanging"):
        smf.read(header + b"MTrk" + len(hanging).to_bytes(4, "big") + hanging)


@pytest.mark.parametrize(
    ("header", "music", "length"),
    [
        ("M:2/4\nL:1/8", " | A2GG | F2z\nC | AAGG |]", Fraction(0)),  # Essen: a whole first bar
        ("M:2/4\nL:1/8", "C | AAGG | F2z |]", Fraction(1, 8)),
        ("M:6/8\nL:1/8", "|:A|dAF ABd|e2 d:|", Fraction(1, 8)),  # after an opening repeat
        ("M:6/8\nL:1/8", "(3ABc|d3 e3|]", Fraction(1, 4)),  # a triplet: three eighths in the time of two
        (
            "M:4/4\nL:1/8",
            'u"G"B>c | d2 e2 f2 g2|]',
            Fraction(1, 4),
        ),  # broken rhythm, a bowing, a chord symbol
        ("M:C|\nL:1/8", "[DF]2 {g}A | B8 |]", Fraction(3, 8)),  # a chord and a grace note
        ("M:3/4", "G/-A/ | B2 c2 d2 |]", Fraction(1, 8)),  # no L: in 3/4 means eighths; two sixteenths
        (
            "M:9/8\nL:1/8",
            "[G3B3] AGF G2A | BAB GBd cBA |]",
            Fraction(0),
        ),  # a whole bar beginning with a chord
        ("M:none\nL:1/8", "C | AAGG |]", None),  # free meter: no bar to compare with
        ("M:2/4\nL:1/8", "[M:3/4] C | AAGG |]", None),  # an inline field it does not read
    ],
)
def test_the_pickup_is_what_stands_before_the_first_bar_line(tmp_path, header, music, length):
    path = tmp_path / "t.abc"
    path.write_text(f"X:1\n{header}\nK:C\n{music}\n")
    (tune,) = read_tunes("t", path)
    assert pickup(tune) == length


def _pretty_midi_bytes(parts: list[list[tuple[float, float, int]]]) -> bytes:
    """A file pretty_midi writes: one instrument (its own track and channel) per part of (start, end, pitch)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    for notes in parts:
        instrument = pretty_midi.Instrument(program=0)
        instrument.notes = [pretty_midi.Note(90, pitch, start, end) for start, end, pitch in notes]
        midi.instruments.append(instrument)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        ([[(0, 0.5, 60), (0.5, 1, 62)], [(0, 1, 48)]], "the MIDI file has 2 instruments"),
        ([[(0, 0.75, 60), (0.5, 1, 62)]], "the MIDI file has overlapping notes"),
        ([[(0, 0.5, 60), (0.5, 1, 62), (1, 1.5, 64)]], "3 notes > max_tune_notes=2"),
        ([[]], "the MIDI file has no notes"),
    ],
)
def test_a_file_that_is_not_one_melody_is_refused(parts, problem):
    from melodygen.folk.checked import ExportError, check_melody

    with pytest.raises(ExportError, match=f"^{re.escape(problem)}$"):
        check_melody(_pretty_midi_bytes(parts), max_tune_notes=2)


def test_a_melody_file_passes_and_a_cut_one_does_not():
    from melodygen.folk.checked import ExportError, check_melody

    data = _pretty_midi_bytes([[(0, 0.5, 60), (0.5, 1, 62)]])
    assert check_melody(data, max_tune_notes=2) == 2
    with pytest.raises(ExportError, match="^the MIDI file is cut short$"):
        check_melody(data[:-6], max_tune_notes=2)
