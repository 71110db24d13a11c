"""One job per GPU: the jobs of a parallel sweep on one machine spread evenly over its GPUs.

With ``hydra/launcher=joblib hydra.launcher.n_jobs=N`` on a machine with several GPUs, every job would
otherwise train on GPU 0. Here each job takes ``trainer.devices`` GPUs (a count) from the machine's
visible GPUs: it locks a free slot in ``<sweep dir>/.gpus/`` (``flock``, released by the kernel when the
job ends or dies) and trains on ``trainer.devices=[its GPU ids]``. A job number does not decide the GPU,
because jobs finish in any order: a job always gets the GPUs that the fewest running jobs hold. With no
more jobs than GPUs that means GPUs of its own; with more (joblib's default is one job per core), the
GPUs are shared as evenly as the count allows.
"""

from __future__ import annotations

import fcntl
import math
import os
from pathlib import Path

from melodygen.errors import MelodygenError


def visible_gpus() -> list[int]:
    """The CUDA device indices this process can use (0 … n-1, as torch numbers them)."""
    import torch

    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


class GpuSlot:
    """Hold ``per_job`` of ``gpus`` for as long as the context lasts: GPUs no other job of the sweep holds,
    or, when ``jobs_per_gpu`` > 1, those the fewest other jobs hold (at most ``jobs_per_gpu`` jobs each)."""

    def __init__(self, folder: str | Path, gpus: list[int], per_job: int, jobs_per_gpu: int = 1):
        if per_job < 1 or per_job > len(gpus):
            raise MelodygenError(
                f"trainer.devices={per_job}: a job cannot take {per_job} of the {len(gpus)} visible GPU(s)"
            )
        self.folder, self.gpus, self.per_job, self.jobs_per_gpu = Path(folder), gpus, per_job, jobs_per_gpu
        self.taken: list[int] = []
        self._handle = None

    def __enter__(self) -> list[int]:
        self.folder.mkdir(parents=True, exist_ok=True)
        last = len(self.gpus) - self.per_job
        groups = [self.gpus[first : first + self.per_job] for first in range(0, last + 1, self.per_job)]
        # the first seat of every group before any second seat: the load stays even
        for seat in range(self.jobs_per_gpu):
            for ids in groups:
                if self._lock(f"slot-{'-'.join(map(str, ids))}" + (f"-{seat}" if seat else "")):
                    self.taken = ids
                    return ids
        raise MelodygenError(
            f"no free GPU for this job: every {self.per_job}-GPU slot of GPUs {self.gpus} is held by "
            f"{self.jobs_per_gpu} job(s) beside it; run at most {len(groups) * self.jobs_per_gpu} jobs at once "
            "(hydra.launcher.n_jobs)"
        )

    def _lock(self, name: str) -> bool:
        handle = open(self.folder / f"{name}.lock", "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def __exit__(self, *exc_info) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def gpus_for_jobs(accelerator: str, devices, parallel: int, gpus: list[int]) -> int | None:
    """How many GPUs each job of a parallel sweep takes, or None when jobs need no GPU assignment.

    Jobs are spread over the GPUs when several run at once on a machine with GPUs, train on a GPU
    (``accelerator`` gpu, cuda or auto) and ask for a count of devices.
    """
    if parallel < 2 or not gpus or accelerator not in ("auto", "gpu", "cuda"):
        return None
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    if not isinstance(devices, int) or isinstance(devices, bool) or devices < 1:
        return None  # an explicit list of GPU ids, or "auto": the user's choice stands
    if devices > len(gpus):
        raise MelodygenError(f"trainer.devices={devices}: this machine has {len(gpus)} GPU(s)")
    return devices


def jobs_per_gpu(parallel: int, per_job: int, gpus: list[int]) -> int:
    """How many of ``parallel`` jobs of ``per_job`` GPUs each must share a GPU: 1 while they fit apart."""
    return math.ceil(parallel / (len(gpus) // per_job))
