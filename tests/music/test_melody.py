"""The Melody type and the duration rule of ``normalize``."""

from __future__ import annotations

import numpy as np
import pytest

from melodygen.music.melody import MAX_DURATION, REST, Melody, normalize

R = REST


def norm(elements, max_duration=MAX_DURATION):
    pitch, duration = normalize([p for p, _ in elements], [d for _, d in elements], max_duration)
    assert pitch.dtype == np.int16 and duration.dtype == np.int16
    return list(zip(pitch.tolist(), duration.tolist()))


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        # already normal: untouched
        ([(60, 4), (R, 2), (62, 16)], [(60, 4), (R, 2), (62, 16)]),
        # a note over 16 keeps 16; the remainder becomes a rest, so the next onset stays at step 20
        ([(60, 20), (62, 4)], [(60, 16), (R, 4), (62, 4)]),
        # ... and that remainder merges with a rest that follows
        ([(60, 20), (R, 3), (62, 4)], [(60, 16), (R, 7), (62, 4)]),
        # a remainder over 16 is split like any long rest
        ([(60, 40), (62, 1)], [(60, 16), (R, 16), (R, 8), (62, 1)]),
        # long rests split into pieces of at most 16, the last one holding what is left
        ([(60, 1), (R, 35), (62, 1)], [(60, 1), (R, 16), (R, 16), (R, 3), (62, 1)]),
        ([(60, 1), (R, 32), (62, 1)], [(60, 1), (R, 16), (R, 16), (62, 1)]),
        # adjacent rests merge
        ([(60, 2), (R, 2), (R, 3), (R, 1), (62, 2)], [(60, 2), (R, 6), (62, 2)]),
        # leading and trailing rests are dropped, including a trailing remainder of a long note
        ([(R, 5), (60, 2), (62, 2), (R, 7)], [(60, 2), (62, 2)]),
        ([(60, 2), (62, 30)], [(60, 2), (62, 16)]),
        # zero-length elements vanish, and the rests around them then merge
        ([(60, 2), (R, 1), (61, 0), (R, 2), (62, 2)], [(60, 2), (R, 3), (62, 2)]),
        # only rests → nothing
        ([(R, 4), (R, 40)], []),
        ([], []),
    ],
)
def test_normalize_rule(elements, expected):
    assert norm(elements) == expected


def test_normalize_honours_max_duration():
    assert norm([(60, 10), (R, 9), (62, 4)], max_duration=4) == [
        (60, 4),
        (R, 4),
        (R, 4),
        (R, 4),
        (R, 3),
        (62, 4),
    ]


def test_normalize_keeps_every_onset_in_place():
    """On random input the rule never moves a note: onsets relative to the first note are kept."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        pitch = np.where(rng.random(n) < 0.3, R, rng.integers(0, 128, n))
        duration = rng.integers(0, 50, n)
        out_p, out_d = normalize(pitch, duration)

        keep = (pitch != R) & (duration > 0)
        onsets = (np.cumsum(duration) - duration)[keep]
        out_onsets = (np.cumsum(out_d) - out_d)[out_p != R]
        np.testing.assert_array_equal(out_onsets, onsets - onsets[0] if onsets.size else onsets)
        np.testing.assert_array_equal(out_p[out_p != R], pitch[keep])
        if out_p.size:
            assert out_d.min() >= 1 and out_d.max() <= MAX_DURATION
            assert out_p[0] != R and out_p[-1] != R
            rests = out_p == R
            long_rest_pieces = rests[1:] & rests[:-1]
            # two rests in a row only where the first is a full 16-step piece of a split rest
            assert (out_d[:-1][long_rest_pieces] == MAX_DURATION).all()


def test_melody_holds_int16_and_counts_notes():
    melody = Melody([60, R, 62], [4, 2, 20])
    assert melody.pitch.dtype == np.int16 and melody.duration.dtype == np.int16
    assert len(melody) == 3 and melody.num_notes == 2 and melody.total_steps == 26
    np.testing.assert_array_equal(melody.is_note, [True, False, True])
    assert melody.equals(Melody([60, R, 62], [4, 2, 20], qpm=90.0))
    assert not melody.equals(Melody([60, R, 62], [4, 2, 19]))


def test_melody_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="must be equal 1-D"):
        Melody([60, 62], [4])
    with pytest.raises(ValueError):
        Melody([[60]], [[4]])


def test_interval_runs_are_the_same_in_any_key_and_skip_rests():

    tune = Melody([60, 62, REST, 64, 65, 67], [4, 4, 2, 4, 4, 8])
    assert tune.interval_runs(2) == {(2, 2), (2, 1), (1, 2)}
    up = Melody([p + 5 if p != REST else p for p in tune.pitch], tune.duration)
    assert up.interval_runs(3) == tune.interval_runs(3) == {(2, 2, 1), (2, 1, 2)}
    assert tune.interval_runs(5) == set()  # four intervals: no run of five


def test_the_content_hash_sees_notes_and_durations_only():

    tune = Melody([60, 62, 64], [4, 4, 8], qpm=90.0, source="a.mid")
    assert tune.content_hash() == Melody([60, 62, 64], [4, 4, 8], qpm=140.0, source="b.mid").content_hash()
    assert tune.content_hash() != Melody([60, 62, 64], [4, 4, 4]).content_hash()
    assert tune.content_hash() != Melody([61, 63, 65], [4, 4, 8]).content_hash()
