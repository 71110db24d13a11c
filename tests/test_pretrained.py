"""The pretrained models that ship in the package: they load, match their recipes, and work with no data."""

from __future__ import annotations

import json
import re

import pretty_midi
import pytest
from conftest import write_tune_folder
from helpers import run_cli
from hydra import compose, initialize_config_dir

from melodygen import pretrained
from melodygen.cli.app import config_dir
from melodygen.config import register_configs
from melodygen.config.runs import check_generate, check_train
from melodygen.errors import MelodygenError
from melodygen.models import load_model

NAMES = list(pretrained.MODELS)


def composed(config_name: str, *overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name, overrides=list(overrides))


def test_every_pretrained_model_ships():
    assert set(pretrained.available()) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_is_its_recipe_trained_and_carded(name):
    """The weights are what ``make pretrained`` makes from ``conf/experiment/<recipe>.yaml``, and the card
    gives the figures of those weights."""
    recipe, _ = pretrained.MODELS[name]
    cfg = composed("train", f"experiment={recipe}")
    model = load_model(pretrained.checkpoint_of(name))
    hp = model.hparams
    assert hp.architecture == cfg.model.architecture and hp.representation == cfg.data.representation
    assert (hp.hidden_size, hp.num_layers) == (cfg.model.hidden_size, cfg.model.num_layers)
    assert bool(hp.bar_position) == cfg.data.bar_position
    assert list(model.conditioning.names) == list(cfg.model.conditions)
    card = pretrained.card(name).read_text()
    assert (
        f"experiment={recipe}`" in card
        and f"{sum(p.numel() for p in model.parameters()):,} parameters" in card
    )
    test_bits = re.search(r"^\| test \| ([0-9.]+) \|", card, re.M)
    assert test_bits and 1.0 < float(test_bits.group(1)) < 5.0, card
    # packed for any machine: no optimizer state, and no path of the machine it was trained on
    ckpt = pretrained.available()[name]
    assert ckpt.stat().st_size < 3_000_000
    from melodygen.models.checkpoint import read_checkpoint

    contents = read_checkpoint(ckpt)
    assert "optimizer_states" not in contents
    assert contents["datamodule_hyper_parameters"]["midi_dir"] == "data/folk"


def test_a_conditioned_pretrained_model_writes_jigs_in_d_with_no_data(tmp_path):
    """Right after install: no corpus, no training, a fresh folder."""
    out = tmp_path / "jigs"
    proc = run_cli(
        "generate",
        tmp_path,
        "pretrained=folk-transformer-conditioned",
        "samples.meter=6/8",
        "samples.key=D",
        "samples.bars=8",
        "samples.num_samples=2",
        f"out_dir={out}",
        "png=false",
        "wav=false",
        env={"CI": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(out.glob("*.mid"))
    assert len(files) == 2
    for path in files:
        midi = pretty_midi.PrettyMIDI(str(path))
        (signature,) = midi.time_signature_changes
        assert (signature.numerator, signature.denominator) == (6, 8)
        assert [pretty_midi.key_number_to_key_name(k.key_number) for k in midi.key_signature_changes] == [
            "D Major"
        ]
        bar = 3 * 60.0 / midi.get_tempo_changes()[1][0]  # six eighths: three quarter notes
        assert midi.instruments[0].notes[-1].end == pytest.approx(8 * bar, abs=1e-3)  # 8 whole bars
    assert not (tmp_path / "data").exists()


def test_pretrained_names_resolve_where_checkpoint_paths_go(tmp_path):
    cfg = composed("generate", "ckpt_path=pretrained:folk-lstm")
    check_generate(cfg)
    assert cfg.ckpt_path == pretrained.checkpoint_of("folk-lstm")

    tunes = write_tune_folder(tmp_path / "tunes", count=4)
    overrides = [f"paths.root_dir={tmp_path}", f"data.midi_dir={tunes}"]
    cfg = composed("train", *overrides, "init_from=pretrained:folk-transformer")
    check_train(cfg)
    assert cfg.init_from == pretrained.checkpoint_of("folk-transformer")

    cfg = composed("train", *overrides, "ckpt_path=pretrained:folk-lstm")
    with pytest.raises(
        MelodygenError, match="holds no optimizer state to resume; fine-tune it with init_from="
    ):
        check_train(cfg)

    for bad, message in [
        (
            ["pretrained=folk-lsm"],
            r"pretrained='folk-lsm' is not a pretrained model \(there are: folk-lstm, ",
        ),
        (["ckpt_path=pretrained:nope"], r"ckpt_path='pretrained:nope' is not a pretrained model"),
        (["pretrained=folk-lstm", "ckpt_path=x.ckpt"], "give one of them, not both"),
        ([], r"ckpt_path is required, .* or melodygen-generate pretrained=folk-lstm"),
    ]:
        with pytest.raises(MelodygenError, match=message):
            check_generate(composed("generate", *bad))


def test_a_pretrained_model_is_scored_on_your_folder(tmp_path):
    tunes = write_tune_folder(tmp_path / "tunes", seed=5, count=5)
    proc = run_cli("evaluate", tmp_path, "pretrained=folk-lstm", f"data.midi_dir={tunes}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "evaluate" / "runs").iterdir()
    record = json.loads((run / "evaluation.json").read_text())
    (scored,) = record["checkpoints"]
    assert scored["checkpoint"] == pretrained.checkpoint_of("folk-lstm")
    assert record["melodies"] == 5 and scored["overall"]["all/bits"] > 0


def test_a_pretrained_model_fine_tunes_on_your_folder(tmp_path):
    tunes = write_tune_folder(tmp_path / "tunes", seed=7, count=8)
    proc = run_cli(
        "train",
        tmp_path,
        "init_from=pretrained:folk-lstm",
        f"data.midi_dir={tunes}",
        "trainer.max_epochs=1",
        "data.val_fraction=0.25",
        "data.test_fraction=0",
        "test=false",
        "samples.num_samples=0",
        "callbacks.sample_monitor=null",
        "trainer.enable_progress_bar=false",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"weights from init_from={pretrained.checkpoint_of('folk-lstm')}" in proc.stdout + proc.stderr
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    tuned = load_model(run / "checkpoints" / "last.ckpt")
    start = load_model(pretrained.checkpoint_of("folk-lstm"))
    assert tuned.hparams.hidden_size == start.hparams.hidden_size == 128  # the shape came from it
    moved = [(a - b).abs().max().item() for a, b in zip(tuned.parameters(), start.parameters(), strict=True)]
    assert 0 < max(moved) < 1.0  # it trained on from those weights
