"""The sample statistics on melodies whose answers are known."""

import pytest

from melodygen.melody import REST, Melody
from melodygen.metrics import (
    distinct_pitches,
    mean_abs_interval,
    pitch_range,
    sample_statistics,
    top_pitch_share,
)

SCALE = Melody([60, 62, 64, 65, REST, 67], [2, 2, 2, 2, 2, 4])
DRONE = Melody([64, 64, 64, 65], [1, 1, 1, 1])


def test_a_scale():
    assert distinct_pitches(SCALE) == 5 and pitch_range(SCALE) == 7
    assert top_pitch_share(SCALE) == pytest.approx(0.2)
    assert mean_abs_interval(SCALE) == pytest.approx((2 + 2 + 1 + 2) / 4)  # the rest is skipped


def test_the_average_note():
    assert distinct_pitches(DRONE) == 2 and pitch_range(DRONE) == 1
    assert top_pitch_share(DRONE) == pytest.approx(0.75) and mean_abs_interval(DRONE) == pytest.approx(1 / 3)


def test_statistics_are_averaged_over_melodies():
    stats = sample_statistics([SCALE, DRONE])
    assert stats["distinct_pitches"] == pytest.approx(3.5) and stats["pitch_range"] == pytest.approx(4.0)


def test_a_melody_without_notes():
    empty = Melody([], [])
    assert (
        distinct_pitches(empty),
        top_pitch_share(empty),
        pitch_range(empty),
        mean_abs_interval(empty),
    ) == (
        0,
        0.0,
        0,
        0.0,
    )
