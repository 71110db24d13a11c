"""Classifier-free guidance: a model trained with ``model.condition_dropout`` learns an "untold" class for
each condition, and ``samples.guidance`` draws from ``untold + w · (told − untold)`` logits."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from helpers import compose_train
from meter_files import jig, write

from melodygen.config import check_train
from melodygen.data.datamodule import MelodyDataModule
from melodygen.errors import MelodygenError
from melodygen.generation.sampling import sample_elements, sample_melodies
from melodygen.models import MelodyModel, load_model
from melodygen.music.conditions import Conditioning
from melodygen.representations.position import Clock, signature_of

LABELS = [
    {"meter": "6/8", "key": "D major"},
    {"meter": "4/4", "key": "G major"},
    {"meter": "3/4", "key": "A minor"},
]


@pytest.fixture
def meter_dir(tmp_path):
    """Jigs in 6/8 (with and without a pickup) and tunes of quarter notes in 4/4."""
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(4):
        write(folder / f"jig{i}.mid", jig(i % 2), (6, 8))
        write(folder / f"march{i}.mid", [(60 + (i + n) % 7, 4 * n, 4) for n in range(16)], (4, 4))
    return folder


def _model(condition_dropout=0.25, seed=0):
    torch.manual_seed(seed)
    conditioning = Conditioning.fit(["meter", "key"], LABELS)
    return MelodyModel(
        "categorical", hidden_size=24, num_layers=1, embedding_dim=8, bar_position=True,
        condition_dropout=condition_dropout, **conditioning.hparams(),
    )  # fmt: skip


def _guided_by_refeeding(model, classes, weight, steps, meter):
    """The slow reference: each step runs the whole stream from the start twice, told and untold, and takes
    the argmax of the weighed logits."""
    rep = model.representation
    stream = torch.as_tensor(rep.start[None].astype(rep.dtype))[None]
    told = torch.as_tensor(classes)[None]
    untold = model.untold_conditions()[None]
    model.eval()
    with torch.inference_mode():
        for _ in range(steps):
            logits = []
            for conditions in (told, untold):
                clock = Clock.starting(rep, [signature_of(meter)])
                outputs, _ = model(clock.read(model.with_conditions(stream, conditions)))
                logits.append([o[:, -1] for o in outputs])
            weighed = [u + weight * (t - u) for t, u in zip(*logits, strict=True)]
            element = rep.sample(weighed, temperature=0.0)
            stream = torch.cat([stream, element[:, None].to(stream.dtype)], dim=1)
    return stream[0, 1:].numpy()


@pytest.mark.parametrize("weight", [0.0, 2.5])
def test_guided_sampling_draws_from_the_weighed_logits_of_told_and_untold(weight):
    model = _model()
    classes = model.conditioning.index({"meter": "6/8", "key": "D major"})
    expected = _guided_by_refeeding(model, classes, weight, 12, "6/8")
    (drawn,) = sample_elements(
        model, 1, 12, temperature=0.0, conditions=torch.as_tensor(classes)[None], guidance=weight
    )
    assert np.array_equal(drawn, expected)
    told = sample_elements(model, 1, 12, temperature=0.0, conditions=torch.as_tensor(classes)[None])[0]
    untold = _guided_by_refeeding(model, classes, 1.0, 12, "6/8")
    assert np.array_equal(told, untold)  # guidance 1 is the plain draw


def test_condition_dropout_gives_each_condition_an_untold_class_hidden_in_training_only():
    model = _model(condition_dropout=0.5)
    sizes = model.conditioning.sizes
    # meter and key (one class more each), then the bar-position classes
    assert [e.num_embeddings for e in model.net.condition_embeddings][:2] == [n + 1 for n in sizes]
    assert model.untold_conditions().tolist() == list(sizes)
    features = model.representation.num_features
    x = torch.zeros(400, 3, features + 2 + 2)  # element, meter and key, then the two bar-position classes
    x[..., features] = 1
    x[..., features + 1] = 5
    x[..., features + 2 :] = 7
    model.train()
    hidden = model.hide_conditions(x)
    untold_rows = (hidden[:, :, features : features + 2] == model.untold_conditions().float()).all(-1).all(-1)
    assert 0.35 < untold_rows.float().mean() < 0.65
    assert torch.equal(hidden[~untold_rows], x[~untold_rows])
    assert torch.equal(hidden[..., features + 2 :], x[..., features + 2 :])  # the bar positions stay
    assert torch.equal(x[..., features], torch.ones(400, 3))  # the batch itself is untouched
    model.eval()
    assert torch.equal(model.hide_conditions(x), x)
    plain = _model(condition_dropout=0.0)
    assert plain.untold_conditions() is None
    assert [e.num_embeddings for e in plain.net.condition_embeddings][:2] == list(sizes)


def test_guidance_needs_a_model_trained_with_condition_dropout_and_class_outputs():
    plain = _model(condition_dropout=0.0)
    with pytest.raises(
        MelodygenError, match=r"^samples.guidance=2.0: this is a model trained without condition"
    ):
        sample_melodies(plain, 1, 4, conditions={"key": "D major"}, guidance=2.0)
    with pytest.raises(MelodygenError, match=r"^samples.guidance=2.0: this is an unconditioned model"):
        sample_melodies(MelodyModel("categorical", hidden_size=8), 1, 4, guidance=2.0)
    with pytest.raises(
        MelodygenError, match=r"^guidance=2 is not allowed: works with samples.strategy=sample only"
    ):
        sample_melodies(_model(), 1, 4, strategy="beam", beam_size=2, guidance=2)
    with pytest.raises(MelodygenError, match=r"^guidance=-1 is not allowed: must not be negative"):
        sample_melodies(_model(), 1, 4, guidance=-1)
    with pytest.raises(ValueError, match="needs conditions"):
        MelodyModel("categorical", hidden_size=8, condition_dropout=0.1)


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["model.condition_dropout=0.1"], "model.condition_dropout=0.1 is not allowed: it hides the conditions, so it needs model.conditions"),
        (["model.conditions=[key]", "model.condition_dropout=1.0"], "model.condition_dropout=1.0 is not allowed: must be in [0, 1)"),
        (["model.conditions=[key]", "samples.guidance=2"], "samples.guidance=2.0 is not allowed: needs a model trained with"),
    ],
)  # fmt: skip
def test_a_training_config_that_cannot_guide_is_one_line_before_training(tmp_path, tune_dir, overrides, line):
    cfg = compose_train(tmp_path, tune_dir, *overrides)
    with pytest.raises(MelodygenError) as error:
        check_train(cfg)
    assert str(error.value).startswith(line)


def test_a_model_trained_with_condition_dropout_keeps_it_in_its_checkpoint_and_is_guided(tmp_path, meter_dir):
    """A real Trainer fits a meter-conditioned model with condition dropout on real MIDI files; its checkpoint
    loads with the untold classes, and guided samples carry the meter asked for."""
    datamodule = MelodyDataModule(
        midi_dir=str(meter_dir), cache_dir=str(tmp_path / "cache"), seq_len=8, batch_size=8, val_fraction=0.0,
        test_fraction=0.0, conditions=["meter"], bar_position=True, progress=False,
    )  # fmt: skip
    conditioning = datamodule.fit_conditioning()
    pl.seed_everything(0, verbose=False)
    model = MelodyModel("categorical", hidden_size=16, num_layers=1, embedding_dim=8, bar_position=True,
                        condition_dropout=0.3, **conditioning.hparams())  # fmt: skip
    trainer = pl.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(model, datamodule=datamodule)
    trainer.save_checkpoint(tmp_path / "guided.ckpt")
    loaded = load_model(tmp_path / "guided.ckpt")
    assert loaded.hparams["condition_dropout"] == 0.3
    assert torch.equal(loaded.untold_conditions(), model.untold_conditions())
    assert loaded.conditioning.known("meter") == ["4/4", "6/8"]
    melodies = sample_melodies(loaded, 3, 12, seed=0, conditions={"meter": "6/8"}, guidance=3.0, bars=2)
    assert all(m.meta["time_signature"] == (6, 8) and m.total_steps == 24 for m in melodies)
