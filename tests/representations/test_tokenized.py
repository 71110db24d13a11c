"""``data.representation=miditok``: MidiTok's tokenizations behind melodygen's representation interface."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("miditok")

from melodygen.data.datamodule import MelodyDataModule  # noqa: E402
from melodygen.data.midi import load_melody  # noqa: E402
from melodygen.data.splits import TRAIN  # noqa: E402
from melodygen.errors import MelodygenError  # noqa: E402
from melodygen.generation.sampling import sample_melodies  # noqa: E402
from melodygen.models import MelodyModel  # noqa: E402
from melodygen.music.keys import transpose  # noqa: E402
from melodygen.music.melody import MAX_DURATION, REST, Melody  # noqa: E402
from melodygen.representations import get_representation  # noqa: E402
from melodygen.representations.tokenized import TOKENIZERS, MidiTok, load_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def folk_melodies(folk_dir):
    return [load_melody(p) for p in sorted(folk_dir.rglob("*.mid"))]


@pytest.fixture(scope="module")
def bpe(folk_melodies):
    representation = MidiTok.from_spec("REMI")
    representation.train_vocabulary(folk_melodies, 600)
    return representation


@pytest.mark.parametrize("name", TOKENIZERS)
def test_every_tokenizer_writes_real_melodies_back_exactly(folk_melodies, name):
    representation = MidiTok.from_spec(name)
    for melody in folk_melodies:
        elements = representation.encode(melody)
        assert elements[:, 1].sum() == len(melody)  # every note and rest is opened by one token
        assert representation.decode(elements).equals(melody), melody.source


def test_a_learned_vocabulary_writes_them_back_too_in_fewer_tokens(folk_melodies, bpe):
    plain = MidiTok.from_spec("REMI")
    assert bpe.trained and len(bpe.tokenizer) == 600 and not bpe.splits_pitch
    for melody in folk_melodies:
        elements = bpe.encode(melody)
        assert elements[:, 1].sum() == len(melody)
        assert len(elements) < len(plain.encode(melody))
        assert bpe.decode(elements).equals(melody)
    again = get_representation("miditok", bpe.hparams()["tokenizer"])  # as a checkpoint rebuilds it
    assert np.array_equal(again.encode(folk_melodies[0]), bpe.encode(folk_melodies[0]))


def test_structured_cannot_write_a_silence_longer_than_its_longest_time_shift():
    # Structured has no rest tokens: the time from one onset to the next is at most 12 beats
    melody = Melody([60, REST, REST, REST, 62, 64], [4, 16, 16, 16, 4, 4])
    assert MidiTok.from_spec("REMI").decode(MidiTok.from_spec("REMI").encode(melody)).equals(melody)
    back = MidiTok.from_spec("Structured").decode(MidiTok.from_spec("Structured").encode(melody))
    assert back.total_steps < melody.total_steps and back.num_notes == 3


def test_a_uniform_model_scores_log2_vocabulary_bits_per_token(folk_melodies, bpe):
    for representation in (MidiTok.from_spec("TSD"), bpe):
        stream = np.concatenate([representation.start[None], representation.encode(folk_melodies[0])])
        target = torch.as_tensor(stream[1:])[None]
        size = representation.output_sizes[0]
        sums = representation.note_metrics([torch.zeros(1, len(target[0]), size)], target)
        notes = len(folk_melodies[0])
        assert sums["notes"] == notes
        tokens_per_note = len(target[0]) / notes
        assert float(sums["bits"]) / notes == pytest.approx(math.log2(size) * tokens_per_note, rel=1e-5)
        if representation.splits_pitch:  # which pitch, among the pitch tokens, and the rest
            pitch_tokens = representation.note_ids.numel()
            expected = math.log2(pitch_tokens) * folk_melodies[0].num_notes
            assert float(sums["pitch_bits"]) == pytest.approx(expected, rel=1e-5)
            assert float(sums["pitch_bits"] + sums["duration_bits"]) == pytest.approx(float(sums["bits"]))
        else:
            assert "pitch_bits" not in sums  # merged tokens: the total alone


@pytest.mark.parametrize("which", ["TSD", "bpe"])
def test_sampling_an_untrained_model_always_decodes_to_a_melody(bpe, which):
    representation = bpe if which == "bpe" else MidiTok.from_spec(which)
    torch.manual_seed(0)
    model = MelodyModel("miditok", tokenizer=representation.hparams()["tokenizer"], hidden_size=16,
                        num_layers=1, embedding_dim=8)  # fmt: skip
    for temperature in (1.0, 3.0):
        melodies = sample_melodies(model, 16, 24, temperature=temperature, seed=1)
        for melody in melodies:
            assert 1 <= len(melody) <= 24
            assert melody.duration.min() >= 1 and melody.duration.max() <= MAX_DURATION
            assert 0 <= melody.meta["token_errors"] <= 1  # the share the decoder skipped, counted
    primer = Melody([60, 62], [4, 4])
    beams = sample_melodies(model, 2, 8, strategy="beam", beam_size=3, primer=primer, include_primer=False)
    assert len(beams) == 2 and all(1 <= len(m) <= 8 for m in beams)


def test_any_token_ids_decode_without_error(bpe):
    rng = np.random.default_rng(0)
    for representation in (MidiTok.from_spec("REMI"), MidiTok.from_spec("MIDILike"), bpe):
        for _ in range(5):
            ids = rng.integers(0, len(representation.tokenizer), 120)
            melody = representation.decode(np.stack([ids, np.zeros_like(ids)], axis=1))
            assert len(melody) == 0 or melody.duration.min() >= 1


def test_windows_of_single_tokens_transpose_and_learned_ones_refuse(folk_melodies, bpe):
    representation = MidiTok.from_spec("MIDILike")  # note-ons and note-offs both carry the pitch
    melody = folk_melodies[1]
    x = torch.as_tensor(representation.encode(melody))
    moved = representation.with_pitch(x, representation.pitch_of(x) + 3)
    assert representation.decode(moved.numpy()).equals(Melody(transpose(melody.pitch, 3), melody.duration))
    with pytest.raises(MelodygenError, match="data.transpose=0"):
        bpe.with_pitch(x, representation.pitch_of(x))


def test_the_vocabulary_is_learned_on_the_training_split_alone(tmp_path, make_tune):
    # pitch 100 occurs only in the melodies outside the training split: no learned token may hold it
    rng = np.random.default_rng(0)
    names = [f"tune{i:02d}.mid" for i in range(30)]
    datamodule = MelodyDataModule(midi_dir=str(tmp_path / "midi"), cache_dir=str(tmp_path / "cache"), representation="miditok",
                                  tokenizer="TSD", tokenizer_vocab_size=420, val_fraction=0.2,
                                  test_fraction=0.2, progress=False)  # fmt: skip
    from melodygen.data.splits import split_files

    split = split_files(names, 0.2, 0.2)
    assert (split != TRAIN).sum() >= 4
    for name, which in zip(names, split):
        pitches = [100, 100, 98, 100] if which != TRAIN else [60, 62, 64, 65]
        make_tune(tmp_path / "midi" / name, [(int(rng.choice(pitches)), 2) for _ in range(40)])
    representation = datamodule.fit_representation()
    learned = [representation.base_tokens(i) for i in range(len(representation.tokenizer))]
    merged = [tokens for tokens in learned if len(tokens) > 1]
    assert len(representation.tokenizer) == 420 and merged
    assert any("Pitch_62" in tokens for tokens in merged)
    assert not any(t in ("Pitch_100", "Pitch_98") for tokens in merged for t in tokens)
    datamodule.setup("fit")  # and the held-out melodies still encode, in single tokens
    assert len(datamodule.datasets[1]) > 0


def test_mistakes_are_one_line_naming_the_key(tmp_path):
    with pytest.raises(MelodygenError, match="data.tokenizer=CPWord: melodygen reads one token"):
        load_tokenizer("CPWord")
    with pytest.raises(MelodygenError, match=r"data.tokenizer='Remy' is neither one of REMI"):
        load_tokenizer("Remy")
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(MelodygenError, match="not a tokenizer.json saved by MidiTok"):
        load_tokenizer(str(tmp_path / "t.json"))
    with pytest.raises(
        MelodygenError, match="data.tokenizer_rest_res=8 with data.tokenizer_beat_res=4"
    ) as info:
        MidiTok.from_spec("REMI", beat_res=4, rest_res=8)
    assert "\n" not in str(info.value)
    import miditok

    eighths = {(0, 4): 2, (4, 12): 2}  # a tokenizer saved elsewhere, on an eighth-note grid
    miditok.REMI(miditok.TokenizerConfig(beat_res=eighths, beat_res_rest=eighths)).save(
        tmp_path / "coarse.json"
    )
    with pytest.raises(MelodygenError, match="cannot write 16th-note melodies exactly"):
        MidiTok.from_spec(str(tmp_path / "coarse.json"))
    with pytest.raises(MelodygenError, match=r"data.transpose=2: .* use data.transpose=0"):
        datamodule = MelodyDataModule(
            midi_dir=str(tmp_path), cache_dir=str(tmp_path), representation="miditok", transpose=2
        )
        learned = MidiTok.from_spec("REMI")
        learned.train_vocabulary([Melody([60, 62, 64, 65] * 10, [2] * 40)] * 4, 400)
        datamodule.use_representation(learned)


def test_without_miditok_the_request_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "miditok", None)  # as if it were not installed
    with pytest.raises(MelodygenError, match=r"melodygen\[miditok\]"):
        get_representation("miditok", "REMI")
    assert get_representation("categorical").name == "categorical"


@pytest.mark.parametrize("architecture", ["gru", "transformer"])
def test_every_architecture_reads_and_samples_tokens(folk_melodies, architecture):
    representation = MidiTok.from_spec("REMI")
    model = MelodyModel("miditok", architecture, tokenizer=representation.hparams()["tokenizer"],
                        hidden_size=16, num_layers=1, embedding_dim=8, **({"num_heads": 2, "ff_size": 16,
                        "context": 32} if architecture == "transformer" else {}))  # fmt: skip
    stream = torch.as_tensor(
        np.concatenate([representation.start[None], representation.encode(folk_melodies[2])])
    )
    with torch.no_grad():
        outputs, _ = model(stream[None, :-1])
    sums = representation.note_metrics(outputs, stream[None, 1:])
    assert sums["notes"] == len(folk_melodies[2]) and float(sums["bits"]) > 0
    melodies = sample_melodies(model, 3, 12, seed=0, primer=folk_melodies[2])
    assert all(len(m) > len(folk_melodies[2]) - 2 for m in melodies)
