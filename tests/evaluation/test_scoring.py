"""Scoring melodies one by one from their own start: per-note figures, over notes only and with rests."""

import numpy as np
import pytest
import torch

from melodygen.evaluation.scoring import figures, melody_sums, total
from melodygen.models import MelodyModel
from melodygen.music.melody import REST, Melody

MELODIES = [
    Melody([60, 62, REST, 64, 65], [4, 2, 2, 4, 8]),
    Melody([67, 65, 64, 62, 60, REST, 60], [2, 2, 2, 2, 4, 4, 8]),
    Melody([72, 71], [8, 8]),
]


def model_of(representation: str) -> MelodyModel:
    torch.manual_seed(0)
    return MelodyModel(representation, hidden_size=16, num_layers=1, embedding_dim=8).eval()


@pytest.mark.parametrize("representation", ["categorical", "event", "continuous"])
def test_each_melody_is_scored_alone_whatever_the_batch(representation):
    model = model_of(representation)
    together = melody_sums(model, MELODIES, batch_size=3)  # padded to the longest melody
    alone = [melody_sums(model, [m], batch_size=1)[0] for m in MELODIES]
    for a, b in zip(together, alone):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    overall = figures(total(together))
    assert overall["notes"] == 12 and overall["rests"] == 2  # every element counted once, in its melody
    assert overall["all/bits"] == pytest.approx(overall["all/pitch_bits"] + overall["all/duration_bits"])
    assert {"notes/bits", "notes/pitch_acc"} <= overall.keys()


def test_a_model_that_knows_nothing_scores_the_uniform_bits():
    model = model_of("categorical")
    for parameter in model.parameters():
        parameter.data.zero_()  # every logit 0: each of the 130 pitch and 17 duration classes equally likely
    overall = figures(total(melody_sums(model, MELODIES)))
    assert overall["all/pitch_bits"] == pytest.approx(np.log2(130), rel=1e-5)
    assert overall["all/duration_bits"] == pytest.approx(np.log2(17), rel=1e-5)
    assert overall["notes/bits"] == pytest.approx(np.log2(130) + np.log2(17), rel=1e-5)
