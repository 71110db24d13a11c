"""Sampling, primers and checkpoint loading, with real (small, untrained or briefly trained) models."""

import numpy as np
import pytest
import torch
from conftest import write_tune

from melodygen.config import check_sampling
from melodygen.errors import MelodygenError
from melodygen.generation.sampling import parse_primer, sample_elements, sample_melodies
from melodygen.models import MelodyModel
from melodygen.music.melody import MAX_DURATION, REST, Melody
from melodygen.representations.event import FIRST_PITCH, HOLD

SAMPLED = ["categorical", "event"]  # continuous samples deterministically: seeds do not matter
ALL = ["categorical", "continuous", "event"]


def _model(representation, seed=0, hidden_size=32):
    torch.manual_seed(seed)
    return MelodyModel(representation, hidden_size=hidden_size, num_layers=2, embedding_dim=8, dropout=0.2)


def _same(a, b):
    return len(a) == len(b) and all(x.equals(y) for x, y in zip(a, b))


def _refeed(model, primer, steps):
    """The slow reference: every step runs the whole stream from the start and takes the argmax."""
    rep = model.representation
    stream = [rep.start[None]] + ([rep.encode(primer)] if primer is not None else [])
    x = torch.as_tensor(np.concatenate(stream).astype(rep.dtype))[None]
    begin = x.shape[1]
    model.eval()
    with torch.inference_mode():
        for _ in range(steps):
            outputs, _ = model(x)
            element = rep.sample([o[:, -1] for o in outputs], temperature=0.0)
            x = torch.cat([x, element[:, None].to(x.dtype)], dim=1)
    return x[0, begin:].numpy()


# --- sampling ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("representation", SAMPLED)
def test_same_seed_same_melodies_and_another_seed_others(representation):
    model = _model(representation)
    first = sample_melodies(model, 3, 24, seed=5)
    assert _same(first, sample_melodies(model, 3, 24, seed=5))
    assert not _same(first, sample_melodies(model, 3, 24, seed=6))
    # the rows of one batch are separate draws
    assert not first[0].equals(first[1])


def test_no_seed_draws_fresh_melodies():
    model = _model("categorical")
    assert not _same(sample_melodies(model, 2, 16), sample_melodies(model, 2, 16))


@pytest.mark.parametrize("representation", ["categorical", "continuous"])
def test_note_level_representations_generate_exactly_length_elements(representation):
    model = _model(representation)
    raw = sample_elements(model, 4, 40, seed=1)
    assert [r.shape for r in raw] == [(40, 2)] * 4
    melodies = sample_melodies(model, 4, 40, seed=1, include_primer=False)
    rep = model.representation
    for r, melody in zip(raw, melodies):
        assert melody.equals(rep.decode(r))
        # normalize may merge or drop rests, but keeps every generated note
        generated_notes = int((rep.decode(r).pitch != REST).sum())
        assert melody.num_notes == generated_notes and len(melody) <= 40
        assert melody.duration.min() >= 1 and melody.duration.max() <= MAX_DURATION


def test_categorical_melody_has_length_elements_when_no_rest_is_generated():
    model = _model("categorical")
    with torch.no_grad():
        model.net.heads[0].bias[REST] = -1e4  # a real model that never rests
    for melody in sample_melodies(model, 4, 32, seed=3):
        assert len(melody) == 32 and melody.num_notes == 32


def test_event_continuations_hold_length_onsets_and_are_cut_before_the_next():
    model = _model("event")
    with torch.no_grad():
        model.net.heads[0].bias[HOLD] = 5.0  # about half the steps hold, so notes last several 16ths
    short = sample_elements(model, 4, 6, seed=2)
    # the same seed draws the same steps, so a longer request shows what came after the cut
    longer = sample_elements(model, 4, 7, seed=2)
    melodies = sample_melodies(model, 4, 6, seed=2, include_primer=False)
    for tokens, more, melody in zip(short, longer, melodies):
        assert int((tokens[:, 0] != HOLD).sum()) == 6
        assert tokens.shape[0] < 6 * MAX_DURATION
        np.testing.assert_array_equal(more[: len(tokens)], tokens)
        assert more[len(tokens), 0] != HOLD  # the 7th onset, just after the cut
        assert melody.num_notes == int((tokens[:, 0] >= FIRST_PITCH).sum())
    assert any(len(t) > 6 for t in short)  # some notes were held


def test_event_sampling_stops_at_the_step_limit_when_no_onset_comes():
    model = _model("event")
    with torch.no_grad():
        model.net.heads[0].bias[HOLD] = 1e4  # holds forever
    raw = sample_elements(model, 2, 5, seed=0)
    assert [t.shape for t in raw] == [(5 * MAX_DURATION, 1)] * 2
    assert (np.concatenate(raw) == HOLD).all()
    assert all(len(m) == 0 for m in sample_melodies(model, 2, 5, seed=0))


@pytest.mark.parametrize("representation", ALL)
@pytest.mark.parametrize("with_primer", [False, True])
def test_stateful_sampling_equals_refeeding_the_whole_prefix(representation, with_primer):
    model = _model(representation, seed=5, hidden_size=16)
    primer = parse_primer("62:4 64:2 r:2 67:8") if with_primer else None
    raw = sample_elements(model, 2, 12, temperature=0.0, primer=primer)
    np.testing.assert_array_equal(raw[0], raw[1])  # argmax: every row is the same
    assert len(np.unique(raw[0], axis=0)) > 1  # a stream that changes, so a lost state would show
    np.testing.assert_allclose(raw[0], _refeed(model, primer, len(raw[0])), atol=1e-6)


def test_top_k_one_is_argmax():
    model = _model("categorical")
    assert _same(sample_melodies(model, 2, 16, top_k=1, seed=0), sample_melodies(model, 2, 16, temperature=0))


@pytest.mark.parametrize("representation", ALL)
def test_primer_opens_every_melody_and_sets_the_tempo(representation):
    model = _model(representation)
    primer = parse_primer("60:4 62:2 r:2 64:8 65:4")
    primer.qpm = 96.0
    with_primer = sample_melodies(model, 3, 10, primer=primer, seed=1)
    alone = sample_melodies(model, 3, 10, primer=primer, seed=1, include_primer=False)
    for full, tail in zip(with_primer, alone):
        np.testing.assert_array_equal(full.pitch[: len(primer) - 1], primer.pitch[:-1])
        np.testing.assert_array_equal(full.duration[: len(primer) - 1], primer.duration[:-1])
        assert full.pitch[len(primer) - 1] == 65  # its length may grow: event holds can extend it
        assert full.qpm == tail.qpm == 96.0
        assert full.num_notes >= primer.num_notes + tail.num_notes
    assert all(m.qpm == 120.0 for m in sample_melodies(model, 1, 4, seed=0))


def test_sampling_restores_the_models_mode_and_keeps_its_device():
    model = _model("categorical").train()
    sample_melodies(model, 1, 4, seed=0, device="cpu")
    assert model.training
    assert next(model.parameters()).device.type == "cpu"


def test_a_primer_with_an_overlong_duration_is_refused():
    model = _model("categorical")
    with pytest.raises(MelodygenError, match="primer durations"):
        sample_melodies(model, 1, 4, primer=Melody([60], [20]))


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"num_samples": 0}, "num_samples"),
        ({"length": 0}, "length"),
        ({"temperature": -0.5}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_impossible_sampling_values_are_named(kwargs, key):
    args = {"num_samples": 2, "length": 8, "temperature": 1.0, "top_k": 0, "top_p": 1.0, **kwargs}
    with pytest.raises(MelodygenError, match=rf"^{key}="):
        check_sampling(**args, prefix="")
    with pytest.raises(MelodygenError, match=rf"^{key}="):
        sample_melodies(_model("categorical"), **args)


# --- primers -----------------------------------------------------------------------------------------


def test_primer_note_list_with_numbers_names_and_rests():
    melody = parse_primer("60:4 62:2 r:2 64:8")
    assert melody.pitch.tolist() == [60, 62, REST, 64] and melody.duration.tolist() == [4, 2, 2, 8]
    names = parse_primer("C4:4, F#4:2 Bb3:2 c-1:1 G9:1 e5:3 R:1")
    assert names.pitch.tolist() == [60, 66, 58, 0, 127, 76, REST]
    assert names.duration.tolist() == [4, 2, 2, 1, 1, 3, 1]
    assert melody.qpm == 120.0


def test_primer_rules_for_rests_and_long_notes():
    # leading rest dropped, rests merged, closing rest kept, a 20-step note → 16 + a rest of 4
    melody = parse_primer("r:4 60:20 r:2 r:3 62:2 r:20")
    assert melody.pitch.tolist() == [60, REST, 62, REST, REST]
    assert melody.duration.tolist() == [16, 9, 2, 16, 4]


@pytest.mark.parametrize("token", ["60", "60:0", "x:4", "C4:four", "128:4", "H4:4", "60:4:1", "C#:2", ":4"])
def test_malformed_primer_token_is_named(token):
    with pytest.raises(MelodygenError, match=f"primer token '{token}'"):
        parse_primer(f"60:4 {token} 62:2")


@pytest.mark.parametrize("spec", ["", "   ", "r:4 r:2"])
def test_empty_primer_is_refused(spec):
    with pytest.raises(MelodygenError, match="primer"):
        parse_primer(spec)


def test_primer_from_a_midi_file(tmp_path):
    path = write_tune(tmp_path / "primer tune.mid", [(67, 2), (72, 4), (74, 2)], qpm=90.0, rest_before={2: 2})
    melody = parse_primer(str(path))
    assert melody.pitch.tolist() == [67, 72, REST, 74] and melody.duration.tolist() == [2, 4, 2, 2]
    assert melody.qpm == pytest.approx(90.0, rel=1e-5)


def test_unusable_midi_primer_names_the_file_and_reason(tmp_path):
    missing = tmp_path / "missing.mid"
    with pytest.raises(MelodygenError, match=rf"{missing}: unreadable"):
        parse_primer(str(missing))
    text = tmp_path / "notes.mid"
    text.write_text("not a midi file")
    with pytest.raises(MelodygenError, match=rf"{text}: not_midi"):
        parse_primer(str(text))


@pytest.mark.parametrize("representation", ALL)
def test_samples_of_n_bars_are_whole_bars_and_their_midi_ends_on_the_last_bar_line(tmp_path, representation):
    import pretty_midi

    from melodygen.music.render import write_melodies

    melodies = sample_melodies(_model(representation), 3, 64, seed=1, bars=3)
    for melody in melodies:
        assert melody.total_steps == 3 * 16, melody
        assert melody.pitch[-1] != REST  # the last note is held to the bar line
        assert melody.meta["time_signature"] == (4, 4)
    [path] = [p for p in write_melodies(melodies[:1], tmp_path, png=False, wav=False) if p.suffix == ".mid"]
    midi = pretty_midi.PrettyMIDI(str(path))
    [signature] = midi.time_signature_changes
    assert (signature.numerator, signature.denominator) == (4, 4)
    sixteenth = 60.0 / melodies[0].qpm / 4
    assert midi.instruments[0].notes[-1].end == pytest.approx(48 * sixteenth)


def test_bars_count_the_primer_and_a_primer_too_long_is_one_line():
    model = _model("categorical")
    primer = parse_primer("C4:4 E4:4 G4:8")
    [melody] = sample_melodies(model, 1, 64, primer=primer, seed=0, bars=2)
    assert melody.total_steps == 32
    assert melody.pitch[:3].tolist() == [60, 64, 67] and melody.duration[:3].tolist() == [4, 4, 8]
    with pytest.raises(MelodygenError, match=r"samples.bars=1: the primer lasts 16 sixteenths"):
        sample_melodies(model, 1, 64, primer=primer, seed=0, bars=1)
