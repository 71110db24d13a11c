"""MidiTok tokenizations from the command line: train with a learned vocabulary, then generate and
evaluate from the checkpoint alone, elsewhere, with the training data gone; and the symusic reader."""

import json
import shutil

import pytest
import torch
from conftest import write_tune_folder
from helpers import QUIET_SMALL_RUN, run_cli

pytest.importorskip("miditok")

SMALL = [
    *QUIET_SMALL_RUN,
    "trainer.max_epochs=2",
    "samples.num_samples=2",
    "callbacks.sample_monitor.num_samples=2",
]


@pytest.mark.slow
def test_a_bpe_run_needs_nothing_but_its_checkpoint(tmp_path):
    midi = write_tune_folder(tmp_path / "midi", count=24)
    (tmp_path / "work").mkdir()
    proc = run_cli("train", tmp_path / "work", "data.representation=miditok", "data.tokenizer=REMI",
                   "data.tokenizer_vocab_size=400", "data.reader=symusic", f"data.midi_dir={midi}",
                   "logger=csv", *SMALL, "hydra.run.dir=run")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "work" / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["representation"] == "miditok REMI + BPE 400"
    assert metrics["val/bits"] > 0 and "val/pitch_bits" not in metrics  # merged tokens: the total alone
    saved = (run / "tokenizer.json").read_text()
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["tokenizer"] == saved
    assert "learned a vocabulary of 400 tokens (BPE) on the" in (run / "train.log").read_text()

    held_out = write_tune_folder(tmp_path / "held_out", seed=5, count=4)
    shutil.rmtree(midi)
    shutil.rmtree(tmp_path / "work" / "data")  # the parse cache too
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ckpt_path = run / "checkpoints" / "last.ckpt"
    proc = run_cli("generate", elsewhere, f"ckpt_path={ckpt_path}", "samples.num_samples=3", "wav=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((elsewhere / "outputs").rglob("sample_*.mid"))) == 3
    proc = run_cli("evaluate", elsewhere, f"ckpt_path={ckpt_path}", f"data.midi_dir={held_out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "miditok REMI + BPE 400" in proc.stdout
    (scores,) = (elsewhere / "outputs" / "evaluate" / "runs").rglob("evaluation.json")
    overall = json.loads(scores.read_text())["checkpoints"][0]["overall"]
    assert overall["all/bits"] > 0 and "all/pitch_bits" not in overall


def test_a_tokenizer_mistake_is_one_line(tmp_path):
    midi = write_tune_folder(tmp_path / "midi", count=4)
    proc = run_cli("train", tmp_path, "data.representation=miditok", "data.tokenizer=CPWord",
                   f"data.midi_dir={midi}", *SMALL)  # fmt: skip
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines()[-1].startswith("error: data.tokenizer=CPWord: melodygen reads one")
    )
