"""Writes that find no room (here a real file-size limit, which fails a write as a full disk does): one
clear error, and the previous file kept."""

import json
import os
import resource
import signal
import subprocess
import sys

import pytest
from helpers import QUIET_SMALL_RUN_NO_SAMPLES

WRITE = """
import json, sys
from pathlib import Path
from melodygen.runtime.atomic import write_bytes_atomic
from melodygen.errors import MelodygenError
path = Path(sys.argv[1])
write_bytes_atomic(path, b"a" * 500_000)  # fits
try:
    write_bytes_atomic(path, b"b" * 2_000_000)  # does not
    error = None
except MelodygenError as exc:
    error = str(exc)
print(json.dumps({"error": error, "kept": path.read_bytes() == b"a" * 500_000,
                  "files": sorted(p.name for p in path.parent.iterdir())}))
"""


def limited(max_bytes: int):
    """For a child process: files may grow to ``max_bytes``; a write past it fails (EFBIG) instead of
    killing the process with SIGXFSZ."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def test_a_write_with_no_room_is_one_error_and_keeps_the_previous_file(tmp_path):
    path = tmp_path / "out" / "last.ckpt"
    result = subprocess.run(
        [sys.executable, "-c", WRITE, str(path)],
        capture_output=True, text=True, timeout=60, preexec_fn=limited(1_000_000),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["error"].startswith(f"cannot write {path}: File too large (")
    assert outcome["error"].endswith("MB free there); the previous one is kept")
    assert outcome["kept"] and outcome["files"] == ["last.ckpt"]  # no temporary left behind


@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_stops_training_with_one_line(tmp_path, tune_dir):
    # the checkpoint (a 256-wide LSTM and its Adam state, about 4 MB) does not fit; the logs do
    command = [sys.executable, "-m", "melodygen.cli.train", f"data.midi_dir={tune_dir}"]
    command += [*QUIET_SMALL_RUN_NO_SAMPLES, "model.hidden_size=256", "trainer.max_epochs=1"]
    command += [f"hydra.run.dir={tmp_path / 'run'}"]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, preexec_fn=limited(1_000_000),
        env={**os.environ, "MELODYGEN_ROOT": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: cannot write {tmp_path / 'run' / 'checkpoints'}/")
    assert line.endswith("; nothing was written")
    assert not list((tmp_path / "run" / "checkpoints").glob("*"))
