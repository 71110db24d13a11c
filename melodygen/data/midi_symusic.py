"""MIDI file → :class:`Melody` with symusic (``data.reader=symusic``): the extraction rules, limits and skip
reasons of :mod:`melodygen.data.midi_rules`, read by a C++ parser about 50 times faster than pretty_midi.

The same bytes pass the same checks first (:func:`~melodygen.data.midi_rules.read_checked`); then symusic
reads the notes in ticks, the same rules pick the track and finish the melody, and the grid and skyline
follow the pretty_midi reader's. A file finer than :data:`~melodygen.data.midi_rules.MAX_TICKS_PER_BEAT`
is put on that resolution first, as the pretty_midi reader does, so both round notes to the same 16ths.
"""

from __future__ import annotations

import os

import numpy as np

from melodygen.data.midi_rules import (
    MAX_TICKS_PER_BEAT,
    ExtractionParams,
    SkipFile,
    bar_grid,
    check_tracks,
    damage,
    finished,
    melodic_track,
    read_checked,
)
from melodygen.errors import MelodygenError
from melodygen.music.melody import DEFAULT_QPM, STEPS_PER_QUARTER, Melody, grid_melody

#: pretty_midi numbers keys 0–11 major and 12–23 minor by tonic; MIDI stores sharps (+) or flats (−)
_MINOR_OFFSET = 9  # a minor key's tonic lies a major sixth above its relative major's


def _symusic():
    try:
        import symusic
    except ImportError:
        raise MelodygenError(
            "data.reader=symusic (the folk corpus's reader) needs symusic 0.6: pip install 'melodygen[folk]' "
            "(make setup installs it), or read with data.reader=pretty_midi"
        ) from None
    return symusic


def read_score(path: str | os.PathLike, params: ExtractionParams):
    """The file's ``symusic.Score`` in ticks, after the checks every reader shares."""
    data = read_checked(path, params)
    if len(data) >= 10 and int.from_bytes(data[8:10], "big") == 2:
        raise SkipFile("corrupt", "it is a type 2 MIDI file (independent sequences), which is not supported")
    try:
        score = _symusic().Score.from_midi(data)
    except Exception:  # symusic raises RuntimeError with MiniMidi's message
        if _ends_inside_a_track(data):
            raise SkipFile("truncated", "its data ends inside a chunk") from None
        raise SkipFile("corrupt", damage(data)) from None
    beats = score.end() / max(score.tpq, 1)
    if beats > params.max_beats:
        raise SkipFile("absurd_length", f"it lasts {beats:.0f} beats, more than max_beats={params.max_beats}")
    return score


def _ends_inside_a_track(data: bytes) -> bool:
    """True when the chunks are whole up to a track whose stated length runs past the end of the data
    (a file cut short), as opposed to damage inside it."""
    pos = 8 + int.from_bytes(data[4:8], "big")
    while pos + 8 <= len(data):
        if data[pos : pos + 4] != b"MTrk":
            return False
        pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
    return pos > len(data) or pos < len(data)


def _ticks(values: np.ndarray, tpq: int, beats: float) -> tuple[np.ndarray, int]:
    """Ticks at the resolution the pretty_midi path reads them (coarser for very fine files)."""
    import pretty_midi

    fits = int((pretty_midi.pretty_midi.MAX_TICK - 1) // max(beats, 1))
    resolution = min(tpq, MAX_TICKS_PER_BEAT, fits)
    if resolution < tpq:
        return np.rint(values * (resolution / tpq)), resolution
    return values.astype(np.float64), tpq


def _first_note_off(notes: np.ndarray) -> np.ndarray:
    """Each note's end as pretty_midi pairs them: a note-off ends every note of its pitch that began before
    it, where symusic pairs note-ons and note-offs first in, first out. They differ where a note starts
    again before the same pitch has ended (overlapping repeats): pretty_midi ends both at the first
    note-off, symusic the second at the next one."""
    start = notes["time"].astype(np.int64)
    end = start + notes["duration"]
    pitch = notes["pitch"].astype(np.int64) << 40  # one sorted key per (pitch, tick)
    offs = np.sort(pitch + end)
    found = np.searchsorted(offs, pitch + start, side="right")  # the first note-off of its pitch after it
    at = np.searchsorted(offs, pitch + start, side="left")  # else one at its start (zero length)
    ok = found < offs.size
    ok[ok] = (offs[found[ok]] >> 40) == (pitch[ok] >> 40)
    first = np.where(ok, found, at)
    first = np.minimum(first, offs.size - 1)
    same = (offs[first] >> 40) == (pitch >> 40)
    return np.where(same, offs[first] - pitch, end)


def extract_score_melody(score, params: ExtractionParams, source: str = "") -> Melody:
    """The melody of a symusic ``Score`` by the rules of :mod:`melodygen.data.midi_rules`."""
    with_notes = [track for track in score.tracks if len(track.notes)]
    pitched = [track for track in with_notes if not track.is_drum]
    check_tracks(len(with_notes), len(pitched))
    notes = [track.notes.numpy() for track in pitched]
    shape = [(n["time"].size, float(n["pitch"].mean()), np.unique(n["time"]).size) for n in notes]
    chosen = notes[melodic_track(shape, params)]

    beats = score.end() / max(score.tpq, 1)
    start, resolution = _ticks(chosen["time"], score.tpq, beats)
    end, _ = _ticks(_first_note_off(chosen), score.tpq, beats)
    ticks_per_step = resolution / STEPS_PER_QUARTER
    pitch, duration = grid_melody(start / ticks_per_step, end / ticks_per_step, chosen["pitch"])
    tempi = [t for t in score.tempos if t.time == 0]  # pretty_midi: 120 qpm unless a tempo opens the file
    qpm = 60_000_000 / tempi[-1].mspq if tempi else DEFAULT_QPM
    meter = key = None
    if len(score.time_signatures):
        meter = (score.time_signatures[0].numerator, score.time_signatures[0].denominator)
    if len(score.key_signatures):
        first = score.key_signatures[0]
        minor = int(first.tonality != 0)
        key = ((7 * int(first.key) + (_MINOR_OFFSET if minor else 0)) % 12, minor)
    ticks = resolution / score.tpq  # symusic's ticks → the resolution read at
    signatures = [
        (float(np.rint(t.time * ticks)) / ticks_per_step, t.numerator, t.denominator)
        for t in score.time_signatures
    ]
    first_onset = float(np.rint(start.min() / ticks_per_step)) if start.size else 0.0
    grid = bar_grid(first_onset, signatures)
    return finished(Melody(pitch, duration, qpm=qpm, source=source), params, meter, key, grid)


def load_melody_symusic(path: str | os.PathLike, params: ExtractionParams) -> Melody:
    """Read one MIDI file into a Melody with symusic; raises :class:`SkipFile` when it gives none."""
    return extract_score_melody(read_score(path, params), params, source=str(path))
