"""Shared plumbing for the Hydra entry points."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

from melodygen.errors import MelodygenError

# conf/ sits at the top of the checkout, beside the package (the project is installed editable).
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def user_errors_as_one_line(task: Callable) -> Callable:
    """Print a MelodygenError as ``error: …`` on stderr and exit 2 instead of showing a traceback."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except MelodygenError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)

    return wrapper
