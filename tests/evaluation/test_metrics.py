"""The sample statistics on melodies whose answers are known."""

import numpy as np
import pytest

from melodygen.errors import MelodygenError
from melodygen.evaluation.metrics import (
    distinct_pitches,
    mean_abs_interval,
    pitch_range,
    sample_statistics,
    top_pitch_share,
)
from melodygen.music.melody import REST, Melody

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


C_MAJOR = Melody([60, 62, 64, 65, 67, 69, 71, 72], [4] * 8)  # C4 up to C5
CHROMATIC = Melody(list(range(60, 72)), [2] * 12)


def test_the_c_major_scale():
    from melodygen.evaluation.metrics import (
        interval_histogram,
        note_length_histogram,
        pitch_class_entropy,
        pitch_classes_used,
        scale_consistency,
    )

    assert scale_consistency(C_MAJOR) == 1.0 and pitch_classes_used(C_MAJOR) == 7
    # C twice in 8 notes, six other classes once: 2/8·2 + 6·(1/8·3) bits
    assert pitch_class_entropy(C_MAJOR) == pytest.approx(0.5 + 6 * 0.375)
    steps = interval_histogram(C_MAJOR)
    assert steps[12 + 2] == pytest.approx(5 / 7) and steps[12 + 1] == pytest.approx(2 / 7)
    lengths = note_length_histogram(C_MAJOR)
    assert lengths[3] == 1.0 and lengths.sum() == 1.0  # every note a quarter (4 sixteenths)


def test_the_chromatic_scale_and_a_drone():
    from melodygen.evaluation.metrics import pitch_class_entropy, pitch_entropy, scale_consistency

    assert scale_consistency(CHROMATIC) == pytest.approx(7 / 12)
    assert pitch_class_entropy(CHROMATIC) == pytest.approx(np.log2(12)) == pitch_entropy(CHROMATIC)
    assert pitch_entropy(Melody([64] * 5, [1] * 5)) == 0.0


def test_rests_and_repeated_motifs():
    from melodygen.evaluation.metrics import ngram_repetition, rest_share

    assert rest_share(Melody([60, REST, 62], [4, 8, 4])) == 0.5
    motif = Melody([60, 62, 64, 65] * 3, [2] * 12)
    assert ngram_repetition(motif) == pytest.approx(1 - 4 / 9)  # 9 four-note windows, 4 different
    assert ngram_repetition(C_MAJOR) == 0.0


def _walks(rng, count: int, spread: int) -> list[Melody]:
    """Random melodies stepping around C4 by up to ``spread`` semitones."""
    return [
        Melody(
            np.clip(60 + np.cumsum(rng.integers(-spread, spread + 1, 32)), 30, 100), rng.integers(1, 9, 32)
        )
        for _ in range(count)
    ]


def test_yang_lerch_overlap_is_high_within_one_set_and_low_between_different_sets():
    from melodygen.evaluation.metrics import compare_sets

    rng = np.random.default_rng(0)
    same = _walks(rng, 200, 3)
    within = compare_sets(same[:100], same[100:])
    drones = [Melody([64] * 32, [2] * 32) for _ in range(100)]  # "the average note"
    between = compare_sets(same[:100], drones)
    for feature in ("top_pitch_share", "mean_abs_interval", "interval_histogram", "pitch_class_entropy"):
        assert within[feature]["overlap"] > 0.85, (feature, within[feature]["overlap"])
        assert between[feature]["overlap"] < 0.1, (feature, between[feature]["overlap"])
        assert between[feature]["kl"] > within[feature]["kl"]
    assert len(within["pitch_range"]["intra"]) == 100 * 99 // 2
    with pytest.raises(
        MelodygenError, match="at least 2 reference melodies and 1 generated one; got 1 and 3"
    ):
        compare_sets(same[:1], same[1:4])
    assert len(within["pitch_range"]["inter"]) == 100 * 100
