"""``data.reader=symusic`` gives the melodies, skip reasons and key signatures of the pretty_midi reader."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pretty_midi
import pytest

pytest.importorskip("symusic")

from midi_files import MIXED_PARAMS, write_broken_files  # noqa: E402

from melodygen.data.midi import SkipFile, load_melody  # noqa: E402
from melodygen.data.parsed import parse_midi_folder  # noqa: E402

SYMUSIC = replace(MIXED_PARAMS, reader="symusic")


def write_multitrack_folder(folder, make_midi, tunes) -> None:
    """Files where the track choice, the skyline, drums, tempo and key signatures matter."""
    melody = [(p, 4 * i, d) for i, (p, d) in enumerate(tunes[0])]
    bass = [(p - 24, 8 * i, 8) for i, (p, _) in enumerate(tunes[1][:8])]
    drums = [(36 + i % 3, 2 * i, 1) for i in range(40)]
    make_midi(folder / "band.mid", [(bass, 33, False), (drums, 0, True), (melody, 73, False)], qpm=96.0)
    chords = [(p + k, 4 * i, 4) for i, (p, _) in enumerate(tunes[2]) for k in (0, 4, 7)]
    make_midi(folder / "chords.mid", [(chords, 0, False)])
    offgrid = [(60 + i % 5, 4 * i + (0.3 if i % 2 else -0.3), 3.4) for i in range(20)]
    make_midi(folder / "offgrid.mid", [(offgrid, 0, False), (bass, 32, False)], qpm=133.0)
    for key in ("D major", "B minor", "Eb major", "F# minor"):
        pm = pretty_midi.PrettyMIDI(initial_tempo=110.0)
        inst = pretty_midi.Instrument(program=0)
        inst.notes = [pretty_midi.Note(80, p, 0.25 * i, 0.25 * i + 0.2) for i, (p, _) in enumerate(tunes[1])]
        pm.instruments.append(inst)
        number = pretty_midi.key_name_to_key_number(key)
        pm.key_signature_changes.append(pretty_midi.KeySignature(number, 0.0))
        pm.write(str(folder / f"key_{key.replace(' ', '_').replace('#', 's')}.mid"))


def test_both_readers_give_the_same_melodies_and_skip_the_same_files(
    tmp_path, tune_dir, make_tune, make_midi, tunes
):
    write_multitrack_folder(tune_dir, make_midi, tunes)
    broken = write_broken_files(tune_dir, make_tune, make_midi, tunes)
    slow = parse_midi_folder(tune_dir, tmp_path / "c1", MIXED_PARAMS, workers=1, progress=False)
    fast = parse_midi_folder(tune_dir, tmp_path / "c2", SYMUSIC, workers=1, progress=False)

    assert fast.files == slow.files and len(fast) == 27  # 20 tunes, 3 multi-track files, 4 keys
    for name in ("offsets", "pitch", "duration", "qpm", "tonic", "mode", "signature"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    assert {f: r for f, r, _ in fast.skipped} == broken == {f: r for f, r, _ in slow.skipped}
    assert sorted(fast.signature[fast.signature >= 0].tolist()) == [2, 3, 18, 23]  # D, Eb, F#m, Bm
    assert fast.cache_file != slow.cache_file  # each reader its own cache


def test_symusic_reads_the_melody_track_of_a_band(tmp_path, make_midi, tunes):
    write_multitrack_folder(tmp_path, make_midi, tunes)
    melody = load_melody(tmp_path / "band.mid", SYMUSIC)
    assert list(zip(melody.pitch.tolist(), melody.duration.tolist())) == [
        x for p, d in tunes[0] for x in ([(p, d), (128, 4 - d)] if d < 4 else [(p, 4)])
    ]
    assert melody.qpm == pytest.approx(96.0)
    with pytest.raises(SkipFile) as info:
        load_melody(tmp_path / "band.mid", replace(SYMUSIC, max_notes=10))
    assert info.value.reason == "absurd_length"


def test_a_folk_tune_reads_the_same_with_both(folk_dir):
    files = sorted(folk_dir.rglob("*.mid"))[:6]
    assert files
    for path in files:
        a, b = load_melody(path, MIXED_PARAMS), load_melody(path, SYMUSIC)
        assert a.equals(b) and a.qpm == b.qpm and a.meta == b.meta


def test_a_note_repeated_before_its_pitch_ended_ends_at_the_first_note_off(tmp_path):
    """pretty_midi ends every open note of a pitch at its first note-off; symusic alone would pair the
    second note-on with the second note-off, 8 sixteenths later."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)  # a 16th is 0.125 s
    inst = pretty_midi.Instrument(program=0)
    starts_ends = [(60, 0.0, 1.0), (60, 0.5, 2.0), (62, 2.0, 2.5), (64, 2.5, 3.0), (65, 3.0, 3.5)]
    inst.notes = [pretty_midi.Note(90, p, s, e) for p, s, e in starts_ends]
    pm.instruments.append(inst)
    pm.write(str(tmp_path / "repeat.mid"))
    params = replace(MIXED_PARAMS, min_notes=1)
    a = load_melody(tmp_path / "repeat.mid", params)
    b = load_melody(tmp_path / "repeat.mid", replace(params, reader="symusic"))
    expected = [(60, 4), (60, 4), (128, 8), (62, 4), (64, 4), (65, 4)]
    assert list(zip(a.pitch.tolist(), a.duration.tolist())) == expected
    assert a.equals(b)


def test_auto_reads_the_folk_corpus_with_symusic_and_any_other_folder_with_pretty_midi(tmp_path, tune_dir):
    from types import SimpleNamespace

    from melodygen.data.midi_rules import CORPUS_MANIFEST, ExtractionParams

    def reader(folder) -> str:
        return ExtractionParams.from_config(
            SimpleNamespace(**{**vars(MIXED_PARAMS), "reader": "auto", "midi_dir": folder})
        ).reader

    assert reader(tune_dir) == "pretty_midi"  # a folder of your own, as the data=folk group reads it
    (tune_dir / CORPUS_MANIFEST).write_text(
        "collection,file\n"
    )  # what melodygen-corpus leaves beside the tunes
    assert reader(tune_dir) == "symusic"
    assert reader(f"~/{tmp_path.name}-nowhere") == "pretty_midi"
