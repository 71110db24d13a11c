"""What every MIDI reader shares: the limits a file must pass before a parser reads it, the reasons a file
gives no melody, and the rules that pick and finish the melody (:mod:`melodygen.data.midi` reads with
pretty_midi, :mod:`melodygen.data.midi_symusic` with symusic; both apply these rules).

Extraction rule, in order:

1. Drum tracks are dropped. A file with only drums is skipped (``drums_only``).
2. The melodic track: among the remaining tracks whose onset count is at least a quarter of the busiest
   track's, the one with the highest mean pitch (melodies usually sit above their accompaniment).
3. Notes are placed on a 16th-note grid taken from the file's own timing: a note's tick position,
   converted through the file's tempo map, divided by a quarter of the ticks per beat, rounded.
   A note shorter than a 16th lasts one 16th.
4. Skyline: of the notes starting on the same 16th, the highest is kept. A note still sounding when
   the next one starts is truncated there; a gap becomes a rest.
5. Durations over :data:`~melodygen.music.melody.MAX_DURATION` follow :func:`~melodygen.music.melody.normalize`.

Every file that cannot give a melody raises :class:`SkipFile` with one of :data:`SKIP_REASONS` and a
sentence about the file (never a parser's exception text).
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from melodygen.config import DataConfig
from melodygen.music.melody import Melody

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
        reader = getattr(reader, "value", reader)
        if reader == "auto":
            reader = auto_reader(getattr(data, "midi_dir", None))
        return cls(**{name: getattr(data, name) for name in names}, reader=reader, **changes)


#: what ``melodygen-corpus`` writes beside the tunes: a folder holding it is the built-in folk corpus
CORPUS_MANIFEST = "manifest.csv"


def auto_reader(midi_dir) -> str:
    """``data.reader=auto``: symusic for the folk corpus (the same melodies as pretty_midi's, read about 4×
    faster) when it is installed, pretty_midi for any other folder."""
    import importlib.util

    corpus = midi_dir is not None and (Path(str(midi_dir)).expanduser() / CORPUS_MANIFEST).is_file()
    return "symusic" if corpus and importlib.util.find_spec("symusic") is not None else "pretty_midi"


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
            raise SkipFile("broken_link", f"it is a symbolic link {where}") from None
    try:
        size = os.path.getsize(path)
        if size > params.max_file_bytes:
            raise SkipFile(
                "too_large", f"it has {size} bytes, more than max_file_bytes={params.max_file_bytes}"
            )
        with open(path, "rb") as fh:  # read once, for the checks and for the parser, and never past the limit
            data = fh.read(params.max_file_bytes + 1)
        if len(data) > params.max_file_bytes:  # a file that grew, or a device that never ends
            raise SkipFile("too_large", f"it has more than max_file_bytes={params.max_file_bytes} bytes")
    except OSError as exc:
        raise SkipFile(
            "unreadable", f"it cannot be read ({(exc.strerror or 'an error of the system').lower()})"
        ) from None
    if data[:4] != b"MThd":
        raise SkipFile("not_midi", "it does not start with a MIDI header (MThd)")
    check_structure(data, params)  # before a parser builds an object per event
    return data


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
        raise SkipFile("too_complex", f"it has {tracks} tracks, more than max_tracks={params.max_tracks}")
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
                    raise SkipFile("too_complex", f"it has more than max_events={params.max_events} events")
            if kind == b"MTrk" and not division & 0x8000 and tick / max(division, 1) > params.max_beats:
                raise SkipFile(
                    "absurd_length",
                    f"a track lasts {tick / max(division, 1):.0f} beats, more than max_beats={params.max_beats}",
                )
            pos = end
    except (IndexError, ValueError):  # cut short or damaged: mido says how
        return


def melodic_track(pitched: Sequence[tuple[int, float, int]], params: ExtractionParams) -> int:
    """Which of the pitched tracks holds the melody (rules 1–2), given each as ``(notes, mean pitch,
    distinct onsets)``: every track with notes but none on a drum channel. A file whose pitched tracks
    hold more than ``max_notes`` notes together is skipped."""
    total = sum(count for count, _, _ in pitched)
    if total > params.max_notes:
        raise SkipFile(
            "absurd_length", f"its tracks hold {total} notes, more than max_notes={params.max_notes}"
        )
    busiest = max(onsets for _, _, onsets in pitched)
    candidates = [
        i for i, (_, _, onsets) in enumerate(pitched) if onsets >= params.max_track_fraction * busiest
    ]
    return max(candidates, key=lambda i: pitched[i][1])


def check_tracks(with_notes: int, pitched: int) -> None:
    """Skip a file whose tracks hold no notes, or notes only on drum channels."""
    if not with_notes:
        raise SkipFile("no_notes", "no track of it holds a note")
    if not pitched:
        raise SkipFile("drums_only", f"its {with_notes} track(s) with notes all play on the drum channel")


def plausible_meter(numerator: int, denominator: int) -> bool:
    """A time signature a melody can be in (a damaged file's 0/4 or 7/1024 is taken as none)."""
    return 1 <= numerator <= 64 and denominator in (1, 2, 4, 8, 16, 32, 64)


def bar_grid(
    first_onset: float, signatures: Sequence[tuple[float, int, int]]
) -> tuple[tuple[int, int, int], ...]:
    """The file's bar lines as seen from a melody whose first note starts at ``first_onset`` (16ths from the
    file's start): ``((step, numerator, denominator), …)`` with steps from that note; the first entry is the
    bar line at or before it (step ≤ 0, the time signature then in force), the rest the later changes.
    ``signatures`` are the file's time signatures ``(step, numerator, denominator)``; implausible ones are
    left out, and none gives ``()``."""
    from melodygen.music.meter import bar_steps

    start = round(first_onset)
    kept = [(round(step), n, d) for step, n, d in signatures if plausible_meter(n, d)]
    if not kept:
        return ()
    in_force = [sig for sig in kept if sig[0] <= start] or kept[:1]
    step, numerator, denominator = in_force[-1]
    back = (start - step) % bar_steps(numerator, denominator)
    later = tuple((s - start, n, d) for s, n, d in kept if s > start)
    return ((-back, numerator, denominator), *later)


def finished(
    melody: Melody,
    params: ExtractionParams,
    meter: tuple[int, int] | None,
    key: tuple[int, int] | None,
    grid: tuple[tuple[int, int, int], ...] = (),
) -> Melody:
    """``melody`` with the file's first time signature (where a melody can be in it), key signature
    (``(tonic, minor)``) and bar lines (``grid``, :func:`bar_grid`, as ``meta["bar_grid"]``); skipped when it
    has fewer than ``min_notes`` notes."""
    if melody.num_notes < params.min_notes:
        raise SkipFile(
            "too_short", f"its melody has {melody.num_notes} notes, fewer than min_notes={params.min_notes}"
        )
    if meter is not None and plausible_meter(*meter):
        melody.meta["time_signature"] = (int(meter[0]), int(meter[1]))
    if key is not None:
        melody.meta["key_signature"] = (int(key[0]), int(key[1]))
    if grid:
        melody.meta["bar_grid"] = tuple((int(s), int(n), int(d)) for s, n, d in grid)
    return melody


#: status bytes that begin no event in a MIDI file (system common and real-time messages)
_UNDEFINED_STATUS = frozenset({0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE})
#: meta events of a fixed length, by type: (name, bytes)
_META_LENGTHS = {
    0x51: ("tempo", 3),
    0x54: ("SMPTE offset", 5),
    0x58: ("time signature", 4),
    0x59: ("key signature", 2),
}
_CHANNEL_EVENTS = {0x80: "note-off", 0x90: "note-on", 0xA0: "aftertouch", 0xB0: "controller", 0xC0: "program change",
                   0xD0: "channel pressure", 0xE0: "pitch bend"}  # fmt: skip


def damage(data: bytes) -> str:
    """A sentence saying where the MIDI data of a file that a parser refused is damaged, found by walking
    its chunks and events (the parser's own exception text is no message for a user)."""
    if len(data) < 14:
        return "its header is cut short"
    header_length = int.from_bytes(data[4:8], "big")
    kind, tracks, division = struct.unpack(">HHH", data[8:14])
    if header_length < 6:
        return f"its header declares {header_length} bytes, fewer than the 6 of a MIDI header"
    if kind > 2:
        return f"its header names format {kind}, where MIDI files are format 0, 1 or 2"
    if division == 0:
        return "its header gives 0 ticks per beat"
    pos, found = 8 + header_length, 0
    while pos + 8 <= len(data):
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        if chunk == b"MTrk":
            found += 1
            problem = _track_damage(data[pos + 8 : pos + 8 + length])
            if problem:
                return f"track {found} {problem}"
            if pos + 8 + length > len(data):
                return (
                    f"track {found} is cut short: it declares {length} bytes and {len(data) - pos - 8} follow"
                )
        pos += 8 + length
    if found != tracks:
        return f"its header announces {tracks} track(s) but it holds {found}"
    return "its events cannot be read, though its chunks show no damage"


def _track_damage(body: bytes) -> str | None:
    """What is wrong with one track's events, as the end of a sentence; None when nothing is found."""
    at, running = 0, None  # running status: a channel event may leave out its status byte
    try:
        while at < len(body):
            _, at = read_varlen(body, at)
            if body[at] >= 0x80:
                status, at = body[at], at + 1
                running = running if status == 0xFF else status  # a meta event keeps the running status
            elif running is None:
                return f"starts an event without a status byte (byte {at})"
            else:
                status = running
            if status in _UNDEFINED_STATUS:
                return f"holds the status byte 0x{status:02X} (byte {at - 1}), which begins no event in a MIDI file"
            if status == 0xFF:
                meta = body[at]
                length, at = read_varlen(body, at + 1)
                name, expected = _META_LENGTHS.get(meta, (None, length))
                if length != expected:
                    return f"holds a {name} event of {length} bytes, where it takes {expected}"
                if meta == 0x59 and not (-7 <= int.from_bytes(body[at : at + 1], "big", signed=True) <= 7
                                         and body[at + 1] in (0, 1)):  # fmt: skip
                    return f"holds a key signature that names no key (byte {at})"
                at += length
            elif status in (0xF0, 0xF7):
                length, at = read_varlen(body, at)
                at += length
            else:
                size = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                values = body[at : at + size]
                if len(values) < size:
                    return "ends inside an event"
                if any(v > 127 for v in values):
                    name = _CHANNEL_EVENTS[status & 0xF0]
                    return f"holds a {name} event with a value over 127 (byte {at})"
                at += size
    except IndexError:
        return "ends inside an event"
    except ValueError:
        return f"holds a time or length field longer than 4 bytes (byte {at})"
    if at > len(body):
        return "ends inside an event"
    return None
