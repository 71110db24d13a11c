"""Just enough Standard MIDI File for the abc2midi route: notes and meta events in, one track out.

mido builds a checked Python object per event, which costs more than abc2midi's whole conversion; the
abc2midi route reads its files with :func:`read` and writes the melody with :func:`write` instead. The
written file is read back (:mod:`melodygen.folk.checked`, with :func:`read`) before it is kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from melodygen.data.midi_rules import read_varlen

END_OF_TRACK = 0x2F


class SmfError(ValueError):
    """Data that is not a MIDI file this module reads (or whose notes do not pair up)."""


@dataclass
class Note:
    start: int  # ticks
    end: int
    pitch: int
    velocity: int
    channel: int


@dataclass
class Track:
    notes: list[Note] = field(default_factory=list)
    metas: list[tuple[int, int, bytes]] = field(default_factory=list)  # (tick, meta type, data)


def read(data: bytes) -> tuple[int, list[Track]]:
    """``(ticks per beat, tracks)``; a note-off without an open note, or a note left open, is an error."""
    if data[:4] != b"MThd" or len(data) < 14:
        raise SmfError("no MThd header")
    (length,) = struct.unpack(">I", data[4:8])
    _, _, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000:
        raise SmfError("SMPTE time division")
    tracks, at = [], 8 + length
    while at + 8 <= len(data):
        kind, (size,) = data[at : at + 4], struct.unpack(">I", data[at + 4 : at + 8])
        if kind == b"MTrk":
            tracks.append(_read_track(data[at + 8 : at + 8 + size]))
        at += 8 + size
    return division, tracks


def _read_track(body: bytes) -> Track:
    track = Track()
    sounding: dict[tuple[int, int], list[Note]] = {}
    tick = at = status = 0
    while at < len(body):
        delta, at = read_varlen(body, at)
        tick += delta
        if body[at] & 0x80:
            status, at = body[at], at + 1
        elif not status:
            raise SmfError("data byte without a status")
        if status == 0xFF:
            kind = body[at]
            size, at = read_varlen(body, at + 1)
            track.metas.append((tick, kind, bytes(body[at : at + size])))
            at, status = at + size, 0
            if kind == END_OF_TRACK:
                break
        elif status in (0xF0, 0xF7):
            size, at = read_varlen(body, at)
            at, status = at + size, 0
        elif status & 0xF0 in (0xC0, 0xD0):
            at += 1
        else:
            kind, channel, pitch, velocity = status & 0xF0, status & 0x0F, body[at], body[at + 1]
            at += 2
            if kind == 0x90 and velocity > 0:
                note = Note(tick, tick, pitch, velocity, channel)
                sounding.setdefault((channel, pitch), []).append(note)
                track.notes.append(note)
            elif kind in (0x80, 0x90):
                started = sounding.get((channel, pitch))
                if not started:
                    raise SmfError(f"note-off before note-on (pitch {pitch})")
                started.pop(0).end = tick
    if any(sounding.values()):
        raise SmfError("hanging notes")
    return track


def write(division: int, metas: list[tuple[int, int, bytes]], notes: list[Note]) -> bytes:
    """A one-track (type 0) file: the meta events, then ``notes`` on channel 0 (offs before ons)."""
    events = [(tick, 0, bytes([0xFF, kind]) + write_varlen(len(data)) + data) for tick, kind, data in metas]
    events += [(n.end, 1, bytes([0x80, n.pitch, 0])) for n in notes]
    events += [(n.start, 2, bytes([0x90, n.pitch, n.velocity])) for n in notes]
    body, now = bytearray(), 0
    for tick, _, raw in sorted(events, key=lambda event: event[:2]):
        body += write_varlen(tick - now) + raw
        now = tick
    body += bytes([0, 0xFF, END_OF_TRACK, 0])
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, division) + b"MTrk" + struct.pack(">I", len(body)) + body


def write_varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
