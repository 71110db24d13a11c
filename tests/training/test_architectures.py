"""Every architecture through training, resuming, fine-tuning, sampling and scoring, with real runs."""

import json

import numpy as np
import pytest
import torch
from helpers import QUIET_SMALL_RUN, REPRESENTATIONS, compose_train

from melodygen.errors import MelodygenError
from melodygen.evaluation.prediction import Adaptation, log_probs
from melodygen.evaluation.scoring import figures, melody_sums, total
from melodygen.generation.sampling import sample_melodies
from melodygen.models import NETWORKS, load_model, read_checkpoint
from melodygen.music.melody import Melody
from melodygen.training.train import train

ARCHITECTURES = sorted(NETWORKS)
#: small networks of each architecture (the Transformer's two heads of 8)
TINY = [*QUIET_SMALL_RUN, "model.hidden_size=16", "samples.num_samples=2", "samples.length=10"]


def _run(tmp_path, tune_dir, architecture, *more, name="run"):
    cfg = compose_train(tmp_path, tune_dir, f"model={architecture}", *TINY, *more)
    cfg.paths.output_dir = str(tmp_path / name)
    return train(cfg, [f"model={architecture}", *more]), tmp_path / name


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """One epoch of each architecture, trained once for every test that only reads its checkpoints (they
    load, sample, score, resume from or fine-tune them, and write nowhere inside the run)."""
    from conftest import write_tune_folder

    root = tmp_path_factory.mktemp("one_epoch")
    tunes = write_tune_folder(root / "tunes")
    runs = {}

    def run(architecture):
        if architecture not in runs:
            runs[architecture] = _run(root, tunes, architecture, "trainer.max_epochs=1", "samples.num_samples=0",
                                      name=architecture)[0]  # fmt: skip
        return runs[architecture]

    return run


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("representation", sorted(REPRESENTATIONS))
def test_each_network_trains_with_each_representation_and_samples(
    tmp_path, tune_dir, architecture, representation
):
    extra = ["model.num_heads=2"] if architecture == "transformer" else []
    metrics, run = _run(
        tmp_path,
        tune_dir,
        architecture,
        f"data.representation={representation}",
        "debug=fast_dev_run",
        *extra,
    )
    for key in ("val/loss", "val/pitch_bits", "val/duration_bits", "test/pitch_bits"):
        assert np.isfinite(metrics[key]), key
    assert len(list((run / "samples").glob("sample_*.mid"))) == 2
    hparams = read_checkpoint(run / "checkpoints" / "last.ckpt")["hyper_parameters"]
    assert hparams["architecture"] == architecture and hparams["representation"] == representation


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_checkpoint_of_each_network_samples_scores_and_adapts_like_the_trained_model(
    one_epoch, architecture
):
    metrics = one_epoch(architecture)
    model = load_model(metrics["best_checkpoint"])
    assert type(model.net).__name__.lower().startswith(architecture)
    again = load_model(metrics["best_checkpoint"])
    first = sample_melodies(model, 3, 20, seed=4)
    assert all(a.equals(b) for a, b in zip(first, sample_melodies(again, 3, 20, seed=4), strict=True))
    beam = sample_melodies(model, 2, 12, strategy="beam", beam_size=3)
    assert len(beam) == 2 and all(m.num_notes for m in beam)
    # a melody longer than the Transformer's context of 16 is scored the whole way through
    rng = np.random.default_rng(0)
    melody = Melody(rng.integers(55, 75, 90).astype(np.int16), rng.choice([2, 4], 90).astype(np.int16))
    sums = figures(total(melody_sums(model, [melody])))
    assert sums["notes"] == 90 and 0 < sums["all/pitch_bits"] < 8
    adapted = log_probs(model, [melody], adaptation=Adaptation(lr=0.05))[0]
    static = log_probs(model, [melody])[0]
    assert adapted.pitch.shape == static.pitch.shape == (90,)
    assert not np.allclose(adapted.pitch, static.pitch)  # it learned within the melody
    np.testing.assert_allclose(-static.pitch.sum() / 90, sums["all/pitch_bits"], rtol=1e-4)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_resuming_takes_the_architecture_from_the_checkpoint(tmp_path, tune_dir, one_epoch, architecture):
    first = one_epoch(architecture)
    cfg = compose_train(tmp_path, tune_dir, *TINY, "trainer.max_epochs=2", "samples.num_samples=0")
    cfg.paths.output_dir = str(tmp_path / "resumed")
    cfg.ckpt_path = first["last_checkpoint"]
    resumed = train(cfg, ["trainer.max_epochs=2"])  # no model= given: the checkpoint's is taken
    assert resumed["epochs"] == 2 and resumed["global_step"] == 2 * first["global_step"]
    hparams = read_checkpoint(resumed["last_checkpoint"])["hyper_parameters"]
    assert hparams["architecture"] == architecture and hparams["hidden_size"] == 16


def test_resuming_with_another_architecture_is_one_line(tmp_path, tune_dir, one_epoch):
    first = one_epoch("gru")
    cfg = compose_train(tmp_path, tune_dir, "model=transformer", *TINY, "trainer.max_epochs=2")
    cfg.ckpt_path = first["last_checkpoint"]
    with pytest.raises(
        MelodygenError,
        match=r"^model=transformer contradicts the checkpoint in ckpt_path, which has architecture=gru",
    ):
        train(cfg, ["model=transformer"])


def test_fine_tuning_another_architecture_keeps_what_the_experiment_set(tmp_path, tune_dir, one_epoch):
    first = one_epoch("transformer")
    cfg = compose_train(tmp_path, tune_dir, *TINY, "experiment=idyom_finetune", "trainer.max_epochs=1")
    cfg.paths.output_dir = str(tmp_path / "tuned")
    cfg.init_from = first["best_checkpoint"]
    tuned = train(cfg, ["experiment=idyom_finetune"])
    hparams = read_checkpoint(tuned["best_checkpoint"])["hyper_parameters"]
    assert hparams["architecture"] == "transformer" and hparams["hidden_size"] == 16
    assert hparams["lr"] == 0.0005  # the experiment's, carried to the Transformer's schema
    assert hparams["num_layers"] == 1 and hparams["context"] == 16


def test_the_transformer_warms_up_then_decays_its_learning_rate(tmp_path, tune_dir):
    _, run = _run(
        tmp_path, tune_dir, "transformer", "trainer.max_epochs=3", "model.warmup_steps=4",
        "samples.num_samples=0", "callbacks.sample_monitor=null", "logger=csv",
    )  # fmt: skip
    rows = (run / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    column = next(i for i, name in enumerate(header) if name.startswith("lr-"))
    rates = [float(r.split(",")[column]) for r in rows[1:] if r.split(",")[column]]
    # the LR monitor logs at each epoch's first step (0, 4, 8) of 12: a quarter of the way up the warm-up,
    # the schema's lr at its end, and half of it halfway down the cosine
    assert rates == pytest.approx([1e-3 / 4, 1e-3, 1e-3 / 2])
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 3


def test_a_primer_longer_than_the_transformers_context_is_cut_with_a_line(caplog):
    from melodygen.models import MelodyModel

    torch.manual_seed(0)
    model = MelodyModel(
        "categorical", architecture="transformer", hidden_size=16, num_heads=2, context=8
    ).eval()
    primer = Melody(np.arange(60, 72, dtype=np.int16), np.full(12, 2, dtype=np.int16))
    with caplog.at_level("WARNING", logger="melodygen.generation.sampling"):
        melodies = sample_melodies(model, 2, 5, primer=primer, seed=0)
    assert (
        "the primer is 13 elements long (with the start element), more than the model's context of 8"
        in caplog.text
    )
    assert "continues its last 8" in caplog.text
    assert all(len(m) >= 12 and np.array_equal(m.pitch[:12], primer.pitch) for m in melodies)
    # only the last 8 elements mattered: a primer with another beginning continues alike
    other = Melody(np.r_[np.arange(40, 45), primer.pitch[5:]].astype(np.int16), primer.duration)
    again = sample_melodies(model, 2, 5, primer=other, seed=0, include_primer=False)
    assert all(
        a.equals(b)
        for a, b in zip(
            sample_melodies(model, 2, 5, primer=primer, seed=0, include_primer=False), again, strict=True
        )
    )
