"""Bar lines found from the notes, and the rhythm statistics at them, on MIDI files written with pretty_midi."""

from __future__ import annotations

import numpy as np
import pytest
from meter_files import jig, write, write_signatures

from melodygen.data.midi import load_melody
from melodygen.evaluation.metrics import (
    SAMPLE_STATISTICS,
    SET_FEATURES,
    compare_sets,
    onset_position_histogram,
)
from melodygen.music import meter
from melodygen.music.melody import Melody


@pytest.mark.parametrize("pickup", [0, 1, 2])
def test_a_pickup_written_at_time_0_is_found_and_the_jig_keeps_time(tmp_path, pickup):
    melody = load_melody(write(tmp_path / "jig.mid", jig(pickup), (6, 8)))
    assert melody.meta["time_signature"] == (6, 8)
    assert meter.bar_steps(6, 8) == 12
    assert meter.bar_phase(melody) == 2 * pickup
    assert meter.downbeat_share(melody) == 1.0
    assert meter.across_bar_share(melody) == 0.0
    body = meter.onset_positions(melody)[pickup:]
    assert sorted(set(body.tolist())) == [0, 4, 6, 10]


def brute_force(notes, total, bar, phase):
    """(bar lines with an onset, notes across a bar line) as shares, step by step from the note list."""
    lines = [t for t in range(1, total) if (t - phase) % bar == 0] or [0]
    onsets = {start for _, start, _ in notes}
    across = [
        any((t - phase) % bar == 0 for t in range(start + 1, start + length)) for _, start, length in notes
    ]
    return sum(t in onsets for t in lines) / len(lines), sum(across) / len(notes)


def test_notes_across_the_bar_line_and_empty_downbeats_are_counted_at_the_best_phase(tmp_path):
    # 4/4, with a note tied over a bar line, a bar that starts with a rest and a syncopated bar
    notes = [(60, 0, 8), (62, 8, 4), (64, 12, 4), (65, 16, 8), (64, 24, 4), (62, 28, 8)]
    notes += [(60, 36, 4), (59, 40, 4), (60, 44, 4), (62, 50, 2), (64, 52, 6), (65, 58, 6), (67, 64, 16)]
    melody = load_melody(write(tmp_path / "tied.mid", notes))
    total = 80
    scores = {p: brute_force(notes, total, 16, p) for p in range(16)}
    phase = meter.bar_phase(melody)
    best = max(hit - across for hit, across in scores.values())
    hit, across = scores[phase]
    assert hit - across == pytest.approx(best)
    assert meter.downbeat_share(melody) == pytest.approx(hit)
    assert meter.across_bar_share(melody) == pytest.approx(across)
    assert 0 < across < 1 and hit < 1  # this melody has both, whichever phase is best
    positions = meter.onset_positions(melody)
    assert positions.tolist() == [(start - phase) % 16 for _, start, _ in notes]


def test_a_melody_in_three_is_read_in_bars_of_twelve_sixteenths(tmp_path):
    waltz = [(60 + (i % 3), 4 * i, 8 if i % 3 == 0 else 4) for i in range(0, 24)]
    waltz = [(p, s, 4) for p, s, _ in waltz]  # quarters
    melody = load_melody(write(tmp_path / "waltz.mid", waltz, (3, 4)))
    assert meter.bar_steps(3, 4) == 12
    histogram = onset_position_histogram(melody)
    # quarters in 3/4 start at 0, 4 and 8 sixteenths: bins 0, 16 and 32 of 48
    assert np.flatnonzero(histogram).tolist() == [0, 16, 32]
    assert histogram.sum() == pytest.approx(1.0)


def test_a_melody_without_a_time_signature_is_read_in_four_four():
    melody = Melody([60, 62, 64, 65] * 4, [4] * 16)
    assert meter.time_signature(melody) == (4, 4)
    assert meter.downbeat_share(melody) == 1.0 and meter.across_bar_share(melody) == 0.0


def test_the_rhythm_statistics_are_registered_and_tell_a_jig_from_a_shuffled_one(tmp_path):
    assert {"downbeat_share", "across_bar_share"} <= set(SAMPLE_STATISTICS)
    assert "onset_position_histogram" in SET_FEATURES
    real = [load_melody(write(tmp_path / f"jig{i}.mid", jig(i % 3), (6, 8))) for i in range(6)]
    rng = np.random.default_rng(0)
    shuffled = []
    for m in real:
        order = rng.permutation(len(m))
        shuffled.append(Melody(m.pitch[order], m.duration[order], meta=dict(m.meta)))
    assert np.mean([meter.across_bar_share(m) for m in shuffled]) > 0.0
    same = compare_sets(real, real)["onset_position_histogram"]
    other = compare_sets(shuffled, real)["onset_position_histogram"]
    assert same["overlap"] > other["overlap"]


READERS = ["pretty_midi", "symusic"]


def read(path, reader):
    from melodygen.data.midi import ExtractionParams

    return load_melody(path, ExtractionParams(reader=reader))


@pytest.mark.parametrize("reader", READERS)
def test_a_pickup_placed_late_in_its_bar_is_read_from_the_file(tmp_path, reader):
    # 3/4 from time 0; the tune starts on beat 3 (a quarter pickup at 16th 8), then quarters
    notes = [(67, 8, 4)] + [(60 + i % 5, 12 + 4 * i, 4) for i in range(9)]
    melody = read(write(tmp_path / "late.mid", notes, (3, 4)), reader)
    assert melody.meta["bar_grid"] == ((-8, 3, 4),)  # the bar line 8 sixteenths before the first note
    assert meter.bar_lines(melody) == ((-8, 3, 4),)
    assert meter.element_positions(melody).tolist() == [8, 0, 4, 8, 0, 4, 8, 0, 4, 8]


@pytest.mark.parametrize("reader", READERS)
def test_a_pickup_written_at_time_0_is_read_as_written_and_heard_from_the_notes(tmp_path, reader):
    melody = read(write(tmp_path / "jig.mid", jig(2), (6, 8)), reader)
    assert melody.meta["bar_grid"] == ((0, 6, 8),)  # the file has the pickup start a bar
    assert meter.bar_lines(melody) == ((0, 6, 8),)  # as every MIDI program counts its bars
    assert meter.element_positions(melody).tolist()[:4] == [0, 2, 4, 8]
    assert meter.bar_phase(melody) == 4  # what a listener hears: two eighths of pickup


@pytest.mark.parametrize("reader", READERS)
def test_a_meter_change_restarts_the_bars_in_the_new_meter(tmp_path, reader):
    # two bars of 4/4 in quarters, then 3/4 from 16th 32: two bars of quarters
    notes = [(60 + i % 3, 4 * i, 4) for i in range(14)]
    melody = read(write_signatures(tmp_path / "change.mid", notes, [(4, 4, 0), (3, 4, 32)]), reader)
    assert melody.meta["time_signature"] == (4, 4)
    assert melody.meta["bar_grid"] == ((0, 4, 4), (32, 3, 4))
    assert meter.bar_lines(melody)[1:] == ((32, 3, 4),)
    assert meter.element_positions(melody).tolist() == [0, 4, 8, 12] * 2 + [0, 4, 8] * 2


def test_the_bar_lines_survive_the_parse_cache(tmp_path):
    from melodygen.data.parsed import parse_midi_folder

    folder = tmp_path / "midi"
    folder.mkdir()
    write(folder / "late.mid", [(67, 8, 4)] + [(60 + i % 5, 12 + 4 * i, 4) for i in range(9)], (3, 4))
    write_signatures(
        folder / "change.mid", [(60 + i % 3, 4 * i, 4) for i in range(14)], [(4, 4, 0), (3, 4, 32)]
    )
    first = parse_midi_folder(folder, tmp_path / "cache", workers=1, progress=False)
    again = parse_midi_folder(folder, tmp_path / "cache", workers=1, progress=False)
    assert not first.from_cache and again.from_cache
    for parsed in (first, again):
        grids = {name: parsed.melody(i).meta["bar_grid"] for i, name in enumerate(parsed.files)}
        assert grids == {"change.mid": ((0, 4, 4), (32, 3, 4)), "late.mid": ((-8, 3, 4),)}
