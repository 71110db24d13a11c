"""The key a file is written in: read from its key signature, kept in the cache, used by data.key=notated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi

from melodygen.data.datamodule import MelodyDataModule
from melodygen.data.midi import load_melody
from melodygen.data.parsed import parse_midi_folder
from melodygen.data.splits import TRAIN
from melodygen.generation.sampling import primer_as_trained
from melodygen.models import MelodyModel
from melodygen.music.keys import MAJOR, MINOR, estimate_key, key_of

# a C major tune: its notes alone say C major, whatever its file's key signature says
C_MAJOR_TUNE = [(60, 4), (62, 4), (64, 4), (65, 4), (67, 8), (65, 4), (64, 4), (62, 4), (60, 8)] * 2


def write_with_signature(path: Path, notes, key_number: int | None) -> Path:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    if key_number is not None:
        pm.key_signature_changes.append(pretty_midi.KeySignature(key_number, 0.0))
    inst = pretty_midi.Instrument(program=0)
    t = 0.0
    for pitch, steps in notes:
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=t, end=t + steps * 0.125))
        t += steps * 0.125
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def test_the_key_signature_is_read_and_survives_the_cache(tmp_path):
    folder = tmp_path / "tunes"
    write_with_signature(folder / "d_major.mid", C_MAJOR_TUNE, 2)  # D major
    write_with_signature(folder / "e_minor.mid", C_MAJOR_TUNE, 12 + 4)  # E minor
    write_with_signature(folder / "none.mid", C_MAJOR_TUNE, None)
    assert load_melody(folder / "d_major.mid").meta["key_signature"] == (2, MAJOR)
    assert "key_signature" not in load_melody(folder / "none.mid").meta
    for _ in range(2):  # parsed, then loaded from the cache
        parsed = parse_midi_folder(folder, tmp_path / "cache", progress=False)
        keys = {f: parsed.melody(i).meta.get("key_signature") for i, f in enumerate(parsed.files)}
        assert keys == {"d_major.mid": (2, MAJOR), "e_minor.mid": (4, MINOR), "none.mid": None}
    assert parsed.from_cache
    assert estimate_key(parsed.pitch, parsed.duration) == (0, MAJOR)  # the notes say C major


def test_key_of_reads_the_signature_only_when_asked_to(tmp_path):
    melody = load_melody(write_with_signature(tmp_path / "d_major.mid", C_MAJOR_TUNE, 2))
    assert key_of(melody, "notated") == (2, MAJOR)
    assert key_of(melody, "estimated") == (0, MAJOR)  # from the notes
    del melody.meta["key_signature"]
    assert key_of(melody, "notated") == (0, MAJOR)  # no signature: the estimate


def test_transpose_to_c_by_the_notated_key_moves_each_tune_by_its_signature(tmp_path):
    folder = tmp_path / "tunes"
    for i in range(6):
        write_with_signature(folder / f"d{i}.mid", C_MAJOR_TUNE, 2)  # notes in C, written in D
    common = {"seq_len": 8, "batch_size": 4, "val_fraction": 0.2, "test_fraction": 0.0, "progress": False}
    by_notes = MelodyDataModule(
        midi_dir=str(folder), cache_dir=str(tmp_path / "cache"), transpose_to_c=True, **common
    )
    by_signature = MelodyDataModule(
        midi_dir=str(folder), cache_dir=str(tmp_path / "cache"), transpose_to_c=True, key="notated", **common
    )
    for dm in (by_notes, by_signature):
        dm.prepare_data()
        dm.setup()
    pitches = [dm.datasets[TRAIN].stream[1:, 0] for dm in (by_notes, by_signature)]
    assert pitches[0][0].item() == 60  # already in C by its notes: not moved
    assert pitches[1][0].item() == 58  # D to C: two semitones down
    assert np.array_equal(
        (pitches[0] - pitches[1])[pitches[0] < 128].numpy(), np.full(int((pitches[0] < 128).sum()), 2)
    )


def test_a_model_trained_on_notated_keys_moves_a_melody_by_its_signature(tmp_path):
    model = MelodyModel("categorical", hidden_size=8, num_layers=1, embedding_dim=4, transpose_to_c=True,
                       key="notated")  # fmt: skip
    melody = load_melody(write_with_signature(tmp_path / "d_major.mid", C_MAJOR_TUNE, 2))
    moved, shift = primer_as_trained(model, melody)
    assert shift == -2 and moved.pitch[0] == 58
    estimating = MelodyModel("categorical", hidden_size=8, num_layers=1, embedding_dim=4, transpose_to_c=True)
    assert primer_as_trained(estimating, melody)[1] == 0
