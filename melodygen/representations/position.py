"""Where each element falls in its bar, as a model reads it beside the element (``data.bar_position``).

Beside every element a model with bar positions reads two classes about the element that comes *next*:
where in its bar it starts (16ths from the bar line, :data:`POSITION_CLASSES` of them) and that bar's
number (0 for a pickup, 1 for the first whole bar, up to :data:`BAR_CLASSES` − 1, where later bars stay).
Both follow from the durations read so far, so the model is told nothing it could not count itself: it
learns the note that starts on the downbeat of bar 8 without having to add up every duration since the
start. The start element carries the first element's place. The bar lines are the file's
(:func:`melodygen.music.meter.bar_lines`: its time signatures, a pickup and meter changes included), so
nothing beside a note is taken from the notes still to come.

At generation the same count goes on from the durations drawn (:class:`Clock`): a melody starts on a bar
line of the meter it is sampled in (the asked or drawn ``meter`` condition, else 4/4), a primer where its
own bar lines put it, and nothing extra is sampled. The data path (:func:`melody_positions`) and the clock
count the same way, from :meth:`~melodygen.representations.Representation.element_steps`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from melodygen.music.melody import Melody
from melodygen.music.meter import DEFAULT_TIME_SIGNATURE, bar_lines, bar_phase, bar_steps

#: positions in a bar, in 16ths (a bar of 12/8 has 24; a longer bar's later 16ths share the last class)
POSITION_CLASSES = 48
#: bar numbers 0 (pickup) … 32; bar 33 and later read as 32
BAR_CLASSES = 33
#: the two class columns a model with bar positions reads after its conditions
SIZES = (POSITION_CLASSES, BAR_CLASSES)


def reads_bar_position(data, representation) -> bool:
    """Whether a model of these ``data`` settings reads bar positions: ``data.bar_position``, where the
    representation can count its elements' 16ths (:attr:`~melodygen.representations.Representation.times_elements`)."""
    return bool(data.get("bar_position", False)) and representation.times_elements


def counted(since, bar, first):
    """(position, bar number) of points ``since`` 16ths after a bar line, in bars of ``bar`` 16ths, the bar
    starting at that line being number ``first``; numpy arrays and torch tensors alike."""
    position = (since % bar).clip(max=POSITION_CLASSES - 1)
    number = (first + since // bar).clip(min=0, max=BAR_CLASSES - 1)
    return position, number


def _first_bar(grid_start: int) -> int:
    """The number of the bar at a melody's first bar line: 0 when that line lies before the first note (the
    melody opens with a pickup), else 1."""
    return 0 if grid_start < 0 else 1


def melody_positions(representation, melody: Melody, encoded: np.ndarray | None = None) -> np.ndarray:
    """``(N + 1, 2)`` classes for ``[start] + encoded`` (``encoded``: the melody's ``N`` elements, by default
    ``representation.encode(melody)``): beside each, where the next element starts, by the melody's file's
    bar lines (:func:`~melodygen.music.meter.bar_lines`)."""
    if encoded is None:
        encoded = representation.encode(melody)
    steps = representation.element_steps(torch.from_numpy(np.asarray(encoded))).numpy().astype(np.int64)
    onsets = np.concatenate([[0], np.cumsum(steps)])  # where the element after each starts
    grid = bar_lines(melody)
    starts = np.array([s for s, _, _ in grid], np.int64)
    bars = np.array([bar_steps(n, d) for _, n, d in grid], np.int64)
    numbers = [_first_bar(int(starts[0]))]
    for k in range(1, len(grid)):  # a change off the old meter's bar lines closes a short bar
        numbers.append(numbers[-1] + -(-(int(starts[k]) - int(starts[k - 1])) // int(bars[k - 1])))
    which = np.clip(np.searchsorted(starts, onsets, side="right") - 1, 0, None)
    position, number = counted(onsets - starts[which], bars[which], np.array(numbers, np.int64)[which])
    return np.stack([position, number], axis=1)


class Clock:
    """The count at generation, one row per sample: 16ths ``since`` the row's first bar line, its bar length
    ``bar`` and its first bar's number ``first`` (``(B,)`` tensors each)."""

    def __init__(self, representation, since: torch.Tensor, bar: torch.Tensor, first: torch.Tensor):
        self.representation, self.since, self.bar, self.first = representation, since, bar, first

    @classmethod
    def starting(
        cls,
        representation,
        signatures: Sequence[tuple[int, int]],
        primer: Melody | None = None,
        device: torch.device | str = "cpu",
    ) -> Clock:
        """Rows in ``signatures`` (one time signature each), before the start element: the melody starts on
        a bar line, or, after ``primer``, where the primer's bar lines (:func:`primer_bar_start`) put it."""
        since, bar, first = [], [], []
        for signature in signatures:
            length = bar_steps(*signature)
            start = 0 if primer is None or len(primer) == 0 else primer_bar_start(primer, length)
            since.append(-start)
            bar.append(length)
            first.append(_first_bar(start))

        def tensor(values):
            return torch.tensor(values, dtype=torch.long, device=device)

        return cls(representation, tensor(since), tensor(bar), tensor(first))

    def columns(self) -> torch.Tensor:
        """``(B, 2)``: the classes beside the element about to be read."""
        return torch.stack(counted(self.since, self.bar, self.first), dim=-1)

    def advance(self, element: torch.Tensor) -> None:
        """Count ``element`` ``(B, F)`` (its first ``F`` columns), just read."""
        width = self.representation.num_features
        self.since = self.since + self.representation.element_steps(element[..., :width]).to(self.since)

    def beside(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, F')`` (one element per row) with the classes of where the next element starts, after
        counting ``x`` (the start element counts 0): what the network reads beside it."""
        self.advance(x)
        return torch.cat([x, self.columns().to(x.dtype)], dim=-1)

    def read(self, prefix: torch.Tensor) -> torch.Tensor:
        """``prefix`` ``(B, P, F')`` (the start element, then a primer) with the classes beside each of its
        elements; the clock then stands after it."""
        return torch.stack([self.beside(prefix[:, t]) for t in range(prefix.shape[1])], dim=1)

    def select(self, rows: torch.Tensor) -> Clock:
        """The rows ``rows`` (a beam's parents, or one row copied for every sample)."""
        pick = [t.index_select(0, rows) for t in (self.since, self.bar, self.first)]
        return Clock(self.representation, *pick)


def primer_bar_start(primer: Melody, bar: int) -> int:
    """Where the bar line at or before a primer's first note lies (≤ 0), in bars of ``bar`` 16ths: its file's
    bar lines where they have that length, else (a primer typed as notes, or a file in another meter)
    found from its notes (:func:`~melodygen.music.meter.bar_phase`)."""
    grid = primer.meta.get("bar_grid")
    if grid and bar_steps(grid[0][1], grid[0][2]) == bar:
        return int(grid[0][0])
    phase = bar_phase(primer, bar)
    return phase - bar if phase else 0


def signature_of(label: str | None) -> tuple[int, int]:
    """A meter label's time signature (``"6/8"`` → (6, 8)); 4/4 for none or one no training melody had."""
    if not label or "/" not in label:
        return DEFAULT_TIME_SIGNATURE
    numerator, denominator = label.split("/")
    return int(numerator), int(denominator)
