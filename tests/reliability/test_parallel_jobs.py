"""Real processes that need the same parse cache at the same moment: one builds it, the others wait."""

import json
import subprocess
import sys
import time

import pytest
from filelock import FileLock

from melodygen.data.midi import ExtractionParams
from melodygen.data.parse_cache import building, cache_key, cache_path, list_midi_files
from melodygen.errors import MelodygenError

JOB = """
import json, logging, sys
from melodygen.data.parsed import parse_midi_folder
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
parsed = parse_midi_folder(sys.argv[1], sys.argv[2], workers=1, progress=False)
print(json.dumps({"from_cache": parsed.from_cache, "melodies": len(parsed)}))
"""


def the_lock(tune_dir, cache_dir):
    key = cache_key(tune_dir.resolve(), list_midi_files(tune_dir), ExtractionParams())
    return cache_path(cache_dir, tune_dir.resolve(), key)


def wait_until(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_four_jobs_wanting_one_cache_parse_it_once(tmp_path, tune_dir):
    cache_dir, jobs = tmp_path / "cache", 4
    path = the_lock(tune_dir, cache_dir)
    path.parent.mkdir(parents=True)
    held = FileLock(str(path) + ".lock")
    held.acquire()  # as if a fifth job were parsing: all four must arrive and wait
    logs = [tmp_path / f"job{i}.log" for i in range(jobs)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", JOB, str(tune_dir), str(cache_dir)],
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
        )
        for log in logs
    ]
    wait_until(lambda: all("waiting for it" in log.read_text() for log in logs))
    held.release()  # that job died without writing: the first in line parses, the others load its cache
    results = [json.loads(proc.communicate(timeout=120)[0].splitlines()[-1]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert sorted(r["from_cache"] for r in results) == [False, True, True, True]
    assert {r["melodies"] for r in results} == {20}
    assert [p.name for p in cache_dir.glob("*.npz")] == [path.name]
    assert all("waited " in log.read_text() for log in logs)


def test_a_job_that_waits_too_long_says_which_lock_to_check(tmp_path, tune_dir):
    path = the_lock(tune_dir, tmp_path / "cache")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(60)",
         str(path) + ".lock"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(MelodygenError) as error, building(path, timeout=0.5):
            pass
        assert str(error.value) == (
            f"{path}: another process has been building this cache for 0.5 s; if none is, delete {path}.lock"
        )
    finally:
        holder.kill()
        holder.wait()
    with building(path, timeout=5):  # the holder was killed: the kernel freed its lock
        pass
