"""Checkpoints written before networks and representations became registry names (a GRU on the continuous
representation, a Transformer on events, a conditioned LSTM on MidiTok's REMI) still load, sample and score
to the numbers the code that wrote them computed (tests/fixtures/before_plugins)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from melodygen.evaluation.scoring import melody_sums
from melodygen.generation.sampling import sample_elements
from melodygen.models import load_model, read_checkpoint
from melodygen.music.melody import Melody

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "before_plugins"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
CHECKPOINTS = ("gru_continuous", "transformer_event", "lstm_remi_conditioned")


def conditions_for(model, rows: int):
    sizes = model.conditioning.sizes
    return torch.ones(rows, len(sizes), dtype=torch.long) if sizes else None


@pytest.fixture(scope="module", params=CHECKPOINTS)
def checkpoint(request):
    if request.param.endswith("remi_conditioned"):
        pytest.importorskip("miditok")
    return request.param, load_model(FIXTURE / f"{request.param}.ckpt")


def test_they_name_their_network_and_representation():
    for name in CHECKPOINTS:
        hparams = read_checkpoint(FIXTURE / f"{name}.ckpt")["hyper_parameters"]
        assert isinstance(hparams["architecture"], str) and isinstance(hparams["representation"], str)
        assert "bar_position" not in hparams  # written before bar positions: the model reads none
        assert load_model(FIXTURE / f"{name}.ckpt").bar_position is False


def test_it_samples_what_it_sampled(checkpoint):
    name, model = checkpoint
    expected = EXPECTED[name]
    sampled = sample_elements(model, 2, 8, temperature=1.0, seed=0, conditions=conditions_for(model, 2))
    assert [s.tolist() for s in sampled] == expected["sampled_seed0_temperature1"]
    greedy = sample_elements(model, 1, 8, temperature=0.0, conditions=conditions_for(model, 1))
    assert [s.tolist() for s in greedy] == expected["greedy"]


def test_it_scores_what_it_scored(checkpoint):
    name, model = checkpoint
    melodies = [
        Melody(np.array(m["pitch"], dtype=np.int16), np.array(m["duration"], dtype=np.int16))
        for m in EXPECTED["melodies"]
    ]
    for got, expected in zip(melody_sums(model, melodies), EXPECTED[name]["melody_sums"], strict=True):
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key
