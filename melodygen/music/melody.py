"""The one domain type every stage speaks: a monophonic melody on a 16th-note grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Pitch value that marks a rest. MIDI pitches are 0–127, so 128 is free, and it is the top of
#: the blog post's 0–128 decoded pitch range.
REST = 128
#: Longest duration one element may have, in 16ths (a whole note in 4/4). Longer notes and rests are
#: split by :func:`normalize` so every element fits the post's 0–16 duration range.
MAX_DURATION = 16
STEPS_PER_QUARTER = 4
#: Tempo of a melody whose source gives none (MIDI's own default), in quarter notes per minute.
DEFAULT_QPM = 120.0


@dataclass
class Melody:
    """Notes and rests in order. ``pitch[i]`` is a MIDI pitch or :data:`REST`; ``duration[i]`` is in 16ths."""

    pitch: np.ndarray
    duration: np.ndarray
    qpm: float = DEFAULT_QPM
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pitch = np.asarray(self.pitch, dtype=np.int16)
        self.duration = np.asarray(self.duration, dtype=np.int16)
        if self.pitch.shape != self.duration.shape or self.pitch.ndim != 1:
            raise ValueError(f"pitch {self.pitch.shape} and duration {self.duration.shape} must be equal 1-D")

    def __len__(self) -> int:
        return int(self.pitch.size)

    @property
    def is_note(self) -> np.ndarray:
        return self.pitch != REST

    @property
    def num_notes(self) -> int:
        return int(self.is_note.sum())

    @property
    def total_steps(self) -> int:
        return int(self.duration.sum())

    def equals(self, other: Melody) -> bool:
        return np.array_equal(self.pitch, other.pitch) and np.array_equal(self.duration, other.duration)

    def interval_runs(self, length: int) -> set[tuple[int, ...]]:
        """Every run of ``length`` consecutive intervals between its notes (rests skipped), in semitones:
        the same in any key."""
        steps = tuple(np.diff(self.pitch[self.is_note].astype(np.int64)).tolist())
        return {steps[i : i + length] for i in range(len(steps) - length + 1)}

    def content_hash(self) -> str:
        """A hash of the pitches and durations alone: the same tune from two files hashes the same."""
        import hashlib

        pitch, duration = self.pitch.astype("<i2").tobytes(), self.duration.astype("<i2").tobytes()
        return hashlib.sha256(pitch + b"/" + duration).hexdigest()


def normalize(pitch, duration, max_duration: int = MAX_DURATION) -> tuple[np.ndarray, np.ndarray]:
    """Apply the duration rule and tidy rests; returns new ``(pitch, duration)`` int16 arrays.

    Rule: a note longer than ``max_duration`` keeps ``max_duration`` and the rest of its time becomes a
    rest, so every later onset stays where it was; a rest longer than ``max_duration`` is split into
    rests of at most ``max_duration``. Adjacent rests merge; rests at either end and zero-length
    elements are dropped.
    """
    out_p: list[int] = []
    out_d: list[int] = []

    def add_rest(d: int) -> None:
        if out_p and out_p[-1] == REST:
            out_d[-1] += d
        elif out_p:  # a rest before the first note is leading silence
            out_p.append(REST)
            out_d.append(d)

    for p, d in zip(np.asarray(pitch).tolist(), np.asarray(duration).tolist()):
        if d <= 0:
            continue
        if p == REST:
            add_rest(d)
            continue
        out_p.append(p)
        out_d.append(min(d, max_duration))
        if d > max_duration:
            add_rest(d - max_duration)
    if out_p and out_p[-1] == REST:
        out_p.pop()
        out_d.pop()
    split_p: list[int] = []
    split_d: list[int] = []
    for p, d in zip(out_p, out_d):
        while d > max_duration:  # only rests can be longer here
            split_p.append(p)
            split_d.append(max_duration)
            d -= max_duration
        split_p.append(p)
        split_d.append(d)
    return np.array(split_p, np.int16), np.array(split_d, np.int16)


def grid_melody(start, end, pitches) -> tuple[np.ndarray, np.ndarray]:
    """Notes starting and ending at ``start``/``end`` (in 16ths, rounded here to the grid) → the
    ``(pitch, duration)`` of a normalized melody. Of notes that start together the highest is kept
    (skyline), a note still sounding when the next starts is cut there, a gap becomes a rest, and a note
    shorter than a 16th lasts one."""
    start = np.rint(np.asarray(start, dtype=np.float64)).astype(np.int64)
    end = np.maximum(np.rint(np.asarray(end, dtype=np.float64)).astype(np.int64), start + 1)
    pitches = np.asarray(pitches, dtype=np.int64)
    if start.size == 0:
        return normalize([], [])
    # skyline: sort by onset, highest pitch first, keep the first note of every onset.
    order = np.lexsort((-pitches, start))
    start, end, pitches = start[order], end[order], pitches[order]
    first = np.r_[True, start[1:] != start[:-1]]
    start, end, pitches = start[first], end[first], pitches[first]
    next_start = np.r_[start[1:], end[-1:]]
    end = np.minimum(end, next_start)
    gap = next_start - end
    # Interleave note, gap, note, gap …; normalize() drops zero-length gaps and the trailing one.
    pitch = np.stack([pitches, np.full_like(pitches, REST)], axis=1).ravel()
    duration = np.stack([end - start, gap], axis=1).ravel()
    return normalize(pitch, duration)
