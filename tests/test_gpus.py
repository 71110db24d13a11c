"""One job per GPU: which GPUs each job of a parallel sweep gets, without needing a GPU to test it."""

import subprocess
import sys

import pytest

from melodygen.errors import MelodygenError
from melodygen.gpus import GpuSlot, gpus_for_jobs

HOLD = """
import sys, time
from melodygen.gpus import GpuSlot
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
    with pytest.raises(
        MelodygenError, match=r"n_jobs=3 jobs of trainer.devices=2 GPU\(s\) need 6 GPUs; .* to 2$"
    ):
        gpus_for_jobs("gpu", 2, 3, four)


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
