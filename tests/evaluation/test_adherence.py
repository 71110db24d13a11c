"""Meter, key and style measures on synthetic melodies whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from melodygen.evaluation.adherence import (
    RHYTHM_SIZE,
    STYLE_SIZE,
    LabelClassifier,
    accuracy_by_label,
    estimated_key_name,
    feature_matrix,
    key_name,
    meter_classifier,
    overall,
    rhythm_features,
    style_classifier,
    style_features,
)
from melodygen.music.melody import REST, Melody

D_MAJOR = [62, 64, 66, 67, 69, 71, 73, 74, 76, 78]
A_MINOR = [57, 59, 60, 62, 64, 65, 67, 69, 71, 72]

# Rhythm cells, each filling one group, with how often they are picked.
JIG_HALF_BARS = ([[2, 2, 2], [4, 2], [6]], [0.6, 0.25, 0.15])  # 6/8: two of these per bar
WALTZ_BARS = (
    [[4, 4, 4], [8, 4], [4, 2, 2, 4], [2, 2, 4, 4], [4, 4, 2, 2], [12]],
    [0.3, 0.25, 0.15, 0.1, 0.1, 0.1],
)
COMMON_BARS = (
    [[4, 4, 4, 4], [8, 4, 4], [4, 4, 8], [2, 2, 4, 4, 4], [4, 2, 2, 8], [8, 8], [16], [4, 4, 2, 2, 2, 2]],
    [0.2, 0.15, 0.15, 0.1, 0.1, 0.1, 0.05, 0.15],
)
METERS = {"6/8": (JIG_HALF_BARS, 2), "3/4": (WALTZ_BARS, 1), "4/4": (COMMON_BARS, 1)}


def synthetic(
    rng: np.random.Generator, meter: str, bars: int = 16, scale=D_MAJOR, rests: float = 0.05
) -> Melody:
    """A melody in ``meter`` with random scale pitches, started at a random point (a pickup)."""
    (cells, weights), per_bar = METERS[meter]
    durations: list[int] = []
    for _ in range(bars * per_bar):
        durations += cells[rng.choice(len(cells), p=weights)]
    durations = durations[rng.integers(0, 5) :]
    pitch = rng.choice(scale, size=len(durations))
    pitch = np.where(rng.random(len(durations)) < rests, REST, pitch)
    pitch[0] = scale[0]  # a melody starts at a note
    return Melody(pitch, durations)


def dataset(seed: int, per_meter: int) -> tuple[list[Melody], list[str]]:
    rng = np.random.default_rng(seed)
    melodies, meters = [], []
    for _ in range(per_meter):
        for meter in METERS:
            melodies.append(synthetic(rng, meter, bars=int(rng.integers(8, 24))))
            meters.append(meter)
    return melodies, meters


@pytest.fixture(scope="module")
def meter_data():
    train = dataset(0, 40)
    test = dataset(1, 30)
    return train, test, meter_classifier(*train)


def test_meter_classifier_tells_held_out_meters_apart(meter_data):
    _, (melodies, meters), classifier = meter_data
    assert classifier.labels == ["3/4", "4/4", "6/8"]
    found = classifier.predict(feature_matrix(melodies, rhythm_features))
    counts = accuracy_by_label(meters, found)
    for meter, (correct, total) in counts.items():
        assert total == 30
        assert correct / total >= 0.85, (meter, counts)
    assert overall(meters, found) >= 0.9, counts


def test_rhythm_features_do_not_depend_on_bar_phase_for_a_periodic_rhythm():
    # an endless waltz bar 8,4: starting one element later leaves the autocorrelation close
    a = Melody([60, 62] * 40, [8, 4] * 40)
    b = Melody([62, 60] * 40, [4, 8] * 40)
    fa, fb = rhythm_features(a), rhythm_features(b)
    assert np.allclose(fa, fb, atol=0.05)
    # onsets recur every 12 steps, never at 5
    assert fa[12 - 1] == pytest.approx(1.0)
    assert fa[5 - 1] == 0.0


@pytest.mark.parametrize(
    "melody",
    [
        Melody([60, 62], [2, 4]),
        Melody([60], [16]),
        Melody([60, REST], [1, 1]),
        Melody([], []),
        Melody([60, 60, 60], [16, 16, 16]),
    ],
)
def test_features_are_finite_and_fixed_length_for_tiny_melodies(melody):
    rhythm, style = rhythm_features(melody), style_features(melody)
    assert rhythm.dtype == np.float32 and style.dtype == np.float32
    assert rhythm.shape == (RHYTHM_SIZE,) and style.shape == (STYLE_SIZE,)
    assert np.isfinite(rhythm).all() and np.isfinite(style).all()
    assert np.array_equal(style[:RHYTHM_SIZE], rhythm)


def test_style_features_parts():
    # D E F# D with a rest: intervals +2 +2 -4, pitch classes relative to D
    melody = Melody([62, 64, 66, REST, 62], [4, 4, 4, 4, 4])
    features = style_features(melody)
    intervals = features[RHYTHM_SIZE : RHYTHM_SIZE + 25]
    assert intervals[12 + 2] == pytest.approx(2 / 3) and intervals[12 - 4] == pytest.approx(1 / 3)
    rest_share, pitch_range, density = features[-3:]
    assert rest_share == pytest.approx(4 / 20)
    assert pitch_range == pytest.approx(4 / 24)
    assert density == pytest.approx(4 * 16 / 20 / 8)
    pcs = features[RHYTHM_SIZE + 25 : RHYTHM_SIZE + 37]
    assert pcs.sum() == pytest.approx(1.0)
    assert np.count_nonzero(pcs) == 3


def test_same_seed_gives_identical_classifier_and_round_trips_through_json(meter_data):
    train, (melodies, _), classifier = meter_data
    again = meter_classifier(*train)
    test_features = feature_matrix(melodies, rhythm_features)
    assert np.array_equal(classifier.weight, again.weight) and np.array_equal(classifier.bias, again.bias)
    assert classifier.predict(test_features) == again.predict(test_features)

    state = json.loads(json.dumps(classifier.to_dict()))
    loaded = LabelClassifier.from_dict(state)
    assert loaded.labels == classifier.labels
    assert np.array_equal(loaded.scores(test_features), classifier.scores(test_features))
    assert loaded.predict(test_features) == classifier.predict(test_features)


def test_classifier_on_separable_toy_data_and_input_checks():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(-2, 1, (30, 2)), rng.normal(2, 1, (30, 2))])
    x = np.concatenate([x, np.ones((60, 1))], axis=1)  # a constant column must not break standardizing
    y = ["b"] * 30 + ["a"] * 30
    classifier = LabelClassifier.fit(x, y, steps=50)
    assert classifier.labels == ["a", "b"]
    assert classifier.accuracy(x, y) >= 0.95
    assert classifier.predict([[-5, 0, 1], [5, 0, 1]]) == ["b", "a"]
    proba = classifier.predict_proba(x)
    assert np.allclose(proba.sum(1), 1.0)
    with pytest.raises(ValueError):
        LabelClassifier.fit(x, y[:-1])
    with pytest.raises(ValueError):
        LabelClassifier.fit(np.zeros((0, 3)), [])


def test_style_classifier_tells_collections_apart():
    rng = np.random.default_rng(5)

    def tune(style: str) -> Melody:
        if style == "jig-major":
            return synthetic(rng, "6/8", bars=12, scale=D_MAJOR, rests=0.0)
        return synthetic(rng, "4/4", bars=12, scale=A_MINOR, rests=0.15)

    styles = ["jig-major", "minor-march"] * 30
    melodies = [tune(s) for s in styles]
    classifier = style_classifier(melodies[:40], styles[:40])
    assert classifier.accuracy(feature_matrix(melodies[40:]), styles[40:]) >= 0.9


@pytest.mark.parametrize(
    ("tonic", "mode", "name"),
    [(2, 0, "D major"), (6, 1, "F# minor"), (10, 0, "Bb major"), (3, 1, "Eb minor"), (8, 0, "Ab major")],
)
def test_key_name(tonic, mode, name):
    assert key_name(tonic, mode) == name


def test_key_name_rejects_unknown_mode():
    with pytest.raises(ValueError):
        key_name(0, 2)


def test_estimated_key_name_of_a_d_major_scale():
    up = [62, 64, 66, 67, 69, 71, 73, 74]
    pitch = up + up[-2::-1]
    duration = [8 if p % 12 == 2 else 4 for p in pitch]
    assert estimated_key_name(Melody(pitch, duration)) == "D major"


def test_accuracy_by_label_counts():
    asked = ["6/8", "3/4", "6/8", "4/4", "6/8", "3/4"]
    found = ["6/8", "4/4", "3/4", "4/4", "6/8", "3/4"]
    assert accuracy_by_label(asked, found) == {"3/4": (1, 2), "4/4": (1, 1), "6/8": (2, 3)}
    assert list(accuracy_by_label(asked, found)) == ["3/4", "4/4", "6/8"]
    assert overall(asked, found) == pytest.approx(4 / 6)
    assert accuracy_by_label([], []) == {}
    assert overall([], []) == 0.0
    with pytest.raises(ValueError):
        accuracy_by_label(["a"], [])
