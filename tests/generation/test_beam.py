"""Beam search against exhaustive search, on tiny models of every architecture."""

import itertools

import numpy as np
import pytest
import torch

from melodygen.generation.beam import beam_search
from melodygen.generation.sampling import sample_elements, sample_melodies
from melodygen.models import NETWORKS, MelodyModel
from melodygen.representations.categorical import START_DURATION, START_PITCH
from melodygen.representations.event import START

ARCHITECTURES = sorted(NETWORKS)
PITCHES, DURATIONS, TOKENS = (60, 62, 64), (0, 2), (0, 1, 62)  # what the tiny models may choose


def tiny(representation: str, architecture: str, seed: int = 0) -> MelodyModel:
    torch.manual_seed(seed)
    extra = {"num_heads": 2, "ff_size": 16} if architecture == "transformer" else {}
    model = MelodyModel(
        representation, architecture=architecture, hidden_size=8, num_layers=2, embedding_dim=4, **extra
    ).eval()
    allowed = [PITCHES, DURATIONS] if representation == "categorical" else [TOKENS]
    with torch.no_grad():  # every other class is ~1e4 nats less likely: the search space is small
        for head, keep in zip(model.net.heads, allowed, strict=True):
            head.weight.mul_(20)  # sharper distributions than an untrained model's, so the order matters
            mask = torch.full_like(head.bias, -1e4)
            mask[list(keep)] = 0
            head.bias.add_(mask)
    return model


def exhaustive(model: MelodyModel, steps: int) -> tuple[np.ndarray, float]:
    """Every sequence of the allowed elements scored by a fresh pass from the start: the likeliest."""
    rep = model.representation
    if rep.name == "categorical":
        elements = [(p, d) for p in PITCHES for d in DURATIONS]
    else:
        elements = [(t,) for t in TOKENS]
    seqs = torch.tensor(list(itertools.product(elements, repeat=steps)))  # (S, steps, F)
    x = torch.cat([rep.start_tensor(len(seqs))[:, None], seqs], dim=1)
    with torch.no_grad():
        outputs, _ = model(x[:, :-1])
    total = torch.zeros(len(seqs))
    ends = (START_PITCH, START_DURATION) if rep.name == "categorical" else (START,)
    for column, (logits, end) in enumerate(zip(outputs, ends, strict=True)):
        log_probs = logits[..., :end].float().log_softmax(-1)
        total += log_probs.gather(-1, seqs[..., column : column + 1])[..., 0].sum(1)
    best = int(total.argmax())
    return seqs[best].numpy(), float(total[best])


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("representation", ["categorical", "event"])
def test_a_wide_enough_beam_finds_what_exhaustive_search_finds(architecture, representation):
    model = tiny(representation, architecture)
    choices = len(PITCHES) * len(DURATIONS) if representation == "categorical" else len(TOKENS)
    steps = 4
    expected, expected_score = exhaustive(model, steps)
    prefix = model.representation.start_tensor(1)[:, None]
    with torch.inference_mode():
        kept, scores = beam_search(model, prefix, choices ** (steps - 1), steps)
    np.testing.assert_array_equal(kept[0].numpy(), expected)
    assert float(scores[0]) == pytest.approx(expected_score, abs=1e-3)
    assert bool((scores[:-1] >= scores[1:]).all())  # likeliest first
    with torch.inference_mode():  # a narrow beam can only do as well
        _, narrow = beam_search(model, prefix, 2, steps)
    assert float(narrow[0]) <= expected_score + 1e-4


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_beam_of_one_is_greedy_sampling(architecture):
    model = tiny("categorical", architecture, seed=3)
    beam = sample_elements(model, 1, 10, strategy="beam", beam_size=1)
    greedy = sample_elements(model, 1, 10, temperature=0.0)
    np.testing.assert_array_equal(beam[0], greedy[0])


def test_beam_melodies_are_the_likeliest_first_and_whole():
    model = tiny("event", "lstm", seed=1)
    melodies = sample_melodies(model, 3, 6, strategy="beam", beam_size=4)
    assert len(melodies) == 3 and len({m.pitch.tobytes() + m.duration.tobytes() for m in melodies}) > 1
    assert sample_melodies(model, 3, 6, strategy="beam", beam_size=4, seed=9)[0].equals(melodies[0])


def test_the_post_model_has_one_continuation_and_beam_search_returns_it():
    model = MelodyModel("continuous", hidden_size=8, num_layers=1, embedding_dim=0).eval()
    beam = sample_elements(model, 2, 8, strategy="beam", beam_size=3)
    np.testing.assert_array_equal(beam[0], sample_elements(model, 1, 8)[0])
    np.testing.assert_array_equal(beam[0], beam[1])


def test_asking_for_more_melodies_than_the_beam_keeps_is_one_line():
    from melodygen.errors import MelodygenError

    with pytest.raises(MelodygenError, match=r"^num_samples=5 is not allowed: beam search returns at most"):
        sample_elements(tiny("event", "gru"), 5, 8, strategy="beam", beam_size=4)


def test_where_the_likeliest_first_note_leads_nowhere_likely_beam_search_beats_greedy():
    """An LSTM trained on two-note melodies: 60 % begin on C5 and go on to one of four notes, 40 % begin on
    C6 and always go on to D6. Greedy sampling takes C5 (0.6) and then one of four (0.25): 0.15 in all;
    the likeliest melody is C6 D6 (0.4). Beam search keeps C6 after the first step and finds it."""
    from melodygen.music.melody import Melody

    torch.manual_seed(0)
    model = MelodyModel("categorical", architecture="lstm", hidden_size=16, num_layers=1, embedding_dim=8)
    rep = model.representation
    tunes = [[60, second] for second in (62, 64, 65, 67) for _ in range(15)] + [[72, 74]] * 40
    elements = torch.stack([torch.as_tensor(rep.encode(Melody(t, [2, 2]))) for t in tunes])
    x = torch.cat([rep.start_tensor(len(tunes))[:, None], elements[:, :1]], dim=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        rep.loss(model(x)[0], elements).backward()
        optimizer.step()
    model.eval()
    prefix = rep.start_tensor(1)[:, None]
    with torch.inference_mode():
        greedy, greedy_score = beam_search(model, prefix, 1, 2)
        beam, beam_score = beam_search(model, prefix, 3, 2)
    assert greedy[0, :, 0].tolist()[0] == 60 and beam[0, :, 0].tolist() == [72, 74]
    assert float(greedy_score[0]) == pytest.approx(np.log(0.6 * 0.25), abs=0.15)
    assert float(beam_score[0]) == pytest.approx(np.log(0.4), abs=0.15)
    np.testing.assert_array_equal(sample_elements(model, 1, 2, temperature=0.0)[0], greedy[0].numpy())
    np.testing.assert_array_equal(
        sample_elements(model, 1, 2, strategy="beam", beam_size=3)[0], beam[0].numpy()
    )
