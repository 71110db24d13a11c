"""scripts/bench_idyom.py end to end on small folders: folds, pretraining without the set, every step scored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_tune_folder

from melodygen.data.parsed import parse_midi_folder

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_idyom.py"
TINY = [
    "model.hidden_size=16",
    "model.embedding_dim=8",
    "data.seq_len=16",
    "data.batch_size=8",
    "trainer.max_epochs=1",
]


@pytest.mark.slow
def test_the_benchmark_scores_every_note_of_every_fold_once_and_leaves_the_set_out_of_pretraining(tmp_path):
    melody_set = write_tune_folder(tmp_path / "set", seed=1, count=12)
    corpus = write_tune_folder(tmp_path / "corpus", seed=2, count=16)
    for name in ("tune02.mid", "tune07.mid", "tune09.mid"):  # the set's tunes, under other names
        shutil.copy(melody_set / name, corpus / f"also_{name}")
    out = tmp_path / "result.json"
    command = [sys.executable, str(SCRIPT), "--midi-dir", str(melody_set), "--folk-dir", str(corpus)]
    command += ["--folds", "2", "--models", "lstm,transformer", "--seeds", "2"]
    command += ["--json", str(out), "--markdown", str(tmp_path / "t.md")]
    done = subprocess.run(
        [*command, *TINY], cwd=tmp_path, env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    parsed = parse_midi_folder(melody_set, tmp_path / "data" / "cache", progress=False)
    assert result["melodies"] == 12 and result["models"] == ["lstm", "transformer"]
    assert result["notes"] == sum(parsed.melody(i).num_notes for i in range(12))
    assert result["without_key_signature"] == 12  # written without one: scored as written
    said = "left out of pretraining: 3 melodies; no melody of the set remains"
    assert done.stdout.count(said) == 4  # two pretrained models per architecture
    names = [
        "from scratch", "from scratch + adaptation", "from scratch + notated key", "pretrained",
        "+ fine-tuned", "+ adaptation", "+ notated key", "+ ensemble of 2 seeds",
    ]  # fmt: skip
    for model in ("lstm", "transformer"):
        steps = result["steps"][model]
        assert [step["step"] for step in steps] == names
        for step in steps:
            assert step["notes"] == result["notes"] and step["melodies"] == 12
            assert 0 < step["pitch_bits"] < 8 and 0 < step["duration_bits"] < 8  # below log2(130)
            assert 0 < step["val_pitch_bits"] < 8
            assert step["data"].startswith(
                "the set alone" if "scratch" in step["step"] else "the set + the folk"
            )
        assert len(steps[1]["rates"]) == len(steps[6]["rates"]) == 2  # a rate for each fold
    together = [r["step"] for r in result["together"]]
    assert together == [
        "from scratch, every architecture together",
        "pretrained, every architecture together",
    ]
    # the bold entries are the declared ones, whatever the test folds say
    assert result["declared"] == {
        "best": "pretrained, every architecture together",
        "like_for_like": "from scratch, every architecture together",
    }
    assert result["variants"]["best"] == result["together"][1]["pitch_bits"]
    assert result["published"] == {}  # IDyOM's figures are for the kinder set only
    table = (tmp_path / "t.md").read_text()
    assert "| from scratch | the set alone |" in table and "| + ensemble of 2 seeds |" in table
    assert table.count("**") == 4  # two bold entries
    # every fold's runs hold the script's folds, checked: a run that trained on other folds is refused
    (tmp_path / "other").mkdir()
    refused = subprocess.run(
        [*command[:-4], "--out", str(tmp_path / "other"), *TINY, "data.val_fraction=0.3"], cwd=tmp_path,
        env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "an override changed the folds" in refused.stderr.strip().splitlines()[-1], refused.stderr[-2000:]
    # run again: every training run is found in place, nothing is trained twice
    again = subprocess.run(
        [*command, *TINY], cwd=tmp_path, env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert again.returncode == 0 and "  trained " not in again.stdout, again.stdout[-2000:]
    assert json.loads(out.read_text())["steps"] == result["steps"]
    # the declared best entry alone reads the same runs and scores them as the whole ladder did
    best = subprocess.run(
        [*command, "--best-only", *TINY], cwd=tmp_path, env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert best.returncode == 0 and "  trained " not in best.stdout, best.stdout[-2000:]
    alone = json.loads(out.read_text())
    assert "from scratch" not in best.stdout and best.stdout.count(said) == 2  # one pretraining each
    for model in ("lstm", "transformer"):
        assert alone["steps"][model] == result["steps"][model][-2:]  # + notated key, + ensemble
    assert alone["together"] == result["together"][1:]
    assert alone["declared"] == {"best": "pretrained, every architecture together"}
    assert alone["variants"]["best"] == result["variants"]["best"]


def test_the_set_alone_is_scored_without_pretraining_and_with_bar_positions(tmp_path):
    melody_set = write_tune_folder(tmp_path / "set", seed=1, count=10)
    out = tmp_path / "result.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--midi-dir",
        str(melody_set),
        "--folk-dir",
        str(tmp_path / "none"),
    ]
    command += ["--folds", "2", "--set-alone", "--json", str(out), *TINY, "data.bar_position=true"]
    done = subprocess.run(
        command, cwd=tmp_path, env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    steps = [step["step"] for step in result["steps"]["lstm"]]
    assert steps == ["from scratch", "from scratch + adaptation", "from scratch + notated key"]
    assert all(step["melodies"] == 10 and 0 < step["pitch_bits"] < 8 for step in result["steps"]["lstm"])
    assert result["declared"] == {"like_for_like": "from scratch + notated key"}
    assert "pretraining" not in done.stdout
    checkpoint = next((tmp_path / "outputs" / "bench_idyom" / "set" / "lstm").rglob("best*.ckpt"))
    assert torch.load(checkpoint, weights_only=True)["hyper_parameters"]["bar_position"] is True


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--midi-dir", "nowhere"], "error: data.midi_dir="),
        (["model.hiden_size=3"], "error: model.hiden_size is not a setting: did you mean model.hidden_size?"),
        (["--set-alone", "--best-only"], "error: --set-alone and --best-only"),
    ],
)
def test_a_mistake_is_one_line(tmp_path, arguments, said):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments], cwd=tmp_path,
        env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith(said) and "Traceback" not in done.stderr, (
        done.stderr
    )
