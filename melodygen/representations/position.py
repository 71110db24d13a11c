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

With ``data.bars_left`` a third class follows: how many whole bars are left to the tune's end after the bar
the next element starts in (0 in its last bar). Unlike the other two it is taken from the tune's own length,
so it looks ahead: a figure scored with it says so, and note-by-note prediction without lookahead (the IDyOM
benchmark) reads the class that tells nothing (:data:`UNTOLD`), as the model also reads in a share of its
training windows, when sampling a melody of no set length, and for anything else it is not told. Asked for
``samples.bars=N``, it counts down to the end of bar N.
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
#: bars left to the tune's end: 0 (the last bar) … 32 (and more), then the class of a count not told
LEFT_CLASSES = 34
#: the bars-left class that tells nothing: a melody of no set length, or a score that must not look ahead
UNTOLD = LEFT_CLASSES - 1
#: the share of training windows that read :data:`UNTOLD` all along, so the model also writes without an end
UNTOLD_SHARE = 0.2


def sizes(bars_left: bool = False) -> tuple[int, ...]:
    """The classes of each column a model with bar positions reads: :data:`SIZES`, and bars left."""
    return SIZES + ((LEFT_CLASSES,) if bars_left else ())


def reads_bar_position(data, representation) -> bool:
    """Whether a model of these ``data`` settings reads bar positions: ``data.bar_position``, where the
    representation can count its elements' 16ths (:attr:`~melodygen.representations.Representation.times_elements`)."""
    return bool(data.get("bar_position", False)) and representation.times_elements


def reads_bars_left(data, representation) -> bool:
    """Whether such a model also reads the bars left to the tune's end (``data.bars_left``)."""
    return reads_bar_position(data, representation) and bool(data.get("bars_left", False))


def counted(since, bar, first):
    """(position, bar number) of points ``since`` 16ths after a bar line, in bars of ``bar`` 16ths, the bar
    starting at that line being number ``first``; numpy arrays and torch tensors alike."""
    position = (since % bar).clip(max=POSITION_CLASSES - 1)
    number = (first + since // bar).clip(min=0, max=BAR_CLASSES - 1)
    return position, number


def left(until, since, bar):
    """Whole bars left after the bar of points ``since`` 16ths after a bar line, before a tune ending
    ``until`` 16ths after it (``until`` on a bar line ends the bar before it), as classes."""
    return ((until - 1) // bar - since // bar).clip(min=0, max=UNTOLD - 1)


def _first_bar(grid_start: int) -> int:
    """The number of the bar at a melody's first bar line: 0 when that line lies before the first note (the
    melody opens with a pickup), else 1."""
    return 0 if grid_start < 0 else 1


def melody_positions(
    representation, melody: Melody, encoded: np.ndarray | None = None, bars_left: bool | None = None
) -> np.ndarray:
    """``(N + 1, 2)`` classes for ``[start] + encoded`` (``encoded``: the melody's ``N`` elements, by default
    ``representation.encode(melody)``): beside each, where the next element starts, by the melody's file's
    bar lines (:func:`~melodygen.music.meter.bar_lines`). ``bars_left`` adds a third column: the bars left
    to the end of the melody's last bar (True, from its own length) or :data:`UNTOLD` (False)."""
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
    numbers = np.array(numbers, np.int64)
    which = np.clip(np.searchsorted(starts, onsets, side="right") - 1, 0, None)
    position, number = counted(onsets - starts[which], bars[which], numbers[which])
    columns = [position, number]
    if bars_left is not None:
        columns.append(np.full_like(position, UNTOLD))
        if bars_left:
            # bars counted from the grid's first line on, unclipped; the tune ends with its last element
            raw = numbers[which] + (onsets - starts[which]) // bars[which]
            end = int(onsets[-1])
            if end > 0:
                last = int(np.searchsorted(starts, end - 1, side="right") - 1)
                last = max(last, 0)
                final = numbers[last] + (end - 1 - int(starts[last])) // int(bars[last])
                columns[-1] = (final - raw).clip(min=0, max=UNTOLD - 1)
            else:
                columns[-1] = np.zeros_like(position)
    return np.stack(columns, axis=1)


class Clock:
    """The count at generation, one row per sample: 16ths ``since`` the row's first bar line, its bar length
    ``bar`` and its first bar's number ``first`` (``(B,)`` tensors each). A clock of a model with bars left
    (``bars_left``) also knows where each row's melody ends, ``until`` 16ths after that line (None: not
    told)."""

    def __init__(
        self,
        representation,
        since: torch.Tensor,
        bar: torch.Tensor,
        first: torch.Tensor,
        bars_left: bool = False,
        until: torch.Tensor | None = None,
    ):
        self.representation, self.since, self.bar, self.first = representation, since, bar, first
        self.bars_left, self.until = bars_left, until

    @classmethod
    def starting(
        cls,
        representation,
        signatures: Sequence[tuple[int, int]],
        primer: Melody | None = None,
        device: torch.device | str = "cpu",
        bars_left: bool = False,
        ends: Sequence[int] | None = None,
    ) -> Clock:
        """Rows in ``signatures`` (one time signature each), before the start element: the melody starts on
        a bar line, or, after ``primer``, where the primer's bar lines (:func:`primer_bar_start`) put it.
        ``ends``: where each row's melody ends, in 16ths after its start (the primer's), for a model with
        bars left; without them it is not told."""
        since, bar, first = [], [], []
        for signature in signatures:
            length = bar_steps(*signature)
            start = 0 if primer is None or len(primer) == 0 else primer_bar_start(primer, length)
            since.append(-start)
            bar.append(length)
            first.append(_first_bar(start))

        def tensor(values):
            return torch.tensor(values, dtype=torch.long, device=device)

        until = None
        if bars_left and ends is not None:
            until = tensor([s + int(e) for s, e in zip(since, ends, strict=True)])
        return cls(representation, tensor(since), tensor(bar), tensor(first), bars_left, until)

    def columns(self) -> torch.Tensor:
        """``(B, 2)`` (3 with bars left): the classes beside the element about to be read."""
        columns = list(counted(self.since, self.bar, self.first))
        if self.bars_left:
            told = self.until is not None
            columns.append(
                left(self.until, self.since, self.bar) if told else torch.full_like(self.since, UNTOLD)
            )
        return torch.stack(columns, dim=-1)

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
        since, bar, first = (t.index_select(0, rows) for t in (self.since, self.bar, self.first))
        until = None if self.until is None else self.until.index_select(0, rows)
        return Clock(self.representation, since, bar, first, self.bars_left, until)


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
