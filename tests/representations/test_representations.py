"""The three representations: round trips on real melodies, the post's scaling, sampling, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import REPRESENTATIONS

from melodygen.data.midi import load_melody
from melodygen.errors import MelodygenError
from melodygen.music.melody import MAX_DURATION, REST, Melody
from melodygen.representations import (
    Categorical,
    Continuous,
    Event,
    decode_norm,
    encode_norm,
    get_representation,
    sample_logits,
)
from melodygen.representations.base import bits

NAMES = sorted(REPRESENTATIONS)


@pytest.fixture
def melodies(tmp_path, tune_dir, make_tune, tunes) -> list[Melody]:
    """Real melodies read back from MIDI: the 20 fixture tunes plus ones with rests, long notes, extremes."""
    out = [load_melody(p) for p in sorted(tune_dir.iterdir())]
    out.append(load_melody(make_tune(tmp_path / "rests.mid", tunes[0], rest_before={2: 1, 5: 16, 9: 33})))
    out.append(load_melody(make_tune(tmp_path / "long.mid", [(60, 30)] + tunes[1] + [(50, 16)])))
    extremes = [(0, 1), (127, 16), (1, 2), (126, 3), (64, 8), (0, 4), (127, 1), (2, 5), (120, 16)]
    out.append(load_melody(make_tune(tmp_path / "extremes.mid", extremes, rest_before={3: 3})))
    assert any((m.pitch == REST).any() for m in out)
    assert any((m.duration == MAX_DURATION).any() for m in out)
    return out


def encoded_targets(rep, melody: Melody) -> torch.Tensor:
    """``(1, N, F)`` targets of one melody, as the model sees them."""
    return torch.as_tensor(rep.encode(melody))[None]


# --- round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_on_real_melodies(name, melodies):
    rep = get_representation(name)
    for melody in melodies:
        encoded = rep.encode(melody)
        assert encoded.dtype == rep.dtype and encoded.ndim == 2 and encoded.shape[1] == rep.num_features
        assert rep.decode(encoded).equals(melody)
        # a start element in front (as in a training stream) is ignored
        assert rep.decode(np.concatenate([rep.start[None], encoded])).equals(melody)


@pytest.mark.parametrize("name", NAMES)
def test_start_element_is_not_a_real_element(name, melodies):
    rep = get_representation(name)
    every = np.concatenate([rep.encode(m) for m in melodies])
    assert not (every == rep.start).all(axis=1).any()
    # and it carries no pitch, so transposition leaves it alone
    assert rep.pitch_of(torch.as_tensor(rep.start[None])).tolist() == [-1]


@pytest.mark.parametrize("name", NAMES)
def test_pitch_of_and_with_pitch(name, melodies):
    rep = get_representation(name)
    melody = melodies[-3]  # the one with rests
    x = torch.as_tensor(rep.encode(melody))
    pitch = rep.pitch_of(x)
    pitched = pitch >= 0
    if name == "event":
        onsets = torch.as_tensor(np.r_[0, np.cumsum(melody.duration[:-1])])
        expected = torch.full((melody.total_steps,), -1, dtype=torch.long)
        expected[onsets] = torch.as_tensor(np.where(melody.is_note, melody.pitch, -1), dtype=torch.long)
        assert pitch.tolist() == expected.tolist()
    else:
        assert pitch.tolist() == np.where(melody.is_note, melody.pitch, -1).tolist()
    moved = rep.with_pitch(x, pitch + 3)
    assert torch.equal(moved[~pitched], x[~pitched])
    assert torch.equal(rep.pitch_of(moved)[pitched], pitch[pitched] + 3)
    shifted = rep.decode(moved.numpy())
    np.testing.assert_array_equal(shifted.pitch, np.where(melody.is_note, melody.pitch + 3, REST))
    np.testing.assert_array_equal(shifted.duration, melody.duration)


def test_categorical_and_event_layouts():
    melody = Melody([60, REST, 62], [3, 2, 1])
    assert Categorical().encode(melody).tolist() == [[60, 2], [REST, 1], [62, 0]]
    assert Categorical().start.tolist() == [129, 16]
    assert Event().encode(melody)[:, 0].tolist() == [62, 0, 0, 1, 0, 64]
    assert Event().start.tolist() == [130]


def test_unknown_representation_is_a_user_error():
    with pytest.raises(
        MelodygenError, match=r"^data.representation=midi is not allowed: choose one of .*categorical"
    ):
        get_representation("midi")


# --- the blog post's scaling -------------------------------------------------------------------------


def test_encode_norm_matches_the_post():
    values = encode_norm([64, 0, 128, 96, 32], [8, 16, 0, 4, 12])
    assert values.dtype == np.float32 and values.shape == (5, 2)
    np.testing.assert_array_equal(values[:, 0], [0.0, -1.0, 1.0, 0.5, -0.5])
    np.testing.assert_array_equal(values[:, 1], [0.0, 1.0, -1.0, -0.5, 0.5])
    np.testing.assert_array_equal(Continuous().start, [0.0, -1.0])
    # a rest is pitch 128
    assert Continuous().encode(Melody([60, REST, 62], [1, 1, 1]))[1, 0] == 1.0


def test_decode_norm_rounds_and_clips_to_the_post_ranges():
    pitch, duration = decode_norm(
        [[0.0, 0.0], [-1.0, 1.0], [1.0, -1.0], [0.51 / 64, 0.49 / 8], [3.0, -2.0], [-3.0, 2.0]]
    )
    assert pitch.tolist() == [64, 0, 128, 65, 128, 0]
    assert duration.tolist() == [8, 16, 0, 8, 0, 16]
    p = np.arange(129)
    d = np.arange(17)
    back_p, _ = decode_norm(encode_norm(p, np.zeros_like(p)))
    _, back_d = decode_norm(encode_norm(np.zeros_like(d), d))
    np.testing.assert_array_equal(back_p, p)
    np.testing.assert_array_equal(back_d, d)


def test_continuous_sample_is_the_rounded_prediction():
    pred = torch.tensor([[0.1 / 64, 0.0], [3.0 / 64, -0.95], [1.0, -2.0]])
    out = Continuous().sample([pred])
    pitch, duration = decode_norm(out.numpy())
    assert pitch.tolist() == [64, 67, 128]
    assert duration.tolist() == [8, 1, 1]  # a duration of 0 would be a start element: at least 1


# --- sampling ----------------------------------------------------------------------------------------


def test_sample_logits_greedy_paths():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 40, generator=g)
    best = logits.argmax(-1)
    assert torch.equal(sample_logits(logits, temperature=0.0), best)
    assert torch.equal(sample_logits(logits, temperature=5.0, top_k=1, generator=g), best)
    assert torch.equal(sample_logits(logits, temperature=5.0, top_p=1e-6, generator=g), best)
    # without a restriction, a hot temperature does not give the argmax
    assert not torch.equal(sample_logits(logits, temperature=5.0, generator=g), best)


def test_top_p_zero_keeps_the_top_class():
    logits = torch.tensor([[0.0, 2.0, 1.0], [5.0, 0.0, 0.0]])
    assert sample_logits(logits, top_p=0.0).tolist() == [1, 0]


def test_sample_logits_frequencies_follow_top_k_and_top_p():
    probs = torch.tensor([0.4, 0.35, 0.15, 0.1])
    logits = probs.log().expand(20_000, -1)
    g = torch.Generator().manual_seed(1)
    counts = torch.bincount(sample_logits(logits, generator=g), minlength=4) / 20_000
    assert torch.allclose(counts, probs, atol=0.015)
    top_k = torch.bincount(sample_logits(logits, top_k=2, generator=g), minlength=4) / 20_000
    assert torch.allclose(top_k, torch.tensor([0.4, 0.35, 0, 0]) / 0.75, atol=0.015)
    # mass before class 2 is 0.75 ≥ 0.7: classes 2 and 3 go; before class 1 is 0.4 < 0.7: it stays
    top_p = torch.bincount(sample_logits(logits, top_p=0.7, generator=g), minlength=4) / 20_000
    assert torch.allclose(top_p, torch.tensor([0.4, 0.35, 0, 0]) / 0.75, atol=0.015)
    # temperature 0.5 squares the probabilities before renormalizing
    sharp = torch.bincount(sample_logits(logits, temperature=0.5, generator=g), minlength=4) / 20_000
    assert torch.allclose(sharp, probs**2 / (probs**2).sum(), atol=0.015)


def test_seeded_sampling_is_reproducible():
    logits = torch.randn(64, 130, generator=torch.Generator().manual_seed(2))

    def draw(seed):
        return sample_logits(logits, 1.0, 10, 0.9, torch.Generator().manual_seed(seed))

    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


@pytest.mark.parametrize("name", ["categorical", "event"])
def test_sample_gives_an_element_that_decodes(name):
    rep = get_representation(name)
    g = torch.Generator().manual_seed(3)
    outputs = [torch.randn(8, size, generator=g) for size in rep.output_sizes]
    element = rep.sample(outputs, temperature=0.0)
    assert element.shape == (8, rep.num_features)
    # argmax over every class but the boundary, which is never sampled
    heads = [o[:, :-1].argmax(-1) for o in outputs]
    assert torch.equal(element, torch.stack(heads, -1))
    boundary_first = [o.clone() for o in outputs]
    for o in boundary_first:
        o[:, -1] = 100.0
    drawn = rep.sample(boundary_first, 1.0, 0, 1.0, torch.Generator().manual_seed(4))
    assert not rep.is_boundary(drawn).any()
    seeded = rep.sample(outputs, 1.0, 0, 1.0, torch.Generator().manual_seed(4))
    assert torch.equal(seeded, rep.sample(outputs, 1.0, 0, 1.0, torch.Generator().manual_seed(4)))


# --- metrics -----------------------------------------------------------------------------------------


def one_hot_logits(rep, target: torch.Tensor, scale: float = 50.0) -> list[torch.Tensor]:
    if rep.name == "continuous":
        return [target.clone()]
    return [
        scale * torch.nn.functional.one_hot(target[..., i], size).float()
        for i, size in enumerate(rep.output_sizes)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_perfect_prediction_costs_no_bits(name, melodies):
    rep = get_representation(name)
    target = encoded_targets(rep, melodies[-3])
    metrics = rep.note_metrics(one_hot_logits(rep, target), target)
    notes = len(melodies[-3])  # every note and rest is one "note" of the metrics
    assert metrics["notes"].item() == notes
    assert metrics["pitch_correct"].item() == notes
    assert metrics["pitch_bits"].item() == pytest.approx(0.0, abs=1e-3)
    assert metrics["duration_bits"].item() == pytest.approx(0.0, abs=1e-3)
    assert rep.loss(one_hot_logits(rep, target), target).item() == pytest.approx(0.0, abs=1e-3)


def test_wrong_prediction_is_counted_wrong(melodies):
    rep = Categorical()
    target = encoded_targets(rep, melodies[0])
    wrong = target.clone()
    wrong[..., 0] = (wrong[..., 0] + 1) % 129
    metrics = rep.note_metrics(one_hot_logits(rep, wrong), target)
    assert metrics["pitch_correct"].item() == 0
    assert metrics["pitch_bits"].item() / metrics["notes"].item() > 50


def test_uniform_logits_cost_log2_of_the_classes(melodies):
    melody = melodies[-3]
    cat = Categorical()
    target = encoded_targets(cat, melody)
    # output classes: 128 pitches + rest + the boundary; 16 durations + the boundary
    m = cat.note_metrics([torch.zeros(*target.shape[:2], s) for s in cat.output_sizes], target)
    assert m["pitch_bits"].item() / m["notes"].item() == pytest.approx(math.log2(130), rel=1e-5)
    assert m["duration_bits"].item() / m["notes"].item() == pytest.approx(math.log2(17), rel=1e-5)

    ev = Event()
    target = encoded_targets(ev, melody)
    m = ev.note_metrics([torch.zeros(*target.shape[:2], 131)], target)
    steps, notes = melody.total_steps, len(melody)
    assert m["notes"].item() == notes
    # every step costs log2(131) in all; the pitch part is log2(130) at each onset
    assert m["pitch_bits"].item() / notes == pytest.approx(math.log2(130), rel=1e-5)
    total = m["pitch_bits"].item() + m["duration_bits"].item()
    assert total == pytest.approx(steps * math.log2(131), rel=1e-5)


def test_event_bits_split_the_cross_entropy_exactly(melodies):
    ev = Event()
    target = torch.cat([encoded_targets(ev, m)[:, :300] for m in melodies[-3:]], dim=1)
    logits = 3.0 * torch.randn(*target.shape[:2], 131, generator=torch.Generator().manual_seed(5))
    m = ev.note_metrics([logits], target)
    total = bits(logits, target[..., 0]).sum().item()
    assert m["pitch_bits"].item() + m["duration_bits"].item() == pytest.approx(total, rel=1e-4)
    # notes and rests starting within the first 300 steps of each melody
    onsets = sum(int(((np.cumsum(mel.duration) - mel.duration) < 300).sum()) for mel in melodies[-3:])
    assert m["notes"].item() == onsets
    # the loss is the mean of the same cross-entropy, in nats
    assert ev.loss([logits], target).item() == pytest.approx(total * math.log(2) / target.shape[1], rel=1e-4)
    # argmax over OFF and pitches at onsets
    which = logits[..., 1:].argmax(-1) + 1
    onset = target[..., 0] != 0
    assert m["pitch_correct"].item() == (which[onset] == target[..., 0][onset]).sum().item()


def test_categorical_bits_are_the_cross_entropy(melodies):
    cat = Categorical()
    target = encoded_targets(cat, melodies[1])
    g = torch.Generator().manual_seed(6)
    outputs = [torch.randn(*target.shape[:2], s, generator=g) for s in cat.output_sizes]
    m = cat.note_metrics(outputs, target)
    ce = sum(
        torch.nn.functional.cross_entropy(o[0], target[0, :, i], reduction="sum").item()
        for i, o in enumerate(outputs)
    )
    assert m["pitch_bits"].item() + m["duration_bits"].item() == pytest.approx(ce / math.log(2), rel=1e-5)
    assert cat.loss(outputs, target).item() == pytest.approx(ce / target.shape[1], rel=1e-5)


def test_continuous_bits_grow_with_the_error(melodies):
    cont = Continuous()
    target = encoded_targets(cont, melodies[1])
    g = torch.Generator().manual_seed(7)
    small = cont.note_metrics([target + 0.01 * torch.randn(target.shape, generator=g)], target)
    large = cont.note_metrics([target + 0.2 * torch.randn(target.shape, generator=g)], target)
    assert 0 < small["pitch_bits"].item() < large["pitch_bits"].item()
    assert 0 < small["duration_bits"].item() < large["duration_bits"].item()
    assert small["pitch_correct"].item() > large["pitch_correct"].item()


@pytest.mark.parametrize("name", NAMES)
def test_boundary_targets_count_in_the_loss_but_not_per_note(name, melodies):
    rep = get_representation(name)
    melody = melodies[0]
    body = torch.as_tensor(rep.encode(melody))
    with_end = torch.cat([body, torch.as_tensor(rep.start)[None]])[None]
    assert rep.is_boundary(with_end).tolist() == [[False] * len(body) + [True]]
    g = torch.Generator().manual_seed(1)
    outputs = [torch.randn(1, len(body) + 1, size, generator=g) for size in rep.output_sizes]
    full = rep.note_metrics(outputs, with_end)
    notes_only = rep.note_metrics([o[:, :-1] for o in outputs], with_end[:, :-1])
    for key in ("notes", "pitch_correct"):
        assert full[key].item() == notes_only[key].item()
    if name != "continuous":  # its bits use the batch's RMSE, which the boundary does not enter either
        for key in ("pitch_bits", "duration_bits"):
            assert full[key].item() == pytest.approx(notes_only[key].item(), rel=1e-6)
    assert rep.loss(outputs, with_end).item() != pytest.approx(
        rep.loss([o[:, :-1] for o in outputs], with_end[:, :-1]).item()
    )
