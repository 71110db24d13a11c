"""The abc2midi route: a unit of tunes → abc2midi → one clean melody file per tune (thousands a second).

abc2midi (Debian's ``abcmidi`` package) runs in a scratch folder (in memory under ``/dev/shm`` when there
is one) on a copy of the unit's tunes (:mod:`melodygen.folk.abc2midi_copy`) and writes ``unit<N>.mid``
for tune N. Options: ``-NGRA`` drops grace notes (as the music21 route does), ``-NGUI`` drops chord
symbols, ``-NFER`` plays fermatas as written, ``-silent`` keeps the log to warnings and errors, ``-Q 120``
is the tempo of a tune without ``Q:`` (abc2midi keeps a tune's own ``Q:``). After a tune with an error
the run starts again with the next tune, and a run that does not end cleanly is halved until the tune at
fault stands alone (:func:`_convert`), so no file depends on a bad tune before it. abc2midi always plays
repeats out, so the ``repeats`` column says ``expanded`` when the tune has repeat signs, else ``none``.

Its file is then made a melody: the notes of the first track with pitched notes (not MIDI channel 10),
on that track's first channel; each moved one tick earlier (abc2midi starts every note one tick late and
ends it on time); of the notes starting together (a chord, a double stop) only the highest; a note still
sounding when the next one starts truncated there. abc2midi writes a pickup from time 0, as if it were a
whole bar; where the ABC has one (:func:`melodygen.folk.abc.pickup`), every event moves later by what the
pickup lacks of a bar, so the file's bar lines fall where the tune's do, as a notation program writes a
pickup. The result, with the tempo, time and key signatures, is one track on channel 0, checked and
written by :func:`melodygen.folk.checked.write_checked`.

A tune abc2midi reports an error on, writes no file for, or whose file fails a check falls back to the
music21 route (:mod:`melodygen.folk.music21_route`) on its own; the outcome's ``fallback`` says why.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from melodygen.folk import music21_route, smf
from melodygen.folk.abc import Tune, has_repeat_signs, meter_length, pickup, unplayed_marks
from melodygen.folk.abc2midi_copy import renumbered
from melodygen.folk.checked import ExportError, Outcome, reason, write_checked
from melodygen.music.melody import DEFAULT_QPM

ROUTE = "abc2midi"
OPTIONS = ("-NGRA", "-NGUI", "-NFER", "-silent", "-Q", str(round(DEFAULT_QPM)))
TIMEOUT_S, TIMEOUT_PER_TUNE_S = 10.0, 0.02  # a run takes well under 1 ms a tune
_ERROR = re.compile(r"^Error in line-char (\d+)-\d+ : (.*?)\s*$", re.MULTILINE)
_KEPT_META = (0x51, 0x58, 0x59)  # tempo, time signature, key signature
_DRUM_CHANNEL = 9

Result = tuple[bytes | None, str]  # abc2midi's file for a tune, or None and why there is none


def find_abc2midi() -> str | None:
    """The abc2midi program on ``PATH``, or None."""
    return shutil.which("abc2midi")


def export_unit(tunes: list[Tune], out_dir: str, max_tune_notes: int, program: str) -> list[Outcome]:
    """Convert a unit with abc2midi; tunes it fails on go through the music21 route."""
    out = Path(out_dir)
    outcomes = []
    for tune, (data, problem) in zip(tunes, convert(tunes, program)):
        if data is not None:
            try:
                outcomes.append(write_melody(tune, data, out, max_tune_notes))
                continue
            except Exception as exc:  # a bad file from abc2midi: music21 gets its chance
                problem = reason(exc)
        outcomes.append(music21_route.export_tune(tune, out, max_tune_notes, fallback=problem))
    return outcomes


def convert(tunes: list[Tune], program: str) -> list[Result]:
    """abc2midi's MIDI file for each tune, or None and why there is none."""
    shm = Path("/dev/shm")
    root = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="melodygen-abc2midi-", dir=root) as scratch:
        return _convert(tunes, Path(scratch), program)


def _convert(tunes: list[Tune], folder: Path, program: str) -> list[Result]:
    """Run abc2midi over ``tunes`` so that no tune's file depends on a bad tune before it.

    After an error abc2midi's state can be wrong for the tunes that follow (one unclosed chord changed
    the timing of the next tune), so the run is started again after the first tune with an error. A run
    that does not end cleanly (abc2midi stops at some errors, and may crash after writing every file,
    losing the messages it had not flushed) is trusted in no part: it is halved until the tune at fault
    stands alone.
    """
    results: list[Result] = []
    while len(results) < len(tunes):
        rest = tunes[len(results) :]
        got, problem, first_error = _run(rest, folder, program)
        if problem and len(rest) == 1:
            results.append((None, problem))
        elif problem:
            results += _convert(rest[: len(rest) // 2], folder, program)
        else:
            results += got if first_error is None else got[: first_error + 1]
    return results


def _run(tunes: list[Tune], folder: Path, program: str) -> tuple[list[Result], str, int | None]:
    """One abc2midi run: a result per tune, why the run did not end cleanly, the first tune with an error."""
    text, first_lines = renumbered(tunes)
    (folder / "unit.abc").write_text(text, encoding="utf-8")
    timeout = TIMEOUT_S + len(tunes) * TIMEOUT_PER_TUNE_S
    try:
        done = subprocess.run(
            [program, "unit.abc", *OPTIONS], cwd=folder, capture_output=True, timeout=timeout
        )
        log = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        problem = f"abc2midi stopped (exit status {done.returncode})" if done.returncode else ""
    except subprocess.TimeoutExpired:
        log, problem = "", f"abc2midi ran past {timeout:.0f} s"
    errors: dict[int, str] = {}
    for match in _ERROR.finditer(log):
        index = max(bisect.bisect_right(first_lines, int(match.group(1))) - 1, 0)
        errors.setdefault(index, match.group(2))
    first_error = min(errors, default=None)
    results: list[Result] = []
    for index in range(len(tunes)):
        path = folder / f"unit{index + 1}.mid"
        wanted = not problem and (first_error is None or index < first_error)
        data = path.read_bytes() if wanted and path.is_file() else None
        path.unlink(missing_ok=True)
        if index in errors:
            results.append((None, f"abc2midi error: {errors[index]}"))
        else:
            results.append((data, "" if data is not None else "abc2midi wrote no MIDI file"))
    return results, problem, first_error


def write_melody(tune: Tune, data: bytes, out: Path, max_tune_notes: int) -> Outcome:
    """Make abc2midi's file a melody (rules in the module docstring), check it and write it into place."""
    division, tracks = smf.read(data)
    notes, metas = _melody_track(tracks)
    for note in notes:  # abc2midi starts every note one tick late (to end the previous one first)
        note.start = max(note.start - 1, 0)
    notes.sort(key=lambda n: (n.start, -n.pitch))
    melody = [n for i, n in enumerate(notes) if i == 0 or n.start != notes[i - 1].start]
    if any(n.end <= n.start for n in melody):
        raise ExportError("abc2midi wrote a zero-length note")
    for note, after in zip(melody, melody[1:]):
        note.end = min(note.end, after.start)
    opening = pickup(tune)
    if opening:  # abc2midi starts a pickup at time 0: the file starts its first bar that much earlier
        late = round((meter_length(tune.meter) - opening) * 4 * division)
        for note in melody:
            note.start, note.end = note.start + late, note.end + late
        metas = [(tick + late if tick else 0, kind, data) for tick, kind, data in metas]
    written = write_checked(out / tune.rel_path, smf.write(division, metas, melody), max_tune_notes)
    dropped = unplayed_marks(tune)  # abc2midi leaves them out (-NGRA, -NGUI)
    if len(notes) > len(melody):
        dropped["chord_tones"] = len(notes) - len(melody)
    return Outcome(
        id=tune.id,
        notes=written,
        repeats="expanded" if has_repeat_signs(tune) else "none",
        route=ROUTE,
        dropped=tuple(sorted(dropped.items())),
        pickup="" if opening is None else str(round(opening * 16)),
    )


def _melody_track(tracks: list[smf.Track]) -> tuple[list[smf.Note], list[tuple[int, int, bytes]]]:
    """The notes of the first pitched track's first channel; every tempo/time/key event of the file."""
    metas = sorted({meta for track in tracks for meta in track.metas if meta[1] in _KEPT_META})
    for track in tracks:
        pitched = [note for note in track.notes if note.channel != _DRUM_CHANNEL]
        if pitched:
            channel = min(pitched, key=lambda note: note.start).channel
            return [note for note in pitched if note.channel == channel], metas
    raise ExportError("abc2midi wrote no notes")
