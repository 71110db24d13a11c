"""MIDI file → Melody: the extraction rule, every skip reason, and a folder of mixed files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
from midi_files import MIXED_PARAMS, corrupt_second_track, write_broken_files

from melodygen.data.midi import SKIP_REASONS, ExtractionParams, SkipFile, load_melody
from melodygen.data.parsed import parse_midi_folder
from melodygen.errors import MelodygenError
from melodygen.music.melody import REST, Melody

R = REST


def elements(melody: Melody) -> list[tuple[int, int]]:
    return list(zip(melody.pitch.tolist(), melody.duration.tolist()))


def skip_reason(path: Path, params: ExtractionParams | None = None) -> str:
    with pytest.raises(SkipFile) as info:
        load_melody(path, params)
    assert info.value.reason in SKIP_REASONS
    return info.value.reason


# --- the grid ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("qpm", [90.0, 150.0])
def test_grid_is_the_same_at_any_tempo(tmp_path, make_tune, tunes, qpm):
    tune = tunes[1]
    melody = load_melody(make_tune(tmp_path / "t.mid", tune, qpm=qpm, rest_before={4: 2, 9: 6}))
    expected = tune[:4] + [(R, 2)] + tune[4:9] + [(R, 6)] + tune[9:]
    assert elements(melody) == expected
    assert melody.qpm == pytest.approx(qpm, rel=1e-5)  # MIDI stores whole µs per beat
    assert melody.source.endswith("t.mid")


def test_grid_follows_a_tempo_change_inside_the_file(tmp_path, tunes):
    """Ticks, not seconds, decide the grid: a tempo change halfway must not stretch the 16ths."""
    tpb = 480
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0)])
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(77), time=tpb * 8))
    notes = mido.MidiTrack()
    for pitch, steps in tunes[0]:
        notes.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        notes.append(mido.Message("note_off", note=pitch, velocity=0, time=steps * tpb // 4))
    midi.tracks += [meta, notes]
    midi.save(tmp_path / "change.mid")

    melody = load_melody(tmp_path / "change.mid")
    assert elements(melody) == tunes[0]
    assert melody.qpm == pytest.approx(120.0)


def test_onsets_off_the_grid_round_to_the_nearest_sixteenth(tmp_path, make_midi):
    jitter = [0.0, 0.3, -0.3, 0.2, -0.1, 0.4, 0.0, -0.4, 0.1]
    notes = [(60 + i, 4 * i + j, 4.5) for i, j in enumerate(jitter)]  # legato: no rests
    melody = load_melody(make_midi(tmp_path / "j.mid", [(notes, 0, False)]))
    assert melody.pitch.tolist() == [60 + i for i in range(len(jitter))]
    onsets = np.cumsum(melody.duration) - melody.duration
    assert onsets.tolist() == [4 * i for i in range(len(jitter))]


def test_gaps_become_rests_and_long_gaps_split(tmp_path, make_tune, tunes):
    tune = tunes[2]
    melody = load_melody(make_tune(tmp_path / "g.mid", tune, rest_before={3: 1, 8: 20}))
    assert elements(melody) == tune[:3] + [(R, 1)] + tune[3:8] + [(R, 16), (R, 4)] + tune[8:]


def test_skyline_keeps_the_highest_note_of_a_chord(tmp_path, make_midi):
    # Each onset: the accompaniment chord is written before the melody note and lasts longer.
    top = [(72, 4), (76, 2), (79, 2), (77, 4), (76, 4), (74, 2), (72, 2), (71, 4), (72, 8)]
    notes, t = [], 0
    for pitch, steps in top:
        notes += [(pitch - 12, t, steps + 3), (pitch - 5, t, steps + 1), (pitch, t, steps)]
        t += steps
    melody = load_melody(make_midi(tmp_path / "chords.mid", [(notes, 0, False)]))
    assert elements(melody) == top


def test_overlapping_notes_are_cut_at_the_next_onset(tmp_path, make_midi):
    # Legato: every note rings 3 sixteenths into the next; the eighth note sounds through two onsets.
    starts = [0, 4, 6, 8, 12, 16, 18, 20, 24]
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 74]
    notes = [(p, s, 7) for p, s in zip(pitches, starts)]
    notes[7] = (72, 20, 12)
    melody = load_melody(make_midi(tmp_path / "legato.mid", [(notes, 0, False)]))
    expected_durations = np.diff(starts).tolist() + [7]
    assert elements(melody) == list(zip(pitches, expected_durations))


def test_notes_longer_than_a_whole_note_are_cut_and_followed_by_a_rest(tmp_path, make_tune):
    tune = [(60, 4), (62, 24), (64, 4), (65, 40), (67, 2), (69, 2), (71, 2), (72, 17)]
    melody = load_melody(make_tune(tmp_path / "long.mid", tune))
    assert elements(melody) == [
        (60, 4),
        (62, 16),
        (R, 8),
        (64, 4),
        (65, 16),
        (R, 16),
        (R, 8),
        (67, 2),
        (69, 2),
        (71, 2),
        (72, 16),
    ]


def test_very_short_notes_last_one_sixteenth(tmp_path, make_midi):
    # Staccato notes of a fifth of a 16th, one per quarter; the last two share a 16th with nothing.
    notes = [(60 + i, 4 * i, 0.2) for i in range(8)] + [(70, 32.6, 0.1)]
    melody = load_melody(make_midi(tmp_path / "stacc.mid", [(notes, 0, False)]))
    expected = []
    for i in range(8):
        expected += [(60 + i, 1), (R, 3)]
    assert elements(melody) == expected[:-1] + [(R, 4), (70, 1)]


# --- which track -------------------------------------------------------------------------------------


def melody_and_bass(tune):
    """The tune's notes, and a busier bass line under it (eighth notes two octaves down)."""
    melody, t = [], 0
    for pitch, steps in tune:
        melody.append((pitch, t, steps))
        t += steps
    bass = [(tune[(s // 8) % len(tune)][0] - 24, s, 2) for s in range(0, t, 2)]
    return melody, bass


def test_drum_tracks_are_dropped(tmp_path, make_midi, tunes):
    melody, _ = melody_and_bass(tunes[0])
    # Busy drums with high note numbers would win on both counts if they were considered.
    drums = [(96, s, 1) for s in range(0, 64)]
    path = make_midi(tmp_path / "d.mid", [(drums, 0, True), (melody, 0, False)])
    assert elements(load_melody(path)) == tunes[0]


def test_the_highest_busy_track_is_the_melody(tmp_path, make_midi, tunes):
    melody, bass = melody_and_bass(tunes[0])
    assert len(bass) > len(melody)  # the bass is busier, and written first
    path = make_midi(tmp_path / "two.mid", [(bass, 32, False), (melody, 73, False)])
    assert elements(load_melody(path)) == tunes[0]
    # ... in either track order
    path = make_midi(tmp_path / "two_b.mid", [(melody, 73, False), (bass, 32, False)])
    assert elements(load_melody(path)) == tunes[0]


def test_a_sparse_high_track_is_not_the_melody(tmp_path, make_midi, tunes):
    melody, _ = melody_and_bass(tunes[1])
    # A held pad an octave above, with fewer than a quarter of the melody's onsets.
    pad = [(98, 0, 32), (97, 32, 32)]
    assert len(pad) < 0.25 * len(melody)
    path = make_midi(tmp_path / "pad.mid", [(pad, 48, False), (melody, 0, False)])
    assert elements(load_melody(path)) == tunes[1]
    # Once the pad is busy enough to count, it is chosen: the threshold is what decides.
    busy_pad = [(98, s, 4) for s in range(0, 64, 4)]
    assert len(busy_pad) >= 0.25 * len(melody)
    path = make_midi(tmp_path / "busy_pad.mid", [(busy_pad, 48, False), (melody, 0, False)])
    assert set(load_melody(path).pitch.tolist()) == {98}


# --- every skip reason from a real file --------------------------------------------------------------


def test_directory_named_like_a_midi_file_is_unreadable(tmp_path):
    (tmp_path / "x.mid").mkdir()
    assert skip_reason(tmp_path / "x.mid") == "unreadable"


def test_a_symlink_to_nothing_or_in_a_loop_is_a_broken_link(tmp_path):
    (tmp_path / "gone.mid").symlink_to(tmp_path / "missing.mid")
    (tmp_path / "a.mid").symlink_to(tmp_path / "b.mid")
    (tmp_path / "b.mid").symlink_to(tmp_path / "a.mid")
    for name, detail in (
        ("gone.mid", f"it is a symbolic link to {tmp_path / 'missing.mid'}, which is not there"),
        ("a.mid", "it is a symbolic link in a loop"),
    ):
        with pytest.raises(SkipFile) as skip:
            load_melody(tmp_path / name)
        assert (skip.value.reason, skip.value.detail) == ("broken_link", detail)


def test_broken_links_in_a_folder_are_reported_not_dropped(tmp_path, tune_dir):
    (tune_dir / "gone.mid").symlink_to(tmp_path / "missing.mid")
    (tune_dir / "loop.mid").symlink_to(tune_dir / "loop.mid")
    parsed = parse_midi_folder(tune_dir, tmp_path / "cache", workers=1, progress=False)
    assert len(parsed) == 20
    assert sorted((f, r) for f, r, _ in parsed.skipped) == [
        ("gone.mid", "broken_link"),
        ("loop.mid", "broken_link"),
    ]


def test_file_whose_read_fails_is_unreadable(tmp_path):
    # Tests run as root, so permissions block nothing; reading offset 0 of a process's memory fails.
    if not os.path.exists("/proc/self/mem"):
        pytest.skip("needs /proc/self/mem")
    (tmp_path / "mem.mid").symlink_to("/proc/self/mem")
    assert (tmp_path / "mem.mid").is_file()
    assert skip_reason(tmp_path / "mem.mid") == "unreadable"


def test_text_file_is_not_midi(tmp_path):
    path = tmp_path / "notes.mid"
    path.write_text("X:1\nT:not a midi file\nK:G\nGABc|\n")
    assert skip_reason(path) == "not_midi"


def test_file_cut_in_half_is_truncated(tmp_path, make_tune, tunes):
    data = make_tune(tmp_path / "whole.mid", tunes[0]).read_bytes()
    (tmp_path / "half.mid").write_bytes(data[: len(data) // 2])
    assert skip_reason(tmp_path / "half.mid") == "truncated"


@pytest.mark.parametrize("how", ["chunk name", "length byte"])
def test_bad_chunk_is_corrupt(tmp_path, make_tune, tunes, how):
    data = make_tune(tmp_path / "good.mid", tunes[0]).read_bytes()
    assert data.count(b"MTrk") == 2
    (tmp_path / "bad.mid").write_bytes(corrupt_second_track(data, how))
    assert skip_reason(tmp_path / "bad.mid") == "corrupt"


def test_type_2_file_is_corrupt(tmp_path, make_tune, tunes):
    data = make_tune(tmp_path / "good.mid", tunes[0]).read_bytes()
    (tmp_path / "type2.mid").write_bytes(data[:8] + (2).to_bytes(2, "big") + data[10:])
    assert skip_reason(tmp_path / "type2.mid") == "corrupt"


def test_file_over_the_byte_limit_is_too_large(tmp_path, make_tune, tunes):
    path = make_tune(tmp_path / "t.mid", tunes[0])
    size = path.stat().st_size
    assert skip_reason(path, ExtractionParams(max_file_bytes=size - 1)) == "too_large"
    assert len(load_melody(path, ExtractionParams(max_file_bytes=size))) == len(tunes[0])


def test_too_many_beats_or_notes_is_absurd_length(tmp_path, make_tune, tunes):
    path = make_tune(tmp_path / "t.mid", tunes[0])
    beats = sum(steps for _, steps in tunes[0]) / 4  # 11 beats
    assert skip_reason(path, ExtractionParams(max_beats=int(beats) - 1)) == "absurd_length"
    assert skip_reason(path, ExtractionParams(max_notes=len(tunes[0]) - 1)) == "absurd_length"
    load_melody(path, ExtractionParams(max_beats=int(beats) + 1, max_notes=len(tunes[0])))


def test_a_long_score_at_a_fine_resolution_is_kept_and_placed_exactly(tmp_path):
    """Like a score exported by music21: 10,080 ticks per beat and 12.9 million ticks, past the 10 million
    ticks pretty_midi takes; the limits are in beats, so it is read at a coarser resolution instead."""
    midi = mido.MidiFile(type=1, ticks_per_beat=10_080)
    track = mido.MidiTrack()
    pitches = [60, 62, 64, 65, 67, 69, 71, 72]
    for i in range(1_280):  # quarter notes, the last ending at 1,280 beats = 12,902,400 ticks
        track.append(mido.Message("note_on", note=pitches[i % 8], velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitches[i % 8], velocity=0, time=10_080))
    midi.tracks.append(track)
    midi.save(tmp_path / "score.mid")
    assert 1_280 * 10_080 > pretty_midi.pretty_midi.MAX_TICK
    melody = load_melody(tmp_path / "score.mid")
    assert melody.pitch.tolist() == [pitches[i % 8] for i in range(1_280)]
    assert set(melody.duration.tolist()) == {4}  # every note a quarter: four 16ths


@pytest.mark.parametrize("with_instrument", [True, False])
def test_file_without_notes_is_no_notes(tmp_path, with_instrument):
    pm = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    if with_instrument:
        pm.instruments.append(pretty_midi.Instrument(program=40))
    pm.write(str(tmp_path / "empty.mid"))
    assert skip_reason(tmp_path / "empty.mid") == "no_notes"


def test_drum_only_file_is_drums_only(tmp_path, make_tune):
    path = make_tune(tmp_path / "drums.mid", [(36, 2), (42, 2), (38, 2), (42, 2)] * 8, is_drum=True)
    assert skip_reason(path) == "drums_only"


def test_few_notes_is_too_short(tmp_path, make_tune, tunes):
    path = make_tune(tmp_path / "short.mid", tunes[0][:7])
    assert skip_reason(path) == "too_short"
    assert len(load_melody(path, ExtractionParams(min_notes=7))) == 7


def test_chord_tones_do_not_count_towards_min_notes(tmp_path, make_midi):
    chords = [(p + off, 2 * i, 2) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71]) for off in (0, 4, 7)]
    path = make_midi(tmp_path / "chords.mid", [(chords, 0, False)])
    assert len(chords) == 21
    assert skip_reason(path) == "too_short"


# --- a folder of good and broken files ---------------------------------------------------------------


def test_mixed_folder_keeps_every_good_melody_and_accounts_for_every_broken_file(
    tmp_path, tune_dir, make_tune, make_midi, tunes
):
    good = sorted(p.name for p in tune_dir.iterdir())
    broken = write_broken_files(tune_dir, make_tune, make_midi, tunes)
    parsed = parse_midi_folder(tune_dir, tmp_path / "cache", MIXED_PARAMS, workers=1, progress=False)

    assert parsed.files == good
    for i, name in enumerate(parsed.files):
        assert parsed.melody(i).equals(load_melody(tune_dir / name, MIXED_PARAMS))
    assert {f: reason for f, reason, _ in parsed.skipped} == broken
    summary = parsed.summary()
    assert summary["kept"] == len(good) and summary["skipped"] == len(broken)
    assert sum(summary["skipped_by_reason"].values()) == len(broken)

    parsed.write_report(tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    assert [k["file"] for k in report["kept_files"]] == good
    assert {s["file"]: s["reason"] for s in report["skipped_files"]} == broken


def test_parallel_parse_equals_serial_parse(tmp_path, make_tune, make_midi, tunes):
    rng = np.random.default_rng(3)
    folder = tmp_path / "many"
    for i in range(70):  # above the pool threshold
        shift = int(rng.integers(-5, 6))
        make_tune(folder / f"t{i:03d}.mid", [(p + shift, d) for p, d in tunes[i % 3]], qpm=80.0 + i)
    broken = write_broken_files(folder, make_tune, make_midi, tunes)

    serial = parse_midi_folder(folder, tmp_path / "c1", MIXED_PARAMS, workers=1, progress=False)
    parallel = parse_midi_folder(folder, tmp_path / "c2", MIXED_PARAMS, workers=2, progress=False)
    assert parallel.files == serial.files and len(serial) == 70
    for name in ("offsets", "pitch", "duration", "qpm", "tonic", "mode"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))
    assert parallel.skipped == serial.skipped
    assert {f: r for f, r, _ in parallel.skipped} == broken


def test_folder_of_broken_files_names_the_folder(tmp_path, make_tune, make_midi, tunes):
    folder = tmp_path / "all_broken"
    folder.mkdir()
    broken = write_broken_files(folder, make_tune, make_midi, tunes)
    with pytest.raises(MelodygenError, match="all_broken") as info:
        parse_midi_folder(folder, tmp_path / "cache", MIXED_PARAMS, workers=1, progress=False)
    assert "no usable melody" in str(info.value) and "\n" not in str(info.value)
    parsed = parse_midi_folder(
        folder, tmp_path / "cache", MIXED_PARAMS, workers=1, progress=False, require_melodies=False
    )
    assert len(parsed) == 0 and parsed.pitch.size == 0
    assert {f: r for f, r, _ in parsed.skipped} == broken


def test_missing_or_empty_folder_is_a_user_error(tmp_path):
    with pytest.raises(MelodygenError, match="nowhere.*is not a folder"):
        parse_midi_folder(tmp_path / "nowhere", tmp_path / "cache", progress=False)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no midi here")
    with pytest.raises(MelodygenError, match="no MIDI files.*empty"):
        parse_midi_folder(tmp_path / "empty", tmp_path / "cache", progress=False)
