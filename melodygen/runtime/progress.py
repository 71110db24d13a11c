"""Progress that reaches log files: a rich bar on a terminal, plain lines anywhere else.

A rich or tqdm bar redraws one line of a terminal; written into a SLURM log (``slurm-*.out``), ``nohup`` or
CI it shows nothing useful, or nothing at all. When standard output is not a terminal, training prints a
line every ``every_n_seconds`` (and/or ``every_n_steps``) with the epoch, step, loss, speed and the time
left in the epoch, and one line at the end of every epoch with its losses; corpus building and MIDI
parsing print a line with their count, rate and time left. The lines go through the ``melodygen.runtime.progress``
logger, so a Hydra run's log file keeps them too. (The training side is
:class:`melodygen.training.callbacks.LineProgress`.)
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger("melodygen.runtime.progress")


def is_terminal() -> bool:
    return sys.stdout.isatty()


def clock(seconds: float) -> str:
    """``1:05`` or ``2:03:07``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class LineCounter:
    """What :mod:`melodygen.runtime.pool` shows off a terminal: a ``rich.progress.Progress`` look-alike that logs
    ``label: done/total noun (pct), rate/s, ETA`` every ``every_n_seconds`` and when it finishes."""

    def __init__(self, label: str, noun: str, every_n_seconds: float = 10.0):
        self.label, self.noun, self.every_n_seconds = label, noun, every_n_seconds
        self.total = self.done = 0
        self._started = self._last_line = time.monotonic()

    def __enter__(self) -> LineCounter:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.done and exc_info[0] is None:
            self._line(time.monotonic())

    def add_task(self, description: str, total: int, **fields: Any) -> int:
        self.total, self._started = total, time.monotonic()
        self._last_line = self._started
        return 0

    def update(self, task: int, advance: int = 0, **fields: Any) -> None:
        self.done += advance
        now = time.monotonic()
        if now - self._last_line >= self.every_n_seconds and self.done < self.total:
            self._last_line = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done:,}/{self.total:,} {self.noun}"
        if self.total:
            text += f" ({100 * self.done / self.total:.0f}%)"
        text += f", {rate:,.1f}/s"
        if self.done < self.total and rate > 0:
            text += f", ETA {clock((self.total - self.done) / rate)}"
        else:
            text += f", {clock(elapsed)}"
        log.info(text)
