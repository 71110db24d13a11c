"""A job's threads: its share of the cores, never all of them when jobs run side by side."""

import pytest

from melodygen.runtime.threads import job_threads, parallel_jobs, usable_cores

JOBLIB = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2}
BASIC = {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}


@pytest.fixture(autouse=True)
def no_slurm(monkeypatch):
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)


def test_parallel_jobs_by_launcher():
    assert parallel_jobs(BASIC, 8) == 1 and parallel_jobs(None, 8) == 1
    assert parallel_jobs(JOBLIB, 8) == 2
    assert parallel_jobs({**JOBLIB, "n_jobs": -1}, 8) == 8  # joblib: -1 is every core
    assert parallel_jobs({**JOBLIB, "n_jobs": -2}, 8) == 7


def test_a_job_takes_its_share_of_the_cores():
    cores = usable_cores()
    assert job_threads(None, BASIC) == (cores, f"{cores} cores / 1 parallel job(s)")
    assert job_threads(None, JOBLIB)[0] == max(1, cores // 2)
    assert job_threads(None, {**JOBLIB, "n_jobs": 64})[0] == 1  # never below one


def test_an_explicit_count_slurm_and_dataloader_workers(monkeypatch):
    assert job_threads(3, JOBLIB) == (3, "threads=")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "6")
    assert job_threads(None, JOBLIB, dataloader_workers=2) == (
        4,
        "SLURM_CPUS_PER_TASK=6 - 2 DataLoader worker(s)",
    )


def test_jobs_beside_each_other_share_the_cores_and_the_last_one_takes_them_all(tmp_path):
    import socket
    import subprocess

    import torch

    from melodygen.runtime.threads import CoreShare, shares_cores

    assert shares_cores(None, JOBLIB) and not shares_cores(2, JOBLIB) and not shares_cores(None, BASIC)
    local = {"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"}
    assert shares_cores(None, local)  # it starts every job at once
    folder = tmp_path / ".running"
    neighbour = subprocess.Popen(["sleep", "60"])
    before = torch.get_num_threads()
    try:
        with CoreShare(folder, cores=8, reserved=1) as share:
            assert share.running() == 1 and share.threads() == 7
            (folder / f"{socket.gethostname()}-{neighbour.pid}").touch()  # a job beside this one
            (folder / f"{socket.gethostname()}-999999999").touch()  # a killed job's leftover
            (folder / f"elsewhere-{neighbour.pid}").touch()  # a job on another machine
            assert share.running() == 2 and share.apply() == 3 and torch.get_num_threads() == 3
            neighbour.kill()
            neighbour.wait()
            assert share.running() == 1 and share.apply() == 7 and torch.get_num_threads() == 7
        assert not share.entry.exists()
    finally:
        neighbour.kill()
        torch.set_num_threads(before)
