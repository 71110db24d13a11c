"""Note-by-note prediction: known answers, agreement with melodygen-evaluate, adaptation and ensembles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from melodygen.errors import MelodygenError
from melodygen.evaluation.prediction import Adaptation, MelodyLogProbs, bits_per_note, log_probs, mix
from melodygen.evaluation.scoring import figures, melody_sums, total
from melodygen.models import MelodyModel
from melodygen.music.melody import REST, Melody

PHRASE = [(60, 4), (62, 4), (64, 4), (65, 2), (67, 2), (REST, 4), (67, 4), (65, 4), (64, 8)]


def melody(notes) -> Melody:
    pitch, duration = zip(*notes, strict=True)
    return Melody(np.array(pitch, np.int16), np.array(duration, np.int16))


def uniform_model() -> MelodyModel:
    """A model whose every prediction is uniform: all head weights and biases zero."""
    model = MelodyModel("categorical", hidden_size=8, num_layers=1, embedding_dim=4)
    with torch.no_grad():
        for head in model.net.heads:
            head.weight.zero_()
            head.bias.zero_()
    return model


def test_a_uniform_model_costs_log2_of_the_alphabet_per_note():
    model, tune = uniform_model(), melody(PHRASE)
    alphabet = [60, 62, 64, 65, 67]
    scores = bits_per_note(log_probs(model, [tune], alphabet))
    assert scores["pitch_bits"] == pytest.approx(math.log2(5), abs=1e-6)
    assert scores["duration_bits"] == pytest.approx(math.log2(17), abs=1e-6)  # 16 lengths and the end
    assert (scores["notes"], scores["melodies"]) == (8, 1)  # the rest is not a note
    # without an alphabet every class of the pitch head counts: 128 pitches, the rest, the end
    assert bits_per_note(log_probs(model, [tune]))["pitch_bits"] == pytest.approx(math.log2(130), abs=1e-6)


def test_without_an_alphabet_the_figures_are_melodygen_evaluates(tiny_checkpoint):
    rng = np.random.default_rng(3)
    tunes = [
        melody(list(zip(rng.integers(55, 75, 30).tolist(), rng.choice([2, 4, 8], 30).tolist(), strict=True)))
        for _ in range(3)
    ]
    ours = bits_per_note(log_probs(tiny_checkpoint.model, tunes))
    theirs = figures(total(melody_sums(tiny_checkpoint.model, tunes)))
    assert ours["pitch_bits"] == pytest.approx(theirs["notes/pitch_bits"], rel=1e-5)
    assert ours["duration_bits"] == pytest.approx(theirs["notes/duration_bits"], rel=1e-5)


def test_adaptation_learns_a_repeated_phrase_and_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = MelodyModel("categorical", hidden_size=32, num_layers=1, embedding_dim=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tune = melody(PHRASE * 6)
    static = bits_per_note(log_probs(model, [tune]))["pitch_bits"]
    adapted = bits_per_note(log_probs(model, [tune], adaptation=Adaptation(lr=0.5, chunk=4)))["pitch_bits"]
    assert adapted < static - 1.0  # an untrained model learns the phrase while it predicts it
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    again = bits_per_note(log_probs(model, [tune], adaptation=Adaptation(lr=0.5, chunk=4)))["pitch_bits"]
    assert again == pytest.approx(adapted, rel=1e-6)  # each melody starts from the model's own weights


def test_the_first_chunk_is_scored_before_any_adaptation():
    model, tune = uniform_model(), melody(PHRASE)
    scores = log_probs(model, [tune], [60, 62, 64, 65, 67], Adaptation(lr=1.0, chunk=4))[0]
    assert np.allclose(scores.pitch[:4], -math.log2(5), atol=1e-6)
    assert abs(scores.pitch[4] + math.log2(5)) > 0.01  # the fifth is scored by weights changed by one step


def test_an_ensemble_averages_probabilities():
    half = MelodyLogProbs(np.log2([0.5, 0.5]), np.log2([0.25, 1.0]), np.array([True, True]))
    quarter = MelodyLogProbs(np.log2([0.25, 0.125]), np.log2([0.25, 0.5]), np.array([True, True]))
    (mixed,) = mix([[half], [quarter]])
    assert np.allclose(2**mixed.pitch, [0.375, 0.3125])
    assert np.allclose(2**mixed.duration, [0.25, 0.75])
    (same,) = mix([[half]])
    assert np.allclose(same.pitch, half.pitch)


def test_what_cannot_be_scored_is_one_line(tiny_checkpoint):
    with pytest.raises(MelodygenError, match=r"the alphabet lacks pitches these melodies use: \[67\]"):
        log_probs(tiny_checkpoint.model, [melody(PHRASE)], [60, 62, 64, 65])
    event = MelodyModel("event", hidden_size=8, num_layers=1, embedding_dim=4)
    with pytest.raises(MelodygenError, match="needs a categorical model; this one uses the event"):
        log_probs(event, [melody(PHRASE)])
    with pytest.raises(MelodygenError, match="adaptation needs lr > 0"):
        Adaptation(lr=0.0)


def test_the_alphabet_moves_with_a_melody_that_the_model_moves_to_c():
    model = MelodyModel("categorical", hidden_size=8, num_layers=1, embedding_dim=4, transpose_to_c=True,
                       key="notated")  # fmt: skip
    with torch.no_grad():
        for head in model.net.heads:
            head.weight.zero_()
            head.bias.zero_()
    tune = melody([(p + 2, d) if p != REST else (p, d) for p, d in PHRASE])  # in D
    tune.meta["key_signature"] = (2, 0)  # written in D major: moved two semitones down to C
    scores = bits_per_note(log_probs(model, [tune], [62, 64, 66, 67, 69]))
    assert scores["pitch_bits"] == pytest.approx(math.log2(5), abs=1e-6)
