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

import errno
import io
import os
import struct
from dataclasses import dataclass

import mido
import numpy as np
import pretty_midi

from melodygen.config import DataConfig
from melodygen.melody import DEFAULT_QPM, STEPS_PER_QUARTER, Melody, grid_melody

SKIP_REASONS = (
    "unreadable",  # the file could not be opened or read
    "not_midi",  # no MThd header
    "truncated",  # the data ends inside a chunk
    "corrupt",  # a MIDI parse error other than truncation
    "broken_link",  # a symbolic link that leads nowhere, or in a loop
    "too_large",  # more bytes than max_file_bytes
    "too_complex",  # more tracks than max_tracks, or events than max_events
    "absurd_length",  # more beats than max_beats, or notes than max_notes
    "no_notes",  # no note events at all
    "drums_only",  # notes only on drum channels
    "too_short",  # fewer than min_notes notes after extraction
)


@dataclass(frozen=True)
class ExtractionParams:
    """Limits and rules for turning one file into one melody. Part of the cache key."""

    min_notes: int = DataConfig.min_notes
    max_notes: int = DataConfig.max_notes
    max_beats: int = DataConfig.max_beats
    max_file_bytes: int = DataConfig.max_file_bytes
    max_tracks: int = DataConfig.max_tracks
    max_events: int = DataConfig.max_events
    max_track_fraction: float = 0.25
    reader: str = "pretty_midi"  # or "symusic" (melodygen.data.midi_symusic): the same rules, faster

    @classmethod
    def from_config(cls, data, **changes) -> ExtractionParams:
        """The limits and rules of a ``data`` config group (or any object with its attributes)."""
        names = ("min_notes", "max_notes", "max_beats", "max_file_bytes", "max_tracks", "max_events")
        reader = getattr(data, "reader", cls.reader)
        return cls(
            **{name: getattr(data, name) for name in names},
            reader=getattr(reader, "value", reader),
            **changes,
        )


#: pretty_midi keeps a table with one entry per tick; files finer than this are read at this resolution
#: (a 16th is still 240 ticks), so a long score at 10,080 ticks per beat stays a few MB.
MAX_TICKS_PER_BEAT = 960


class SkipFile(Exception):
    """This file gives no melody; ``reason`` is one of :data:`SKIP_REASONS`."""

    def __init__(self, reason: str, detail: str = ""):
        assert reason in SKIP_REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def read_checked(path: str | os.PathLike, params: ExtractionParams) -> bytes:
    """The bytes of ``path``, once its link, size, header and structure passed the limits (whichever
    library then reads them)."""
    if os.path.islink(path) and not os.path.exists(path):
        try:
            os.stat(path)
        except OSError as exc:
            where = "in a loop" if exc.errno == errno.ELOOP else f"to {os.readlink(path)}, which is not there"
            raise SkipFile("broken_link", f"a symbolic link {where}") from None
    try:
        size = os.path.getsize(path)
        if size > params.max_file_bytes:
            raise SkipFile("too_large", f"{size} bytes > {params.max_file_bytes}")
        with open(path, "rb") as fh:  # read once, for the checks and for the parser, and never past the limit
            data = fh.read(params.max_file_bytes + 1)
        if len(data) > params.max_file_bytes:  # a file that grew, or a device that never ends
            raise SkipFile("too_large", f"more than {params.max_file_bytes} bytes")
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from None
    if data[:4] != b"MThd":
        raise SkipFile("not_midi", "no MThd header")
    check_structure(data, params)  # before a parser builds an object per event
    return data


def read_midi(path: str | os.PathLike, params: ExtractionParams) -> pretty_midi.PrettyMIDI:
    """Open ``path`` with resource limits checked before pretty_midi builds its tick tables."""
    data = read_checked(path, params)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
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
    # a coarser grid where the file's is finer than needed, or long enough to reach pretty_midi's limit
    fits = int((pretty_midi.pretty_midi.MAX_TICK - 1) // max(beats, 1))
    resolution = min(midi.ticks_per_beat, MAX_TICKS_PER_BEAT, fits)
    if resolution < midi.ticks_per_beat:
        _rescale(midi, resolution)
    try:
        return pretty_midi.PrettyMIDI(mido_object=midi)
    except Exception as exc:
        raise SkipFile("corrupt", f"{type(exc).__name__}: {exc}") from None


def _rescale(midi: mido.MidiFile, ticks_per_beat: int) -> None:
    """Re-time every event of ``midi`` to ``ticks_per_beat`` (in place), each at its nearest tick."""
    factor = ticks_per_beat / midi.ticks_per_beat
    for track in midi.tracks:
        absolute = placed = 0
        for msg in track:
            absolute += msg.time
            tick = round(absolute * factor)
            msg.time, placed = tick - placed, tick
    midi.ticks_per_beat = ticks_per_beat


def read_varlen(data: bytes, at: int) -> tuple[int, int]:
    """A MIDI variable-length number at ``data[at]``: ``(value, the index after it)``."""
    value = 0
    for _ in range(4):
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at
    raise ValueError("variable-length number longer than 4 bytes")


def check_structure(data: bytes, params: ExtractionParams) -> None:
    """Count tracks, events and beats straight from the bytes, stopping at the first limit passed, so a
    crafted file costs at most ``max_events`` steps. Damage is left for mido to name."""
    if len(data) < 14:
        return
    header_length = int.from_bytes(data[4:8], "big")
    _, tracks, division = struct.unpack(">HHH", data[8:14])
    if tracks > params.max_tracks:
        raise SkipFile("too_complex", f"{tracks} tracks > {params.max_tracks}")
    events, pos = 0, 8 + header_length
    try:
        while pos + 8 <= len(data):
            kind, end = data[pos : pos + 4], pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
            pos, tick, status = pos + 8, 0, 0
            while kind == b"MTrk" and pos < min(end, len(data)):
                delta, pos = read_varlen(data, pos)
                tick += delta
                if data[pos] >= 0x80:
                    status, pos = data[pos], pos + 1
                if status == 0xFF:  # meta: type, length, data
                    length, pos = read_varlen(data, pos + 1)
                    pos += length
                elif status in (0xF0, 0xF7):  # sysex: length, data
                    length, pos = read_varlen(data, pos)
                    pos += length
                else:  # channel message: one data byte for program change and channel pressure
                    pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                events += 1
                if events > params.max_events:
                    raise SkipFile("too_complex", f"more than {params.max_events} events")
            if kind == b"MTrk" and not division & 0x8000 and tick / max(division, 1) > params.max_beats:
                raise SkipFile("absurd_length", f"{tick / max(division, 1):.0f} beats > {params.max_beats}")
            pos = end
    except (IndexError, ValueError):  # cut short or damaged: mido says how
        return


def _choose_track(instruments: list[pretty_midi.Instrument], params: ExtractionParams):
    onsets = [len({n.start for n in inst.notes}) for inst in instruments]
    busiest = max(onsets)
    candidates = [
        inst for inst, count in zip(instruments, onsets) if count >= params.max_track_fraction * busiest
    ]
    return max(candidates, key=lambda inst: np.mean([n.pitch for n in inst.notes]))


def plausible_meter(numerator: int, denominator: int) -> bool:
    """A time signature a melody can be in (a damaged file's 0/4 or 7/1024 is taken as none)."""
    return 1 <= numerator <= 64 and denominator in (1, 2, 4, 8, 16, 32, 64)


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
    pitch, duration = grid_melody(starts / ticks_per_step, ends / ticks_per_step, pitches)
    _, tempi = midi.get_tempo_changes()
    melody = Melody(pitch, duration, qpm=float(tempi[0]) if len(tempi) else DEFAULT_QPM, source=source)
    if melody.num_notes < params.min_notes:
        raise SkipFile("too_short", f"{melody.num_notes} notes < {params.min_notes}")
    if midi.time_signature_changes:  # the first one: the meter the piece starts in
        first = midi.time_signature_changes[0]
        if plausible_meter(first.numerator, first.denominator):
            melody.meta["time_signature"] = (int(first.numerator), int(first.denominator))
    if midi.key_signature_changes:  # the first one: the key the piece is written in
        number = midi.key_signature_changes[0].key_number  # 0–11 major, 12–23 minor, tonic first
        melody.meta["key_signature"] = (number % 12, number // 12)
    return melody


def load_melody(path: str | os.PathLike, params: ExtractionParams | None = None) -> Melody:
    """Read one MIDI file into a Melody (with ``params.reader``); raises :class:`SkipFile` when it gives none."""
    params = params or ExtractionParams()
    if params.reader == "symusic":
        from melodygen.data.midi_symusic import load_melody_symusic

        return load_melody_symusic(path, params)
    return extract_melody(read_midi(path, params), params, source=str(path))
