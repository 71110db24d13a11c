"""A checkpoint written by melodygen 0.1.0 (one architecture, the LSTM) still loads, samples and scores
to the numbers that release computed from it (tests/fixtures/release_0_1)."""

import json
from pathlib import Path

import numpy as np
import pytest

from melodygen.evaluation.scoring import melody_sums
from melodygen.generation.sampling import sample_elements
from melodygen.models import MelodyModel, load_model, read_checkpoint
from melodygen.music.melody import Melody

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release_0_1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


@pytest.fixture(scope="module")
def model():
    return load_model(FIXTURE / "lstm_categorical.ckpt")


def test_it_loads_as_an_lstm(model):
    assert "architecture" not in read_checkpoint(FIXTURE / "lstm_categorical.ckpt")["hyper_parameters"]
    assert isinstance(model, MelodyModel) and model.hparams.architecture == "lstm"
    assert model.hparams.hidden_size == 24 and model.net.lstm.num_layers == 2


def test_it_samples_what_it_sampled(model):
    sampled = sample_elements(model, 3, 12, temperature=1.0, seed=0)
    assert [s.tolist() for s in sampled] == EXPECTED["sampled_seed0_temperature1"]
    assert [s.tolist() for s in sample_elements(model, 1, 12, temperature=0.0)] == EXPECTED["greedy"]


def test_it_scores_what_it_scored(model):
    melodies = [
        Melody(np.array(m["pitch"], dtype=np.int16), np.array(m["duration"], dtype=np.int16))
        for m in EXPECTED["melodies"]
    ]
    for got, expected in zip(melody_sums(model, melodies), EXPECTED["melody_sums"], strict=True):
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


def test_the_deprecated_name_still_builds_the_model():
    import melodygen.models

    with pytest.warns(DeprecationWarning, match="MelodyModel"):
        cls = melodygen.models.MelodyLSTM
    assert cls is MelodyModel
