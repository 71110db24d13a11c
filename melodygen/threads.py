"""How many threads a training job may use: its share of the machine, not all of it.

torch's intra-op pool takes every core by default. That is right for one job alone, and ruinous for jobs
that run side by side: on 2 cores, two trainings with 2 threads each ran up to 14× slower than with one
thread each. A job's share is, in order: ``threads=`` when given; SLURM's ``SLURM_CPUS_PER_TASK``; the
cores this process may use divided by the jobs the launcher runs at once (joblib's ``n_jobs``). DataLoader
worker processes come out of the share.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and SLURM narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parallel_jobs(launcher: Mapping[str, Any] | None, cores: int) -> int:
    """How many jobs Hydra's launcher runs at once on this machine (1 for the basic launcher)."""
    if not launcher or "joblib" not in str(launcher.get("_target_", "")):
        return 1
    n_jobs = int(launcher.get("n_jobs") or 1)
    return max(1, n_jobs if n_jobs > 0 else cores + 1 + n_jobs)  # joblib: -1 means every core


def job_threads(
    threads: int | None, launcher: Mapping[str, Any] | None = None, dataloader_workers: int = 0
) -> tuple[int, str]:
    """``(threads, why)`` for one job."""
    if threads:
        return threads, "threads="
    slurm = os.environ.get("SLURM_CPUS_PER_TASK")
    if slurm and slurm.isdigit():
        share, why = int(slurm), f"SLURM_CPUS_PER_TASK={slurm}"
    else:
        cores = usable_cores()
        jobs = parallel_jobs(launcher, cores)
        share, why = max(1, cores // jobs), f"{cores} cores / {jobs} parallel job(s)"
    if dataloader_workers:
        why += f" - {dataloader_workers} DataLoader worker(s)"
    return max(1, share - dataloader_workers), why
