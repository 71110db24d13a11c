"""MIDI file → :class:`Melody`, with pretty_midi.

Extraction rule, in order:

1. Drum tracks are dropped. A file with only drums is skipped (``drums_only``).
2. The melodic track: among the remaining tracks whose onset count is at least a quarter of the busiest
   track's, the one with the highest mean pitch (melodies usually sit above their accompaniment).
3. Notes are placed on a 16th-note grid taken from the file's own timing: a note's tick position,
   converted through the file's tempo map, divided by a quarter of the ticks per beat, rounded.
   A note shorter than a 16th lasts one 16th.
4. Skyline: of the notes starting on the same 16th, the highest is kept. A note still sounding when
   the next one starts is truncated there; a gap becomes a rest.
5. Durations over :data:`~melodygen.melody.MAX_DURATION` follow :func:`~melodygen.melody.normalize`.

Every file that cannot give a melody raises :class:`SkipFile` with one of :data:`SKIP_REASONS`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mido
import numpy as np
import pretty_midi

from melodygen.config import DataConfig
from melodygen.melody import DEFAULT_QPM, REST, STEPS_PER_QUARTER, Melody, normalize

SKIP_REASONS = (
    "unreadable",  # the file could not be opened or read
    "not_midi",  # no MThd header
    "truncated",  # the data ends inside a chunk
    "corrupt",  # a MIDI parse error other than truncation
    "too_large",  # more bytes than max_file_bytes
    "absurd_length",  # more beats than max_beats (or ticks than pretty_midi takes), or notes than max_notes
    "no_notes",  # no note events at all
    "drums_only",  # notes only on drum channels
    "too_short",  # fewer than min_notes notes after extraction
)


@dataclass(frozen=True)
class ExtractionParams:
    """Limits and rules for turning one file into one melody. Part of the cache key."""

    min_notes: int = DataConfig.min_notes
    max_notes: int = 20_000
    max_beats: int = 100_000
    max_file_bytes: int = 4_000_000
    max_track_fraction: float = 0.25


class SkipFile(Exception):
    """This file gives no melody; ``reason`` is one of :data:`SKIP_REASONS`."""

    def __init__(self, reason: str, detail: str = ""):
        assert reason in SKIP_REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def read_midi(path: str | os.PathLike, params: ExtractionParams) -> pretty_midi.PrettyMIDI:
    """Open ``path`` with resource limits checked before pretty_midi builds its tick tables."""
    try:
        size = os.path.getsize(path)
        if size > params.max_file_bytes:
            raise SkipFile("too_large", f"{size} bytes > {params.max_file_bytes}")
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from None
    if head != b"MThd":
        raise SkipFile("not_midi", "no MThd header")
    try:
        midi = mido.MidiFile(path, clip=True)
    except EOFError:
        raise SkipFile("truncated", "data ends inside a chunk") from None
    except Exception as exc:  # mido raises OSError/ValueError/KeyError/IndexError on bad data
        raise SkipFile("corrupt", f"{type(exc).__name__}: {exc}") from None
    if midi.type == 2:
        raise SkipFile("corrupt", "type 2 MIDI (independent sequences) is not supported")
    max_tick = max((sum(msg.time for msg in track) for track in midi.tracks), default=0)
    beats = max_tick / max(midi.ticks_per_beat, 1)
    if beats > params.max_beats:
        raise SkipFile("absurd_length", f"{beats:.0f} beats > {params.max_beats}")
    if max_tick >= pretty_midi.pretty_midi.MAX_TICK:  # pretty_midi refuses it as "likely corrupt"
        raise SkipFile("absurd_length", f"{max_tick} ticks > {pretty_midi.pretty_midi.MAX_TICK:.0f}")
    try:
        return pretty_midi.PrettyMIDI(mido_object=midi)
    except Exception as exc:
        raise SkipFile("corrupt", f"{type(exc).__name__}: {exc}") from None


def _choose_track(instruments: list[pretty_midi.Instrument], params: ExtractionParams):
    onsets = [len({n.start for n in inst.notes}) for inst in instruments]
    busiest = max(onsets)
    candidates = [
        inst for inst, count in zip(instruments, onsets) if count >= params.max_track_fraction * busiest
    ]
    return max(candidates, key=lambda inst: np.mean([n.pitch for n in inst.notes]))


def extract_melody(midi: pretty_midi.PrettyMIDI, params: ExtractionParams, source: str = "") -> Melody:
    """Pick the melodic track of ``midi`` and put it on the 16th grid (rules in the module docstring)."""
    with_notes = [inst for inst in midi.instruments if inst.notes]
    if not with_notes:
        raise SkipFile("no_notes")
    pitched = [inst for inst in with_notes if not inst.is_drum]
    if not pitched:
        raise SkipFile("drums_only")
    total = sum(len(inst.notes) for inst in pitched)
    if total > params.max_notes:
        raise SkipFile("absurd_length", f"{total} notes > {params.max_notes}")
    track = _choose_track(pitched, params)

    ticks_per_step = midi.resolution / STEPS_PER_QUARTER
    starts = np.array([midi.time_to_tick(n.start) for n in track.notes], dtype=np.float64)
    ends = np.array([midi.time_to_tick(n.end) for n in track.notes], dtype=np.float64)
    pitches = np.array([n.pitch for n in track.notes], dtype=np.int64)
    start = np.rint(starts / ticks_per_step).astype(np.int64)
    end = np.maximum(np.rint(ends / ticks_per_step).astype(np.int64), start + 1)

    # Skyline: sort by onset, highest pitch first, keep the first note of every onset.
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
    pitch, duration = normalize(pitch, duration)
    _, tempi = midi.get_tempo_changes()
    melody = Melody(pitch, duration, qpm=float(tempi[0]) if len(tempi) else DEFAULT_QPM, source=source)
    if melody.num_notes < params.min_notes:
        raise SkipFile("too_short", f"{melody.num_notes} notes < {params.min_notes}")
    return melody


def load_melody(path: str | os.PathLike, params: ExtractionParams | None = None) -> Melody:
    """Read one MIDI file into a Melody; raises :class:`SkipFile` when it gives none."""
    params = params or ExtractionParams()
    return extract_melody(read_midi(path, params), params, source=str(path))
