"""Conditions (meter, key, style): read from real MIDI files and kept in the parse cache, the vocabulary a
model learns them in, conditioned networks of every architecture and representation, and a tiny model that
plays in the key it is asked for."""

from __future__ import annotations

import mido
import numpy as np
import pretty_midi
import pytest
import pytorch_lightning as pl
import torch
from conftest import write_tune

from melodygen.data.datamodule import MelodyDataModule, conditions_of
from melodygen.data.midi import ExtractionParams, load_melody
from melodygen.data.parsed import parse_midi_folder
from melodygen.errors import MelodygenError
from melodygen.evaluation.adherence import estimated_key_name
from melodygen.generation.sampling import sample_melodies
from melodygen.models import MelodyModel
from melodygen.music.conditions import (
    KEYS,
    UNSEEN,
    Conditioning,
    asked_conditions,
    key_label,
    melody_conditions,
    parse_tonic,
    style_labels,
)
from melodygen.music.keys import MAJOR, MINOR
from melodygen.music.melody import Melody

D_MAJOR = [62, 64, 66, 67, 69, 71, 73, 74]
# a D major tune and an Eb major one: scale runs and arpeggios around each tonic
TUNE_D = [(p, 2) for p in D_MAJOR] + [(74, 2), (69, 2), (66, 2), (62, 4), (66, 2), (69, 2), (74, 4), (62, 8)]
TUNE_EB = [(p + 1, 2) for p in D_MAJOR] + [
    (75, 2),
    (70, 2),
    (67, 2),
    (63, 4),
    (67, 2),
    (70, 2),
    (75, 4),
    (63, 8),
]


def write_signed(path, notes, meter=None, key_number=None):
    """A one-track tune with a time signature and a key signature where they are given."""
    write_tune(path, notes)
    midi = pretty_midi.PrettyMIDI(str(path))
    if meter is not None:
        midi.time_signature_changes = [pretty_midi.TimeSignature(*meter, 0.0)]
    if key_number is not None:
        midi.key_signature_changes = [pretty_midi.KeySignature(key_number, 0.0)]
    midi.write(str(path))
    return path


def write_unsigned(path, notes):
    """A one-track tune with no time or key signature at all (pretty_midi always writes a 4/4; mido need not)."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)])
    for pitch, steps in notes:
        track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=steps * 120))
    path.parent.mkdir(parents=True, exist_ok=True)
    mido.MidiFile(ticks_per_beat=480, tracks=[track]).save(str(path))
    return path


@pytest.fixture
def signed_dir(tmp_path):
    """Two sub-folders (styles): jigs in 6/8 with a D major key signature, and airs with no signature."""
    root = tmp_path / "midi"
    for i in range(3):
        write_signed(root / "jigs" / f"jig{i}.mid", TUNE_D, meter=(6, 8), key_number=2)
        write_unsigned(root / "airs" / f"air{i}.mid", TUNE_EB)
    return root


def test_meter_and_key_signature_are_read_from_the_file_or_missing(signed_dir):
    for reader in ("pretty_midi", "symusic"):
        params = ExtractionParams(reader=reader)
        jig = load_melody(signed_dir / "jigs" / "jig0.mid", params)
        air = load_melody(signed_dir / "airs" / "air0.mid", params)
        assert jig.meta["time_signature"] == (6, 8) and jig.meta["key_signature"] == (2, MAJOR), reader
        assert "time_signature" not in air.meta and "key_signature" not in air.meta, reader
        assert melody_conditions(jig, "notated") == {"meter": "6/8", "key": "D major", "style": "none"}
        assert melody_conditions(air)["meter"] == "4/4"  # none notated: MIDI's default
        assert melody_conditions(air)["key"] == "Eb major"  # none notated: estimated from the notes


def test_conditions_are_kept_in_the_parse_cache_and_counted_in_the_data_report(signed_dir, tmp_path):
    parsed = parse_midi_folder(signed_dir, tmp_path / "cache", progress=False)
    again = parse_midi_folder(signed_dir, tmp_path / "cache", progress=False)
    assert not parsed.from_cache and again.from_cache
    for folder in (parsed, again):
        by_file = dict(zip(folder.files, conditions_of(folder, "notated")))
        assert by_file["jigs/jig1.mid"] == {"meter": "6/8", "key": "D major", "style": "jigs"}
        assert by_file["airs/air1.mid"] == {"meter": "4/4", "key": "Eb major", "style": "airs"}
        assert folder.melody(folder.files.index("jigs/jig2.mid")).meta["time_signature"] == (6, 8)
    datamodule = MelodyDataModule(
        midi_dir=str(signed_dir),
        cache_dir=str(tmp_path / "cache"),
        seq_len=8,
        val_fraction=0.0,
        test_fraction=0.0,
        progress=False,
    )
    datamodule.prepare_data()
    datamodule.setup()
    report = datamodule.report()["conditions"]
    assert report["meter"] == {"6/8": 3, "4/4": 3} and report["style"] == {"jigs": 3, "airs": 3}
    assert report["key"] == {"D major": 3, "Eb major": 3}
    assert report["meter_notated"] == 3 and report["key_notated"] == 3


def test_styles_come_from_sub_folders_or_from_lists_of_files(tmp_path):
    files = ["oneills/a.mid", "ryans/b.mid", "c.mid"]
    assert style_labels(files, tmp_path, None) == ["oneills", "ryans", "none"]
    (tmp_path / "jigs.txt").write_text("# the jigs\noneills/a.mid\nc.mid  # a jig too\n")
    assert style_labels(files, tmp_path, {"jig": "jigs.txt"}) == ["jig", "none", "jig"]
    with pytest.raises(MelodygenError, match=r"data.style_lists.reel='reels.txt': no such file"):
        style_labels(files, tmp_path, {"reel": "reels.txt"})


def test_the_vocabulary_indexes_unseen_labels_as_zero_and_draws_what_is_not_asked():
    melodies = [
        {"meter": "6/8", "key": "D major", "style": "jigs"},
        {"meter": "6/8", "key": "G major", "style": "jigs"},
        {"meter": "4/4", "key": "A minor", "style": "reels"},
    ] * 4
    conditioning = Conditioning.fit(["style", "meter", "key"], melodies)
    assert conditioning.names == ("meter", "key", "style")  # always in CONDITIONS order
    assert conditioning.labels["meter"] == [UNSEEN, "4/4", "6/8"] and conditioning.labels["key"] == list(KEYS)
    assert conditioning.index({"meter": "2/4", "key": "D major", "style": "jigs"}).tolist() == [0, 2, 1]
    again = Conditioning.from_hparams(conditioning.hparams())
    assert again == conditioning and Conditioning().hparams() == {}  # an unconditioned model keeps nothing
    drawn = conditioning.draw({"meter": "6/8"}, 200, seed=0)
    assert {d["style"] for d in drawn} == {"jigs"}  # only jigs were in 6/8
    assert {d["key"] for d in drawn} == {"D major", "G major"}
    assert all(d["key"] == "A minor" for d in conditioning.draw({"key": "? minor"}, 20, seed=1))
    # a combination no training tune had: each condition from its own counts, the asked ones kept
    odd = conditioning.draw({"meter": "4/4", "key": "F# major"}, 50, seed=2)
    assert {d["key"] for d in odd} == {"F# major"} and {d["meter"] for d in odd} == {"4/4"}
    assert {d["style"] for d in odd} <= {"jigs", "reels"}


def test_asking_is_checked_with_one_line_naming_the_value():
    assert asked_conditions("6 / 8", "d", "major", "jigs") == {
        "meter": "6/8",
        "key": "D major",
        "style": "jigs",
    }
    assert asked_conditions(key="Bb") == {"key": "Bb ?"} and asked_conditions(mode="minor") == {
        "key": "? minor"
    }
    assert parse_tonic("F#") == 6 and parse_tonic("Gb") == 6 and parse_tonic("H") is None
    assert key_label(6, MINOR) == "F# minor"
    for args, message in (
        ({"meter": "six-eight"}, r"samples.meter='six-eight' is not a time signature"),
        ({"key": "H"}, r"samples.key='H' is not a tonic"),
        ({"mode": "dorian"}, r"samples.mode='dorian': choose major or minor"),
    ):
        with pytest.raises(MelodygenError, match=message):
            asked_conditions(**args)
    conditioning = Conditioning.fit(["meter"], [{"meter": "6/8"}, {"meter": "3/4"}])
    with pytest.raises(
        MelodygenError, match=r"samples.meter='5/4' is not a meter this model knows; known: 3/4, 6/8$"
    ):
        conditioning.check({"meter": "5/4"})
    with pytest.raises(MelodygenError, match=r"samples.style=jigs: this model is conditioned on meter only"):
        conditioning.check({"style": "jigs"})
    with pytest.raises(MelodygenError, match=r"this model is not conditioned"):
        Conditioning().check({"key": "D major"})


def _conditioned(architecture: str, representation: str) -> MelodyModel:
    conditioning = Conditioning.fit(
        ["meter", "key"], [{"meter": "6/8", "key": "D major"}, {"meter": "4/4", "key": "G minor"}]
    )
    extra = {"context": 16} if architecture == "transformer" else {}
    if representation == "miditok":
        extra["tokenizer"] = "REMI"
    return MelodyModel(
        representation,
        architecture=architecture,
        hidden_size=16,
        num_layers=1,
        embedding_dim=8,
        **extra,
        **conditioning.hparams(),
    )


@pytest.mark.parametrize("architecture", ["lstm", "gru", "transformer"])
@pytest.mark.parametrize("representation", ["categorical", "continuous", "event", "miditok"])
def test_every_network_reads_the_conditions_beside_every_element(architecture, representation):
    torch.manual_seed(0)
    model = _conditioned(architecture, representation).eval()
    rep = model.representation
    melody = Melody([62, 64, 66, 128, 69], [2, 2, 4, 2, 8])
    x = torch.as_tensor(np.concatenate([rep.start[None], rep.encode(melody)]).astype(rep.dtype))[None]
    jig = model.with_conditions(x, torch.tensor([[2, 2]]))  # 6/8, D major
    minor = model.with_conditions(x, torch.tensor([[1, 12 + 7]]))  # 4/4, G minor
    assert jig.shape == (1, x.shape[1], rep.num_features + 2)
    with torch.no_grad():
        a, b = model(jig)[0], model(minor)[0]
    assert not torch.allclose(a[0], b[0])  # the conditions reach the heads
    melodies = sample_melodies(model, 2, 6, seed=0, conditions={"key": "G minor"})
    assert [m.meta["conditions"]["key"] for m in melodies] == ["G minor", "G minor"]
    assert all(m.meta["drawn"] == ["meter"] and m.meta["key_signature"] == (7, MINOR) for m in melodies)
    beam = sample_melodies(model, 2, 4, conditions={"meter": "6/8"}, strategy="beam", beam_size=2)
    assert all(m.meta["time_signature"] == (6, 8) for m in beam)


def test_a_conditioned_model_trained_on_two_tunes_plays_the_key_it_is_asked_for(tmp_path):
    """Two tunes, one in D major and one in Eb major: asked for either key, the model plays that one."""
    for i in range(2):
        write_tune(tmp_path / "midi" / f"d{i}.mid", TUNE_D)
        write_tune(tmp_path / "midi" / f"eb{i}.mid", TUNE_EB)
    assert estimated_key_name(Melody(*zip(*TUNE_D))) == "D major"
    assert estimated_key_name(Melody(*zip(*TUNE_EB))) == "Eb major"
    datamodule = MelodyDataModule(
        midi_dir=str(tmp_path / "midi"),
        cache_dir=str(tmp_path / "cache"),
        seq_len=12,
        window_stride=1,
        batch_size=16,
        val_fraction=0.0,
        test_fraction=0.0,
        conditions=["key"],
        progress=False,
    )
    conditioning = datamodule.fit_conditioning()
    assert conditioning.names == ("key",)
    pl.seed_everything(0, verbose=False)
    model = MelodyModel("categorical", hidden_size=48, num_layers=1, embedding_dim=16, lr=1e-2, dropout=0.0,
                        **conditioning.hparams())  # fmt: skip
    trainer = pl.Trainer(
        max_epochs=60,
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(model, datamodule=datamodule)
    for key in ("D major", "Eb major"):
        melodies = sample_melodies(model, 4, len(TUNE_D), temperature=0.3, seed=1, conditions={"key": key})
        assert [estimated_key_name(m) for m in melodies] == [key] * 4, key
    with pytest.raises(MelodygenError, match=r"samples.meter=6/8: this model is conditioned on key only"):
        sample_melodies(model, 1, 4, conditions={"meter": "6/8"})


def test_a_checkpoint_from_before_conditions_loads_unconditioned():
    from pathlib import Path

    from melodygen.models import load_model

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "release_0_1" / "lstm_categorical.ckpt"
    model = load_model(fixture)
    assert not model.conditioning and "conditions" not in model.hparams
    assert len(sample_melodies(model, 2, 8, seed=0)) == 2
    with pytest.raises(
        MelodygenError, match=r"^samples.key=D samples.mode=major: this model is not conditioned"
    ):
        sample_melodies(model, 1, 8, conditions={"key": "D major"})


def test_a_transposed_training_window_moves_its_key_with_its_notes(signed_dir, tmp_path):
    datamodule = MelodyDataModule(
        midi_dir=str(signed_dir), cache_dir=str(tmp_path / "cache"), seq_len=8, val_fraction=0.0, test_fraction=0.0,
        transpose=5, key="notated", conditions=["key"], progress=False,
    )  # fmt: skip
    datamodule.prepare_data()
    datamodule.setup()
    dataset = datamodule.datasets[0]
    rep, moved = datamodule.representation, 0
    for i in range(len(dataset)):
        s = int(dataset.starts[i])
        plain = dataset.stream[s : s + dataset.seq_len + 1]
        x, _ = dataset[(i, 7)]
        before, after = rep.pitch_of(plain[:-1]), rep.pitch_of(x)
        shift = int((after - before)[before >= 0][0])
        keys = x[:, rep.num_features]
        tonic, mode = plain[:-1, rep.num_features] % 12, plain[:-1, rep.num_features] // 12
        assert torch.equal(keys, 12 * mode + (tonic + shift) % 12)
        moved += shift != 0
    assert moved > len(dataset) // 2  # most windows were moved, and their keys with them
