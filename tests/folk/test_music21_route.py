"""The music21 route's export rules, on tunes from music21's own ABC files."""

from __future__ import annotations

import pretty_midi
import pytest
from music21 import converter, midi, stream

from melodygen.folk import COLLECTIONS, build_corpus


def build(out, sources, **options):
    return build_corpus(out, sources=sources, workers=1, route="music21", progress=False, **options)


def test_shared_time_signature_that_breaks_music21s_midi_writer_is_exported(tmp_path, folk):
    # Essen's "Das Schloss in Oesterreich" has one 8/4 bar; music21 reuses the 6/2 object after it.
    tune = folk.abc_tune("essenFolksong/altdeu10.abc", "29")
    with pytest.raises(stream.StreamException, match="already found"):
        midi.translate.streamToMidiFile(converter.parseData(tune, format="abc"))
    source = folk.write_abc(tmp_path, "schloss.abc", tune)
    summary = build(tmp_path / "out", {"essen": [source]})
    assert summary.exported == 1, folk.read_csv(summary.failures_path)
    notes = folk.assert_clean_melody(tmp_path / "out" / "essen" / "schloss-29.mid")
    assert len(notes) == len(converter.parseData(tune, format="abc").stripTies().recurse().notes)


def test_grace_notes_are_dropped_and_tempo_is_kept(tmp_path, folk):
    # O'Neill 1 has grace notes ({d}c3) and no repeats; O'Neill 415 carries "Q:80".
    tune = folk.abc_tune("oneills1850/0001-0050.abc", "1")
    slow = folk.abc_tune("oneills1850/0401-0486.abc", "415")
    source = folk.write_abc(tmp_path, "oneill.abc", tune + "\n" + slow)
    summary = build(tmp_path / "out", {"oneills": [source]})
    assert summary.exported == 2 and summary.dropped["grace_notes"] > 0

    melody = list(converter.parseData(tune, format="abc").stripTies().recurse().notes)
    assert any(n.duration.isGrace for n in melody)
    plain = [n.pitch.midi for n in melody if not n.duration.isGrace]
    notes = folk.assert_clean_melody(tmp_path / "out" / "oneills" / "oneill-1.mid")
    assert [n.pitch for n in notes] == plain

    marks = converter.parseData(slow, format="abc").recurse().getElementsByClass("MetronomeMark")
    expected = marks.first().getQuarterBPM()
    _, tempi = pretty_midi.PrettyMIDI(
        str(tmp_path / "out" / "oneills" / "oneill-415.mid")
    ).get_tempo_changes()
    assert tempi[0] == pytest.approx(expected, rel=1e-3) and expected != 120
    _, tempi = pretty_midi.PrettyMIDI(str(tmp_path / "out" / "oneills" / "oneill-1.mid")).get_tempo_changes()
    assert list(tempi) == [pytest.approx(120)]


def test_chords_become_their_top_note(tmp_path, folk):
    source = folk.write_abc(
        tmp_path, "chords.abc", 'X:1\nT:Double stops\nL:1/4\nM:4/4\nK:C\n"C"[CEG] "G"[B,DG] A c|]\n'
    )
    summary = build(tmp_path / "out", {"test": [source]})
    notes = folk.assert_clean_melody(tmp_path / "out" / "test" / "chords-1.mid")
    assert [n.pitch for n in notes] == [67, 67, 69, 72]
    assert summary.dropped["chord_tones"] == 4


def test_malformed_repeats_export_as_written(tmp_path, folk):
    # Ryan's "Lady Gardner's Reel" makes music21's repeat expander give up (ExpanderException).
    source = folk.corpus / COLLECTIONS["ryans"] / "LadyGardnersReel.abc"
    summary = build(tmp_path, {"ryans": [source]})
    (row,) = folk.read_csv(summary.manifest_path)
    assert row["repeats"] == "malformed"
    folk.assert_clean_melody(tmp_path / row["path"])


def test_max_tune_notes_caps_repeat_expansion_then_fails_what_is_too_long_as_written(tmp_path, folk):
    source = folk.corpus / COLLECTIONS["ryans"] / "7thRegimentReel.abc"
    score = converter.parseData(source.read_text(encoding="utf-8"), format="abc")
    written = len(score.recurse().notes)
    expanded = len(score.expandRepeats().recurse().notes)
    assert expanded > written

    full = build(tmp_path / "full", {"ryans": [source]})
    capped = build(tmp_path / "capped", {"ryans": [source]}, max_tune_notes=written)
    too_few = build(tmp_path / "none", {"ryans": [source]}, max_tune_notes=written - 1)
    (full_row,) = folk.read_csv(full.manifest_path)
    (capped_row,) = folk.read_csv(capped.manifest_path)
    assert (full_row["repeats"], capped_row["repeats"]) == ("expanded", "too-long")
    assert int(capped_row["notes"]) < int(full_row["notes"])
    folk.assert_clean_melody(tmp_path / "capped" / capped_row["path"])
    assert too_few.failed == 1
    (failure,) = folk.read_csv(too_few.failures_path)
    assert failure["reason"] == f"ExportError: {written} notes as written > max_tune_notes={written - 1}"
