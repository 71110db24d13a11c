"""MIDI file → :class:`Melody`, with pretty_midi (``data.reader=pretty_midi``, the default), by the rules
of :mod:`melodygen.data.midi_rules`; :func:`load_melody` reads with whichever reader ``params`` names."""

from __future__ import annotations

import io
import os

import mido
import numpy as np
import pretty_midi

from melodygen.data.midi_rules import (
    MAX_TICKS_PER_BEAT,
    SKIP_REASONS,
    ExtractionParams,
    SkipFile,
    bar_grid,
    check_tracks,
    damage,
    finished,
    melodic_track,
    read_checked,
)
from melodygen.music.melody import DEFAULT_QPM, STEPS_PER_QUARTER, Melody, grid_melody

__all__ = ["SKIP_REASONS", "ExtractionParams", "SkipFile", "extract_melody", "load_melody", "read_midi"]


def read_midi(path: str | os.PathLike, params: ExtractionParams) -> pretty_midi.PrettyMIDI:
    """Open ``path`` with resource limits checked before pretty_midi builds its tick tables."""
    data = read_checked(path, params)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except EOFError:
        raise SkipFile("truncated", "its data ends inside a chunk") from None
    except Exception:  # mido raises OSError/ValueError/KeyError/IndexError on bad data
        raise SkipFile("corrupt", damage(data)) from None
    if midi.type == 2:
        raise SkipFile("corrupt", "it is a type 2 MIDI file (independent sequences), which is not supported")
    if not midi.tracks:
        raise SkipFile("no_notes", "it holds no track")
    max_tick = max(sum(msg.time for msg in track) for track in midi.tracks)
    beats = max_tick / max(midi.ticks_per_beat, 1)
    if beats > params.max_beats:
        raise SkipFile("absurd_length", f"it lasts {beats:.0f} beats, more than max_beats={params.max_beats}")
    # a coarser grid where the file's is finer than needed, or long enough to reach pretty_midi's limit
    fits = int((pretty_midi.pretty_midi.MAX_TICK - 1) // max(beats, 1))
    resolution = min(midi.ticks_per_beat, MAX_TICKS_PER_BEAT, fits)
    if resolution < midi.ticks_per_beat:
        _rescale(midi, resolution)
    try:
        return pretty_midi.PrettyMIDI(mido_object=midi)
    except Exception:
        raise SkipFile("corrupt", damage(data)) from None


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


def extract_melody(midi: pretty_midi.PrettyMIDI, params: ExtractionParams, source: str = "") -> Melody:
    """Pick the melodic track of ``midi`` and put it on the 16th grid (the rules of :mod:`melodygen.data.midi_rules`)."""
    with_notes = [inst for inst in midi.instruments if inst.notes]
    pitched = [inst for inst in with_notes if not inst.is_drum]
    check_tracks(len(with_notes), len(pitched))
    shape = [
        (len(i.notes), float(np.mean([n.pitch for n in i.notes])), len({n.start for n in i.notes}))
        for i in pitched
    ]
    track = pitched[melodic_track(shape, params)]

    ticks_per_step = midi.resolution / STEPS_PER_QUARTER
    starts = np.array([midi.time_to_tick(n.start) for n in track.notes], dtype=np.float64)
    ends = np.array([midi.time_to_tick(n.end) for n in track.notes], dtype=np.float64)
    pitches = np.array([n.pitch for n in track.notes], dtype=np.int64)
    pitch, duration = grid_melody(starts / ticks_per_step, ends / ticks_per_step, pitches)
    _, tempi = midi.get_tempo_changes()
    melody = Melody(pitch, duration, qpm=float(tempi[0]) if len(tempi) else DEFAULT_QPM, source=source)
    meter = key = None
    if midi.time_signature_changes:  # the first one: the meter the piece starts in
        first = midi.time_signature_changes[0]
        meter = (first.numerator, first.denominator)
    if midi.key_signature_changes:  # the first one: the key the piece is written in
        number = midi.key_signature_changes[0].key_number  # 0–11 major, 12–23 minor, tonic first
        key = (number % 12, number // 12)
    signatures = [
        (midi.time_to_tick(t.time) / ticks_per_step, t.numerator, t.denominator)
        for t in midi.time_signature_changes
    ]
    first_onset = float(np.rint(starts.min() / ticks_per_step)) if starts.size else 0.0
    return finished(melody, params, meter, key, bar_grid(first_onset, signatures))


def load_melody(path: str | os.PathLike, params: ExtractionParams | None = None) -> Melody:
    """Read one MIDI file into a Melody (with ``params.reader``); raises :class:`SkipFile` when it gives none."""
    params = params or ExtractionParams()
    if params.reader == "symusic":
        from melodygen.data.midi_symusic import load_melody_symusic

        return load_melody_symusic(path, params)
    return extract_melody(read_midi(path, params), params, source=str(path))
