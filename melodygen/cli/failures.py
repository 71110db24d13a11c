"""A sweep goes on when one of its jobs fails, and says at the end which ones did.

A job that fails writes ``failure.json`` (its overrides and the one-line reason) into its own directory
and returns, so the launcher starts the next job. When the sweep ends, :class:`FailedJobs` (a Hydra
callback, run by the process that launched the sweep, whichever launcher ran the jobs) prints one line
per failed job and exits with status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from melodygen.runtime.atomic import write_json_atomic

FAILURE_FILE = "failure.json"


def record_failure(job_dir: str | Path, job_num: int, overrides: list[str], reason: str) -> Path:
    """Write ``failure.json`` into a job's directory; returns its path."""
    return write_json_atomic(
        Path(job_dir) / FAILURE_FILE, {"job": job_num, "overrides": overrides, "error": reason}
    )


def clear_failure(job_dir: str | Path) -> None:
    (Path(job_dir) / FAILURE_FILE).unlink(missing_ok=True)


def read_failures(sweep_dir: str | Path) -> list[dict]:
    """Every ``failure.json`` in a sweep's job directories, in job order."""
    found = [json.loads(path.read_text()) for path in Path(sweep_dir).glob(f"*/{FAILURE_FILE}")]
    return sorted(found, key=lambda failure: failure.get("job", 0))


class FailedJobs(Callback):
    """At the end of a multirun: one line per failed job, and exit status 2 if any failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        failures = read_failures(config.hydra.sweep.dir)
        for failure in failures:
            shown = ",".join(failure["overrides"])
            print(f"error: job {failure['job']} ({shown}) failed: {failure['error']}", file=sys.stderr)
        if failures:
            print(
                f"error: {len(failures)} job(s) of the sweep in {config.hydra.sweep.dir} failed (see above)",
                file=sys.stderr,
                flush=True,
            )
            sys.exit(2)
