"""Where a melody's bar lines fall: bar length from its meter, the bar phase, and what a listener hears of it.

A model reads a melody by its file's bar lines (:func:`bar_lines`). What a listener hears is measured
without them, since a melody sampled from a model has no file and may begin with a pickup, and a MIDI
file may write its pickup at time 0 as if it were a whole bar: :func:`bar_phase` finds the bar lines from
the notes: of every way to lay bar lines of the melody's length over it, the one where the most bar lines fall
on a note's onset and the fewest notes sound across one; on a tie, the one whose notes on the bar lines
are the longest (a downbeat carries the accent), then the earliest. The same rule
is applied to real and generated melodies alike, so their figures compare.

What a listener hears of the meter, at that phase:

* :func:`downbeat_share`: of the bar lines inside the melody, the share on which a note starts;
* :func:`across_bar_share`: of the notes, the share that start before a bar line and still sound after it;
* :func:`onset_positions`: where in its bar each note starts, in 16ths (for the onset-position histogram).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from melodygen.music.melody import MAX_DURATION, REST, STEPS_PER_QUARTER, Melody

#: a melody whose file has no time signature is in MIDI's default
DEFAULT_TIME_SIGNATURE = (4, 4)


def time_signature(melody: Melody) -> tuple[int, int]:
    """The melody's time signature: its file's (or the one it was sampled in), else 4/4."""
    signature = melody.meta.get("time_signature")
    return (int(signature[0]), int(signature[1])) if signature else DEFAULT_TIME_SIGNATURE


def bar_steps(numerator: int, denominator: int) -> int:
    """16ths in a bar of ``numerator/denominator`` (6/8: 12; 3/4: 12; 4/4: 16), at least one."""
    steps = Fraction(numerator * STEPS_PER_QUARTER * 4, denominator)
    return max(1, round(steps))


def _notes(melody: Melody) -> tuple[np.ndarray, np.ndarray]:
    """Onset and end of each note (rests left out), in 16ths from the melody's start."""
    duration = melody.duration.astype(np.int64)
    onset = np.concatenate([[0], np.cumsum(duration)[:-1]]) if duration.size else np.zeros(0, np.int64)
    note = melody.pitch != REST
    return onset[note], (onset + duration)[note]


def _score(onset: np.ndarray, end: np.ndarray, total: int, bar: int, phase: int) -> tuple[float, float]:
    """(share of bar lines with a note on them, share of notes across a bar line) at ``phase``."""
    lines = np.arange(phase, total, bar)
    lines = lines[lines > 0] if lines.size > 1 else lines  # the line at 0 counts only in a one-bar melody
    hit = float(np.isin(lines, onset).mean()) if lines.size else 0.0
    if onset.size == 0:
        return hit, 0.0
    # a note crosses a bar line when a line lies strictly inside it: phase + k*bar in (onset, end)
    first_line_after = phase + np.ceil((onset + 1 - phase) / bar).astype(np.int64) * bar
    across = float((first_line_after < end).mean())
    return hit, across


def bar_phase(melody: Melody, bar: int | None = None) -> int:
    """Steps from the melody's start to its first bar line (0 when it starts on one), found from its notes
    (the module docstring says how), in bars of ``bar`` 16ths (default: its time signature's)."""
    bar = bar or bar_steps(*time_signature(melody))
    onset, end = _notes(melody)
    total = int(melody.duration.sum())
    phases = np.arange(bar)
    # every phase at once, as _score counts one: the bar lines inside the melody and those on an onset
    rows = -(-max(total, 1) // bar)
    step = np.arange(rows * bar).reshape(rows, bar)
    inside = step < total
    struck = np.zeros(rows * bar, bool)
    struck[onset[onset < total]] = True
    lines, on = inside.sum(axis=0), (inside & struck.reshape(rows, bar)).sum(axis=0)
    lines[0], on[0] = (lines[0] - 1, on[0] - struck[0]) if lines[0] > 1 else (lines[0], on[0])
    hit = np.where(lines > 0, on / np.maximum(lines, 1), 0.0)
    length = end - onset
    # from each onset to the next bar line after it, in 16ths (1 … bar); a note longer reaches across
    reach = (phases[None, :] - onset[:, None] - 1) % bar + 1
    across = (reach < length[:, None]).mean(axis=0) if onset.size else np.zeros(bar)
    on_line = reach == bar
    notes_on = on_line.sum(axis=0)
    accent = np.where(notes_on > 0, (on_line * length[:, None]).sum(axis=0) / np.maximum(notes_on, 1), 0.0)
    best, best_value = 0, (-np.inf, -np.inf)
    for phase, value in enumerate(zip(np.round(hit - across, 9).tolist(), accent.tolist())):
        if value > best_value:
            best, best_value = phase, value
    return best


def bar_lines(melody: Melody) -> tuple[tuple[int, int, int], ...]:
    """The bar lines a melody's elements are placed by, as ``((step, numerator, denominator), …)``: the
    first entry the bar line at or before its start (step ≤ 0; below 0 when it opens with a pickup), the
    others later meter changes.

    They are its file's (``meta["bar_grid"]``, read with the melody: the time signatures from the file's
    time 0, as every MIDI program counts bars); a melody without a file (a sample) starts on a bar line of
    its time signature. The folk corpus writes a pickup where the ABC has it (see
    :mod:`melodygen.folk.abc2midi_route`); a file that starts a pickup at time 0 is read as it is written.
    """
    grid = melody.meta.get("bar_grid")
    if grid:
        return tuple(tuple(entry) for entry in grid)
    return ((0, *time_signature(melody)),)


def element_positions(melody: Melody) -> np.ndarray:
    """Where in its bar each element (note or rest) starts, in 16ths from the bar line (:func:`bar_lines`)."""
    grid = bar_lines(melody)
    duration = melody.duration.astype(np.int64)
    onset = np.concatenate([[0], np.cumsum(duration)[:-1]]) if duration.size else duration
    starts = np.array([step for step, _, _ in grid], np.int64)
    bars = np.array([bar_steps(n, d) for _, n, d in grid], np.int64)
    which = np.clip(np.searchsorted(starts, onset, side="right") - 1, 0, None)
    return (onset - starts[which]) % bars[which]


def whole_bars(melody: Melody, steps: int) -> Melody:
    """``melody`` cut to its first ``steps`` 16ths (a note sounding at the cut ends there), with rests at its
    end taken into the last note (held up to a whole note), so that its last note ends at ``steps``. A
    melody shorter than ``steps`` is returned as it is."""
    duration = melody.duration.astype(np.int64)
    onset = np.concatenate([[0], np.cumsum(duration)[:-1]]) if duration.size else duration
    keep = onset < steps
    pitch, duration = melody.pitch[keep].copy(), duration[keep].copy()
    if duration.size:
        duration[-1] = min(int(duration[-1]), steps - int(onset[keep][-1]))
    while pitch.size > 1 and pitch[-1] == REST and duration[-2] + duration[-1] <= MAX_DURATION:
        duration[-2] += duration[-1]
        pitch, duration = pitch[:-1], duration[:-1]
    return Melody(pitch, duration, qpm=melody.qpm, source=melody.source, meta=dict(melody.meta))


def _heard(melody: Melody) -> tuple[float, float]:
    """(share of bar lines with a note, share of notes across a bar line) at :func:`bar_phase`."""
    bar = bar_steps(*time_signature(melody))
    onset, end = _notes(melody)
    return _score(onset, end, int(melody.duration.sum()), bar, bar_phase(melody, bar))


def downbeat_share(melody: Melody) -> float:
    """Of the bar lines inside the melody (at :func:`bar_phase`), the share on which a note starts."""
    return _heard(melody)[0]


def across_bar_share(melody: Melody) -> float:
    """Of the notes, the share that sound across a bar line (at :func:`bar_phase`)."""
    return _heard(melody)[1]


def onset_positions(melody: Melody) -> np.ndarray:
    """Where in its bar each note starts, in 16ths from the bar line (at :func:`bar_phase`)."""
    bar = bar_steps(*time_signature(melody))
    onset, _ = _notes(melody)
    return (onset - bar_phase(melody, bar)) % bar
