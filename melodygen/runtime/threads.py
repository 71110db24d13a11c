"""How many threads a training job may use: its share of the machine, not all of it.

torch's intra-op pool takes every core by default. That is right for one job alone, and ruinous for jobs
that run side by side: on 2 cores, two trainings with 2 threads each ran up to 14× slower than with one
thread each. A job's share is, in order: ``threads=`` when given; SLURM's ``SLURM_CPUS_PER_TASK``; the
cores this process may use divided by the jobs the launcher runs at once (joblib's ``n_jobs``). DataLoader
worker processes come out of the share.

A fixed share wastes cores at the end of a sweep: when one job is left, it still runs on its half. So the
jobs of a joblib sweep also register in ``<sweep dir>/.running/`` (:class:`CoreShare`), and each one
re-divides the cores by the jobs still running every few batches: the last job takes the whole machine.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and SLURM narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parallel_jobs(launcher: Mapping[str, Any] | None, cores: int | None = None) -> int:
    """How many jobs Hydra's launcher runs at once on this machine (1 for the basic launcher)."""
    if not launcher or "joblib" not in str(launcher.get("_target_", "")):
        return 1
    n_jobs = int(launcher.get("n_jobs") or 1)
    cores = cores or usable_cores()
    return max(1, n_jobs if n_jobs > 0 else cores + 1 + n_jobs)  # joblib: -1 means every core


def shares_cores(threads: int | None, launcher: Mapping[str, Any] | None) -> bool:
    """Whether a job's share changes as the jobs beside it start and finish: a joblib or local submitit
    sweep, without ``threads=`` or SLURM's count."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if threads or slurm.isdigit():
        return False
    # submitit's local launcher starts every job of the sweep at once, however many there are
    local_submitit = "submitit" in str((launcher or {}).get("_target_", "")) and "Local" in str(
        launcher["_target_"]
    )
    return local_submitit or parallel_jobs(launcher, usable_cores()) > 1


def job_threads(
    threads: int | None,
    launcher: Mapping[str, Any] | None = None,
    dataloader_workers: int = 0,
    ranks: int = 1,
) -> tuple[int, str]:
    """``(threads, why)`` for one job, or for each of its ``ranks`` DDP processes on this machine."""
    if threads:
        return threads, "threads="
    slurm = os.environ.get("SLURM_CPUS_PER_TASK")
    if slurm and slurm.isdigit():
        share, why = int(slurm), f"SLURM_CPUS_PER_TASK={slurm}"
    else:
        cores = usable_cores()
        jobs = parallel_jobs(launcher, cores)
        share, why = max(1, cores // jobs), f"{cores} cores / {jobs} parallel job(s)"
    if ranks > 1:
        share, why = share // ranks, f"{why} / {ranks} DDP processes"
    if dataloader_workers:
        why += f" - {dataloader_workers} DataLoader worker(s)"
    return max(1, share - dataloader_workers), why


class CoreShare:
    """This machine's cores divided among the jobs of one sweep that run on it now.

    Used as a context manager around a job: it registers the job (a file named after the host and
    process in ``folder``) and removes it at the end; :meth:`apply` sets torch's threads to
    ``cores // running jobs - reserved``. A file left by a killed job is ignored once its process is gone.
    """

    def __init__(self, folder: str | Path, cores: int | None = None, reserved: int = 0, ranks: int = 1):
        self.folder, self.cores, self.reserved = Path(folder), cores or usable_cores(), reserved
        self.ranks = max(1, ranks)  # DDP processes of this job on this machine share its part
        self.host = socket.gethostname()
        self.entry = self.folder / f"{self.host}-{os.getpid()}"

    def __enter__(self) -> CoreShare:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.entry.touch()
        return self

    def __exit__(self, *exc_info) -> None:
        # the folder stays: removing it could race a job that starts as this one ends
        self.entry.unlink(missing_ok=True)

    def running(self) -> int:
        """Jobs of the sweep registered on this host whose process is alive (this one included)."""
        alive = 0
        for path in self.folder.glob(f"{self.host}-*"):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and _is_alive(int(pid)):
                alive += 1
        return max(1, alive)

    def threads(self, running: int | None = None) -> int:
        running = running or self.running()
        return max(1, self.cores // running // self.ranks - self.reserved)

    def apply(self) -> int:
        """Set torch's intra-op threads to this job's share now; returns it."""
        import torch

        running = self.running()
        threads = self.threads(running)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            log.info("threads: %d (%d cores / %d running job(s))", threads, self.cores, running)
        return threads


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
