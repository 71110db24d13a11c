"""DDP inside a Hydra multirun, on the CPU with 2 gloo processes per job: each job's ranks run that job."""

import json
import os
from pathlib import Path

import pytest
from helpers import QUIET_SMALL_RUN, run_cli

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
