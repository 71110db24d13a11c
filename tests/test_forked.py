"""The suite's forked commands (tests/forked.py) print and exit as a fresh ``python -m`` does."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import forked
from conftest import write_tune_folder
from helpers import QUIET_SMALL_RUN, run_cli

NUMBERS = re.compile(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d|\d+(\.\d+)?(e-?\d+)?")


def _same(text: str) -> list[str]:
    """Lines with times, run folders and figures blanked (they differ from run to run)."""
    return NUMBERS.sub("#", text).splitlines()


def test_a_forked_command_prints_and_exits_as_a_fresh_one(tmp_path):
    tunes = write_tune_folder(tmp_path / "tunes", count=8)
    tiny = [f"data.midi_dir={tunes}", *QUIET_SMALL_RUN, "model.hidden_size=16", "trainer.max_epochs=1"]
    (tmp_path / "empty").mkdir()
    empty = [*tiny, f"data.midi_dir={tmp_path / 'empty'}"]  # an error found once the run has started
    cases = [[*tiny, "samples.num_samples=1"], ["model.hiden_size=3"], empty]
    for args in cases:
        fresh = run_cli("train", tmp_path, *args, fresh=True)
        fork = run_cli("train", tmp_path, *args)
        assert fork.args == fresh.args == [sys.executable, "-m", "melodygen.cli.train", *args]
        assert fork.returncode == fresh.returncode, (args, fork.stderr[-2000:], fresh.stderr[-2000:])
        assert _same(fork.stdout) == _same(fresh.stdout), args
        assert _same(fork.stderr) == _same(fresh.stderr), args
    assert fresh.returncode != 0 and fresh.stderr.splitlines()[-1].startswith("error: no MIDI files")
    assert len(list((tmp_path / "outputs" / "train" / "runs").glob("*/metrics.json"))) == 2


def test_what_a_fork_cannot_give_starts_a_new_interpreter(tmp_path):
    assert forked.can_fork(dict(os.environ))
    assert not forked.can_fork({**os.environ, "PYTHONPATH": str(tmp_path)})
    assert not forked.can_fork({**os.environ, "OMP_NUM_THREADS": "7"})
    # a command given a PYTHONPATH imports from it, as python -m does
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.stderr.write('read from PYTHONPATH\\n')\n")
    proc = run_cli("train", tmp_path, "model.hiden_size=3", env={"PYTHONPATH": str(tmp_path)})
    assert proc.stderr.startswith("read from PYTHONPATH") and proc.returncode != 0


def test_a_command_past_its_timeout_is_stopped(tmp_path):
    tunes = write_tune_folder(tmp_path / "tunes", count=8)
    endless = [*QUIET_SMALL_RUN, "trainer.max_epochs=100000", "callbacks.early_stopping=null"]
    run_cli("train", tmp_path, "model.hiden_size=3")  # the server is up: the timeout counts the run alone
    try:
        proc = run_cli("train", tmp_path, f"data.midi_dir={tunes}", *endless, timeout=3)
    except subprocess.TimeoutExpired as exc:
        assert exc.timeout == 3
    else:
        raise AssertionError(f"the run was not stopped at its timeout: {proc.stderr[-2000:]}")
    # the server goes on: the next command runs
    assert run_cli("train", tmp_path, "model.hiden_size=3").returncode != 0
