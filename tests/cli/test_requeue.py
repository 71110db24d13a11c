"""Hydra's submitit_local launcher: a real sweep, and a job that is preempted, requeued and resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import QUIET_SMALL_RUN
from wandb_records import read_run

EPOCHS, BATCHES = 20, 10


def submitit_tasks(sweep: Path) -> list[int]:
    """The processes submitit started to run the sweep's jobs (``python -m submitit.core._submit <folder>``)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "submitit.core._submit" in text and str(sweep) in text:
            pids.append(int(cmdline.parent.name))
    return pids


@pytest.mark.slow
def test_a_preempted_job_is_requeued_and_resumes_to_the_same_step(tmp_path, tune_dir):
    sweep = tmp_path / "sweep"
    command = [
        sys.executable, "-m", "melodygen.cli.train", "-m", "hydra/launcher=submitit_local",
        f"data.midi_dir={tune_dir}", *QUIET_SMALL_RUN, "data.batch_size=4", f"trainer.max_epochs={EPOCHS}",
        f"trainer.limit_train_batches={BATCHES}", "samples.num_samples=0", "callbacks.sample_monitor=null",
        "callbacks.early_stopping=null",  # every epoch runs, however the validation loss goes
        "logger=wandb", "model.hidden_size=8,16", f"hydra.sweep.dir={sweep}",
    ]  # fmt: skip
    env = {**os.environ, "MELODYGEN_ROOT": str(tmp_path), "WANDB_MODE": "offline", "WANDB_API_KEY": ""}
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    jobs = [sweep / "0", sweep / "1"]
    deadline = time.monotonic() + 180
    while not all((job / "checkpoints" / "last.ckpt").is_file() for job in jobs):  # an epoch done in each
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.1)
    runs = [json.loads((job / "wandb_run.json").read_text())["id"] for job in jobs]
    tasks = submitit_tasks(sweep)
    assert len(tasks) == 2
    for pid in tasks:  # what submitit's controller or SLURM sends before a time limit or on preemption
        os.kill(pid, signal.SIGUSR2)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    logs = "".join(path.read_text() for path in sweep.glob(".submitit/*/*_log.*"))
    assert logs.count("SIGUSR2: saving after this training batch") == 2 and logs.count("saved epoch") == 2
    assert logs.count("resuming a preempted job from") == 2
    for job, run in zip(jobs, runs):
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["global_step"] == EPOCHS * BATCHES  # as if it had never stopped
        assert not (job / "preempted.json").exists() and not (job / "checkpoints" / "preempted.ckpt").exists()
        assert json.loads((job / "wandb_run.json").read_text())["id"] == run  # the same W&B run goes on
        assert {p.name.rsplit("-", 1)[-1] for p in job.glob("wandb/offline-run-*")} == {run}
        assert len(list(job.glob("wandb/offline-run-*"))) == 2
        # the requeued job went on from the step it saved, not from step 0: the steps its W&B run logged
        # start where the preempted one's stopped
        steps = sorted(
            [row["trainer/global_step"] for row in read_run(path)["history"] if "trainer/global_step" in row]
            for path in job.glob("wandb/offline-run-*/run-*.wandb")
        )
        assert steps[0] and steps[1] and min(steps[1]) >= max(steps[0]) >= BATCHES
    # under submitit too, each run is named after its own swept value, not the sweep's whole command line
    names = {
        read_run(path)["run"]["name"] for job in jobs for path in job.glob("wandb/offline-run-*/run-*.wandb")
    }
    assert names == {"hidden_size=8", "hidden_size=16"}


def test_a_slurm_sweep_asks_for_one_task_per_gpu_and_a_requeue_signal(tmp_path, tune_dir):
    # stand-ins for SLURM's commands: sbatch keeps the script Hydra's submitit launcher writes
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/job.sbatch\necho "Submitted batch job 4242"\n')
    sbatch.chmod(0o755)
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit checks that it is on a SLURM node
    (bin_dir / "srun").chmod(0o755)
    env = {
        **os.environ, "MELODYGEN_ROOT": str(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }  # fmt: skip
    command = [
        sys.executable, "-m", "melodygen.cli.train", "-m", "hydra/launcher=slurm", "trainer=slurm",
        "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4", "hydra.launcher.nodes=2",
        "hydra.launcher.timeout_min=90", f"data.midi_dir={tune_dir}", "model.hidden_size=256",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (tmp_path / "job.sbatch").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.kill()  # it would now wait for SLURM to run the job
    proc.wait()
    script = (tmp_path / "job.sbatch").read_text()
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",  # one task per GPU: Lightning's SLURM environment makes the ranks
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --time=90",
        "#SBATCH --signal=USR2@120",  # two minutes' warning before the time limit: save, requeue
    ):
        assert line in script, script
