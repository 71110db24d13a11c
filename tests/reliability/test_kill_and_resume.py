"""Real training processes killed (SIGKILL) or stopped (SIGTERM, SIGINT) mid-epoch, then run again."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import QUIET_SMALL_RUN_NO_SAMPLES

TESTS = Path(__file__).resolve().parents[1]
EPOCHS = 3
RUN = [
    *QUIET_SMALL_RUN_NO_SAMPLES,
    f"trainer.max_epochs={EPOCHS}",
    "trainer.deterministic=true",
    "data.transpose=3",  # the random transpositions must come out the same after a resume too
    "callbacks.model_checkpoint.last_every_n_steps=3",
    "callbacks.early_stopping=null",
    "+callbacks.slow._target_=probes.SlowBatches",
    "+callbacks.slow.seconds=0.1",
]


def train(root: Path, tune_dir: Path, run_dir: Path | None, *extra: str) -> subprocess.Popen:
    """``melodygen-train`` in a subprocess, into ``run_dir`` (or, for a sweep, where ``extra`` says)."""
    env = {
        **os.environ,
        "MELODYGEN_ROOT": str(root),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }
    flags = [e for e in extra if e.startswith("-")]  # before the overrides, as argparse wants them
    extra = tuple(e for e in extra if not e.startswith("-"))
    command = [sys.executable, "-m", "melodygen.cli.train", *flags, f"data.midi_dir={tune_dir}", *RUN]
    return subprocess.Popen(
        [*command, *extra, *([f"hydra.run.dir={run_dir}"] if run_dir else [])],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    """The status and output of ``proc`` once it ends; one that does not end in time is killed (a test
    that fails leaves no process behind to slow the rest of the suite)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"still running after {timeout} s:\n{(out + err)[-3000:]}") from None
    return proc.returncode, out + err


def wait_for_step_checkpoint(proc: subprocess.Popen, run_dir: Path, min_step: int = 1) -> int:
    """Wait until the run has saved a ``last.ckpt`` of at least ``min_step`` steps; its global step."""
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, finish(proc)[1][-3000:]
        assert time.monotonic() < deadline, "no step checkpoint within 120 s"
        if last.is_file():
            try:
                step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
                if step >= min_step:
                    return step
            except Exception:  # noqa: BLE001 — an old reader can race the rename on some filesystems
                pass
        time.sleep(0.02)


def validations(run_dir: Path) -> list[tuple[str, str]]:
    """(epoch, val/loss) of every validation in the run's CSV log."""
    with open(run_dir / "csv" / "metrics.csv", newline="") as handle:
        return [(row["epoch"], row["val/loss"]) for row in csv.DictReader(handle) if row.get("val/loss")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, request) -> dict:
    """The same run, never stopped: what every resumed run must end with."""
    root = tmp_path_factory.mktemp("uninterrupted")
    from conftest import write_tune_folder

    tunes = write_tune_folder(root / "tunes")
    code, output = finish(train(root, tunes, root / "run"))
    assert code == 0, output[-3000:]
    return {
        "tunes": tunes,
        "run_dir": root / "run",
        **json.loads((root / "run" / "metrics.json").read_text()),
    }


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_same_result(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    proc = train(tmp_path, uninterrupted["tunes"], run_dir)
    step = wait_for_step_checkpoint(proc, run_dir)
    proc.kill()  # SIGKILL: nothing runs after it
    proc.wait()
    assert not (run_dir / "metrics.json").exists()
    code, output = finish(train(tmp_path, uninterrupted["tunes"], run_dir))  # the same command again
    assert code == 0, output[-3000:]
    assert "resuming the unfinished run in this directory from" in output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == uninterrupted["global_step"] and step < metrics["global_step"]
    assert metrics["val/loss"] == pytest.approx(uninterrupted["val/loss"], rel=1e-6, abs=1e-7)
    assert metrics["test/loss"] == pytest.approx(uninterrupted["test/loss"], rel=1e-6, abs=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_stops_with_its_status_and_the_run_goes_on(tmp_path, uninterrupted, stop):
    run_dir = tmp_path / "run"
    proc = train(tmp_path, uninterrupted["tunes"], run_dir)
    wait_for_step_checkpoint(proc, run_dir, min_step=uninterrupted["global_step"] // EPOCHS + 1)  # epoch 2
    proc.send_signal(stop)
    code, output = finish(proc)
    assert code == 128 + stop, output[-3000:]
    name = signal.Signals(stop).name
    assert f"{name}: saving at the end of this training batch" in output
    assert f"stopped by {name} at epoch " in output
    assert f"To go on, run the same command with hydra.run.dir={run_dir}" in output
    assert "Traceback" not in output
    assert not (run_dir / "metrics.json").exists()  # a stopped run is not a finished one
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert 0 < saved["global_step"] < uninterrupted["global_step"]

    code, output = finish(train(tmp_path, uninterrupted["tunes"], run_dir))
    assert code == 0, output[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == uninterrupted["global_step"]
    assert metrics["val/loss"] == pytest.approx(uninterrupted["val/loss"], rel=1e-6, abs=1e-7)
    # the CSV log holds every validation, those before the stop too
    assert validations(run_dir) == validations(uninterrupted["run_dir"])
    assert "exists and is not empty" not in output and "not resumable" not in output


@pytest.mark.slow
def test_a_sweep_stopped_in_its_second_job_goes_on_from_there(tmp_path, uninterrupted):
    sweep = tmp_path / "sweep"
    jobs = ["-m", "model.hidden_size=8,16", f"hydra.sweep.dir={sweep}"]
    proc = train(tmp_path, uninterrupted["tunes"], None, *jobs)
    wait_for_step_checkpoint(proc, sweep / "1")  # job 0 is done, job 1 is training
    proc.send_signal(signal.SIGTERM)
    code, output = finish(proc)
    assert code == 143, output[-3000:]
    assert f"To go on, run the same command with hydra.sweep.dir={sweep}" in output
    done = (sweep / "0" / "metrics.json").stat().st_mtime_ns
    assert not (sweep / "1" / "metrics.json").exists()

    code, output = finish(train(tmp_path, uninterrupted["tunes"], None, *jobs))
    assert code == 0, output[-3000:]
    assert "job 0 finished before with these overrides: skipped" in output
    assert "resuming the unfinished run in this directory from" in output
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == done  # not trained again
    assert (
        json.loads((sweep / "1" / "metrics.json").read_text())["global_step"] == uninterrupted["global_step"]
    )


def test_ctrl_c_outside_training_is_one_line_and_status_130(tmp_path, tiny_checkpoint):
    env = {**os.environ, "MELODYGEN_ROOT": str(tmp_path)}
    command = [sys.executable, "-m", "melodygen.cli.generate", f"ckpt_path={tiny_checkpoint.path}"]
    command += ["samples.num_samples=1000000", "samples.length=500", "png=false", "wav=false"]  # minutes
    proc = subprocess.Popen(  # Ctrl-C as a terminal delivers it, whatever this process does with SIGINT
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("outputs/generate/runs/*/.hydra")):  # the command has started its work
        assert proc.poll() is None and time.monotonic() < deadline, finish(proc)[1][-3000:]
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    code, output = finish(proc, timeout=60)
    assert code == 130 and "Traceback" not in output, output[-3000:]
    assert output.strip().endswith(  # the last line: nothing printed after it (torch's exit statistics)
        "stopped by Ctrl-C; every file written so far is whole: run the command again to go on"
    ), output[-3000:]


def test_ctrl_c_during_an_exec_of_a_string_still_exits_130(tmp_path):
    # dataclasses and namedtuple exec() strings while torch imports; a Ctrl-C landing there used to end
    # `python -m melodygen.cli.…` by SIGINT (status -2) after the one line, whatever status was asked for
    (tmp_path / "interrupted_app.py").write_text(
        "import sys\n"
        "from melodygen.cli.app import hydra_app\n"
        "def task(cfg, overrides):\n"
        "    exec('raise KeyboardInterrupt')\n"
        "sys.argv[1:] = ['ckpt_path=nowhere.ckpt']\n"
        "hydra_app('generate', task)()\n"
    )
    env = {
        **os.environ,
        "MELODYGEN_ROOT": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "interrupted_app"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    code, output = finish(proc)
    assert code == 130 and "Traceback" not in output, output[-3000:]
    assert output.strip().endswith("run the command again to go on")
