"""DDP inside a Hydra multirun, on the CPU with 2 gloo processes per job: each job's ranks run that job."""

import json
import os
import re
from pathlib import Path

import pytest
from helpers import QUIET_SMALL_RUN, QUIET_SMALL_RUN_NO_SAMPLES, run_cli

TESTS = Path(__file__).resolve().parents[1]
DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
# probes.py importable by every rank, beside whatever PYTHONPATH already holds
PYTHONPATH = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
ENV = {"WANDB_MODE": "offline", "WANDB_API_KEY": "", "PYTHONPATH": PYTHONPATH}


@pytest.mark.slow
def test_a_multirun_of_ddp_jobs_leaves_exactly_its_jobs(tmp_path, tune_dir):
    proc = run_cli(
        "train", tmp_path, "-m", f"data.midi_dir={tune_dir}", *QUIET_SMALL_RUN, *DDP, "trainer.max_epochs=2",
        "samples.num_samples=1", "logger=wandb", "model.hidden_size=8,16", "+callbacks.probe._target_=probes.BatchProbe",
        env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = tmp_path / "outputs"
    # no stray sweep or run directory: the ranks ran their job, not the sweep again
    assert [p.relative_to(outputs).as_posix() for p in outputs.glob("*/*")] == ["train/multiruns"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "outputs", "tunes"]  # nor anywhere else
    (sweep,) = (outputs / "train" / "multiruns").iterdir()
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    for job, hidden_size in ((sweep / "0", 8), (sweep / "1", 16)):
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["world_size"] == 2 and metrics["global_batch_size"] == 2 * 16
        assert (job / "checkpoints" / "last.ckpt").is_file()
        assert len(list(job.glob("wandb/offline-run-*"))) == 1  # one W&B run per job, from rank 0
        assert f"model.hidden_size={hidden_size}" in (job / ".hydra" / "overrides.yaml").read_text()
        probes = [json.loads((job / f"probe_rank{rank}.json").read_text()) for rank in (0, 1)]
        assert [p["world_size"] for p in probes] == [2, 2]
        assert {p["sampler"] for p in probes} == {"DistributedSampler"}
        assert probes[0]["digests"] and set(probes[0]["digests"]).isdisjoint(probes[1]["digests"])
    assert "batch: 16 windows per device × 2 device(s) × 1 accumulated = 32" in proc.stdout
    assert "sync_dist=True" not in proc.stderr


def test_ddp_spawn_is_refused_with_one_line(tmp_path, tune_dir):
    proc = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", "trainer.strategy=ddp_spawn")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: trainer.strategy='ddp_spawn' is not allowed: use trainer=ddp, which also works in a --multirun"
    ]


@pytest.mark.slow
def test_a_single_ddp_run_with_the_default_csv_logger(tmp_path, tune_dir):
    proc = run_cli("train", tmp_path, f"data.midi_dir={tune_dir}", *QUIET_SMALL_RUN_NO_SAMPLES, *DDP, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and "test/pitch_bits" in metrics
    rows = (run / "csv" / "metrics.csv").read_text().splitlines()
    assert "val/loss" in rows[0] and len(rows) > 1  # rank 0 wrote the CSV, and rank 1 left it alone


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_ddp_jobs_under_a_parallel_launcher_start_their_ranks_as_melodygen(tmp_path, tune_dir, launcher):
    # a job of these launchers runs in the launcher's worker process: its ranks must still be melodygen
    proc = run_cli(
        "train", tmp_path, "-m", f"hydra/launcher={launcher}", f"data.midi_dir={tune_dir}",
        *QUIET_SMALL_RUN_NO_SAMPLES, *DDP, "model.hidden_size=8,16", env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    for job in (sweep / "0", sweep / "1"):
        assert json.loads((job / "metrics.json").read_text())["world_size"] == 2
        # rank 1 was given this job's thread count rather than working one out on its own
        threads = int(re.search(r"threads: (\d+) \(", (job / "train.log").read_text()).group(1))
        assert f"threads: {threads} (threads=)" in (job / "train_ddp_process_1.log").read_text()
