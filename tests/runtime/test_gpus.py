"""One job per GPU: which GPUs each job of a parallel sweep gets, without needing a GPU to test it."""

import subprocess
import sys

import pytest

from melodygen.errors import MelodygenError
from melodygen.runtime.gpus import GpuSlot, gpus_for_jobs, jobs_per_gpu

HOLD = """
import sys, time
from melodygen.runtime.gpus import GpuSlot
with GpuSlot(sys.argv[1], [0, 1, 2, 3], 2) as ids:
    print(ids, flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(folder, seconds: float) -> tuple[subprocess.Popen, str]:
    """Another job: a process that takes a 2-GPU slot and keeps it for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    return proc, proc.stdout.readline().strip()


def test_which_jobs_get_gpus_of_their_own():
    four = [0, 1, 2, 3]
    assert gpus_for_jobs("gpu", 1, 4, four) == 1 and gpus_for_jobs("auto", "2", 2, four) == 2
    assert gpus_for_jobs("gpu", 1, 1, four) is None  # one job at a time: nothing to share
    assert gpus_for_jobs("auto", 1, 4, []) is None  # no GPU here
    assert gpus_for_jobs("cpu", 1, 4, four) is None
    assert gpus_for_jobs("gpu", [3], 4, four) is None  # the user named the GPUs
    assert gpus_for_jobs("auto", 1, 16, [0]) == 1  # more jobs than GPUs: they share (below)
    with pytest.raises(MelodygenError, match=r"^trainer.devices=5: this machine has 4 GPU\(s\)$"):
        gpus_for_jobs("gpu", 5, 2, four)


def test_how_many_jobs_share_a_gpu():
    assert jobs_per_gpu(4, 1, [0, 1, 2, 3]) == 1 and jobs_per_gpu(2, 2, [0, 1, 2, 3]) == 1
    assert jobs_per_gpu(5, 1, [0, 1, 2, 3]) == 2 and jobs_per_gpu(3, 2, [0, 1, 2, 3]) == 2
    assert jobs_per_gpu(16, 1, [0]) == 16  # joblib's default, one job per core, on a one-GPU machine


def test_jobs_beyond_the_gpus_spread_evenly_before_any_gpu_takes_a_third(tmp_path):
    folder = tmp_path / ".gpus"
    slots = [GpuSlot(folder, [0, 1], 1, jobs_per_gpu=2) for _ in range(5)]
    taken = [slot.__enter__() for slot in slots[:4]]
    assert taken == [[0], [1], [0], [1]]
    with pytest.raises(MelodygenError, match=r"held by 2 job\(s\) beside it; run at most 4 jobs at once"):
        slots[4].__enter__()
    slots[1].__exit__(None, None, None)  # the job on GPU 1 ends: the next job takes its place there
    assert slots[4].__enter__() == [1]
    for slot in (slots[0], *slots[2:]):
        slot.__exit__(None, None, None)


def test_running_jobs_never_share_a_gpu_and_a_dead_one_frees_its_own(tmp_path):
    folder = tmp_path / ".gpus"
    with GpuSlot(folder, [0, 1, 2, 3], 2) as mine:
        assert mine == [0, 1]
        other, theirs = hold(folder, 60)
        assert theirs == "[2, 3]"
        with pytest.raises(MelodygenError, match="no free GPU for this job"):
            GpuSlot(folder, [0, 1, 2, 3], 2).__enter__()
        other.kill()  # a job killed outright: the kernel releases its lock
        other.wait()
        with GpuSlot(folder, [0, 1, 2, 3], 2) as next_job:
            assert next_job == [2, 3]
    first, got = hold(folder, 0)  # this one has finished too: both slots are free, the first is taken
    first.wait()
    assert got == "[0, 1]"
