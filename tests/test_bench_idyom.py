"""scripts/bench_idyom.py end to end on small folders: folds, pretraining without the set, every step scored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
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
    command += ["--folds", "3", "--json", str(out), "--markdown", str(tmp_path / "t.md")]
    done = subprocess.run(
        [*command, *TINY], cwd=tmp_path, env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    parsed = parse_midi_folder(melody_set, tmp_path / "data" / "cache", progress=False)
    assert result["melodies"] == 12
    assert result["notes"] == sum(parsed.melody(i).num_notes for i in range(12))
    assert result["left_out_of_pretraining"] == 3
    said = "left out of pretraining: 3 melodies; no melody of the set remains"
    assert done.stdout.count(said) == 2  # both pretrained models
    names = [step["step"] for step in result["steps"]]
    assert names == [
        "from scratch", "pretrained", "+ fine-tuned", "+ adaptation", "+ notated key", "+ ensemble of 2"
    ]  # fmt: skip
    for step in result["steps"]:
        assert step["notes"] == result["notes"] and step["melodies"] == 12
        assert (
            0 < step["pitch_bits"] < 8 and 0 < step["duration_bits"] < 8
        )  # below a uniform guess's log2(130)
    assert result["variants"]["from_scratch"] == result["steps"][0]["pitch_bits"]
    assert result["variants"]["pretrained"] == result["steps"][2]["pitch_bits"]  # then fine-tuned
    assert result["variants"]["best"] == min(step["pitch_bits"] for step in result["steps"])
    assert len(result["steps"][3]["rates"]) == len(result["steps"][4]["rates"]) == 3  # a rate for each fold
    assert result["published"] == {}  # IDyOM's figures are for the kinder set only
    table = (tmp_path / "t.md").read_text()
    assert "| from scratch |" in table and "| + ensemble of 2 |" in table
    # run again: every training run is found in place, nothing is trained twice
    again = subprocess.run(
        [*command, *TINY], cwd=tmp_path, env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0 and "  trained " not in again.stdout, again.stdout[-2000:]
    assert json.loads(out.read_text())["steps"] == result["steps"]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--midi-dir", "nowhere"], "error: data.midi_dir="),
        (["model.hiden_size=3"], "error: model.hiden_size is not a setting: did you mean model.hidden_size?"),
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
