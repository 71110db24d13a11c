"""A run whose loss turns NaN stops with one line, keeps its last good checkpoint, and a sweep goes on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import QUIET_SMALL_RUN_NO_SAMPLES, run_cli

TESTS = Path(__file__).resolve().parents[1]
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
RUN = [
    *QUIET_SMALL_RUN_NO_SAMPLES,
    "trainer.max_epochs=3",
    "callbacks.model_checkpoint.last_every_n_steps=3",
    "+callbacks.poison._target_=probes.PoisonWeights",
]


@pytest.mark.slow
def test_a_diverged_run_stops_with_one_line_and_keeps_its_last_good_checkpoint(tmp_path, tune_dir):
    run_dir = tmp_path / "run"
    result = run_cli(
        "train", tmp_path, f"data.midi_dir={tune_dir}", *RUN, "+callbacks.poison.at_step=5",
        f"hydra.run.dir={run_dir}", env=ENV,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line == (
        "error: train/loss is nan at epoch 1, step 6: training diverged; lower model.lr (now 0.01) or set "
        "trainer.gradient_clip_val. The last checkpoint saved before it is kept"
    )
    assert not (run_dir / "metrics.json").exists()
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 4  # the end of epoch 0: nothing after the NaN was saved
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values())


@pytest.mark.slow
def test_a_sweep_goes_on_past_a_diverged_job_and_compare_names_the_reason(tmp_path, tune_dir):
    result = run_cli(
        "train", tmp_path, "-m", f"data.midi_dir={tune_dir}", *RUN, "+callbacks.poison.at_step=5,100000",
        env=ENV,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    assert not (sweep / "0" / "metrics.json").exists() and (sweep / "1" / "metrics.json").is_file()
    compare = subprocess.run(
        [sys.executable, "-m", "melodygen.cli.compare", str(sweep), "--out", str(tmp_path / "compare")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert compare.returncode == 0, compare.stderr
    assert "failed: 0 (callbacks.poison.at_step=5): train/loss is nan at epoch 1, step 6" in compare.stdout
