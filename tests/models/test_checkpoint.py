"""Checkpoints: read weights-only, checked, and rebuilt into the model that wrote them."""

import pathlib

import numpy as np
import pytest
import torch

from melodygen.errors import MelodygenError
from melodygen.generation.sampling import sample_melodies
from melodygen.models import MelodyModel, load_model, read_checkpoint
from melodygen.music.melody import REST


def _same(a, b):
    return len(a) == len(b) and all(x.equals(y) for x, y in zip(a, b))


def test_load_model_from_a_trainer_checkpoint_predicts_like_the_trained_model(tiny_checkpoint):
    loaded = load_model(tiny_checkpoint.path)
    assert isinstance(loaded, MelodyModel) and not loaded.training
    assert loaded.hparams.hidden_size == 24
    x = torch.as_tensor(np.concatenate([[[129, 16]], [[60, 3], [62, 1], [REST, 1], [64, 7]]]))[None]
    with torch.inference_mode():
        expected, _ = tiny_checkpoint.model(x)
        got, _ = loaded(x)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)
    # a real fit moved the weights away from a fresh model's
    fresh = MelodyModel("categorical", hidden_size=24, num_layers=2, embedding_dim=8)
    assert not torch.equal(fresh.net.heads[0].weight, loaded.net.heads[0].weight)
    assert _same(sample_melodies(loaded, 2, 8, seed=0), sample_melodies(tiny_checkpoint.model, 2, 8, seed=0))


def test_load_model_accepts_paths_pickled_into_the_checkpoint(tiny_checkpoint, tmp_path):
    # Lightning stores a datamodule's hyperparameters as given: a pathlib.Path arrives as PosixPath,
    # which torch's weights_only unpickler refuses unless it is allowlisted.
    checkpoint = torch.load(tiny_checkpoint.path, weights_only=True)
    checkpoint["datamodule_hyper_parameters"] = {"midi_dir": pathlib.Path(tmp_path)}
    path = tmp_path / "with_path.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(Exception, match="PosixPath"):
        torch.load(path, weights_only=True)
    assert load_model(path).hparams.hidden_size == 24


def test_missing_or_unreadable_checkpoint_names_the_path(tmp_path):
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(MelodygenError, match=r"^ckpt_path='.*nope.ckpt': no such checkpoint file$"):
        load_model(missing)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(
        MelodygenError, match=r"^ckpt_path='.*garbage.ckpt' is not a melodygen checkpoint"
    ) as info:
        load_model(garbage)
    assert "\n" not in str(info.value)


def test_a_torch_file_that_is_no_melodygen_checkpoint_says_so(tmp_path):
    other = tmp_path / "other.ckpt"
    torch.save({"a": 1}, other)
    with pytest.raises(
        MelodygenError, match=r"^ckpt_path='.*other.ckpt' is not a melodygen checkpoint; give "
    ):
        read_checkpoint(other)


def test_a_checkpoint_carries_how_its_training_data_was_prepared(tiny_checkpoint):
    hparams = read_checkpoint(tiny_checkpoint.path)["hyper_parameters"]
    assert hparams["transpose_to_c"] is False and hparams["representation"] == "categorical"
