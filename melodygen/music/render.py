"""Melody → files a person can hear or look at: a one-track MIDI file, a WAV and a piano-roll PNG."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pretty_midi

from melodygen.music.melody import DEFAULT_QPM, REST, STEPS_PER_QUARTER, Melody
from melodygen.music.meter import bar_lines, bar_steps
from melodygen.runtime.atomic import write_json_atomic

log = logging.getLogger(__name__)


def _onsets(melody: Melody) -> np.ndarray:
    """Start of every element, in 16ths from the beginning."""
    return np.r_[0, np.cumsum(melody.duration.astype(np.int64))[:-1]].astype(np.int64)


def to_pretty_midi(melody: Melody, qpm: float | None = None, program: int = 0, velocity: int = 90):
    """``melody`` as a one-instrument ``PrettyMIDI``; a 16th lasts ``60 / qpm / 4`` seconds.

    ``qpm`` defaults to the melody's own tempo. Rests hold no note but move time on.
    """
    qpm = float(qpm or melody.qpm or DEFAULT_QPM)
    sixteenth = 60.0 / qpm / STEPS_PER_QUARTER
    midi = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    instrument = pretty_midi.Instrument(program=program)
    for pitch, start, steps in zip(melody.pitch.tolist(), _onsets(melody).tolist(), melody.duration.tolist()):
        if pitch != REST:
            instrument.notes.append(
                pretty_midi.Note(
                    velocity=velocity, pitch=pitch, start=start * sixteenth, end=(start + steps) * sixteenth
                )
            )
    midi.instruments.append(instrument)
    if "time_signature" in melody.meta:  # a conditioned sample's meter and key, as a file states them
        numerator, denominator = melody.meta["time_signature"]
        midi.time_signature_changes.append(pretty_midi.TimeSignature(int(numerator), int(denominator), 0.0))
    if "key_signature" in melody.meta:
        tonic, mode = melody.meta["key_signature"]
        midi.key_signature_changes.append(pretty_midi.KeySignature(int(tonic) + 12 * int(mode), 0.0))
    return midi


def melody_to_midi(
    melody: Melody,
    path: str | os.PathLike,
    qpm: float | None = None,
    program: int = 0,
    velocity: int = 90,
) -> Path:
    """Write ``melody`` as a one-instrument MIDI file (see :func:`to_pretty_midi`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pretty_midi(melody, qpm, program, velocity).write(str(path))
    return path


def write_wav(melody: Melody, path: str | os.PathLike, sample_rate: int = 16_000) -> Path:
    """Write ``melody`` as a mono 16-bit WAV file (:func:`synthesize`: FluidSynth, or sine tones)."""
    import wave

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = (synthesize(melody, sample_rate) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
    return path


@functools.cache
def fluidsynth_available() -> bool:
    """Whether FluidSynth can render here: the ``pyfluidsynth`` package and Debian's ``libfluidsynth3``
    (asked once; without them, one warning says audio is sine tones)."""
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):  # OSError: the package is there, the C library is not
        log.warning(
            "FluidSynth is not installed: audio is sine tones (apt-get install libfluidsynth3 and "
            "pip install pyfluidsynth, or make setup, for a SoundFont piano)"
        )
        return False
    return True


def synthesize(melody: Melody, sample_rate: int = 16_000) -> np.ndarray:
    """A float32 waveform of ``melody``: a piano from the General MIDI SoundFont that ships inside
    pretty_midi, rendered by FluidSynth; without FluidSynth, pretty_midi's sine tones (and one warning)."""
    pm = to_pretty_midi(melody)
    audio = pm.fluidsynth(fs=sample_rate) if fluidsynth_available() else pm.synthesize(fs=sample_rate)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return (audio / peak * 0.8 if peak > 0 else audio).astype(np.float32)


def bar_grid(melody: Melody) -> tuple[int, int]:
    """Where the piano roll draws its first bar line (16ths from the start; after a pickup, where bar 1
    begins) and the bar's length, from the melody's first time signature and its file's bar lines."""
    start, numerator, denominator = bar_lines(melody)[0]
    bar = bar_steps(numerator, denominator)
    return (start + bar if start < 0 else 0), bar


def _draw_roll(axes, melody: Melody, title: str | None = None, small: bool = False) -> None:
    """Notes as bars of pitch against time, a line at every bar of its meter, pitch names on the side."""
    from matplotlib.collections import PolyCollection

    onsets = _onsets(melody)
    notes = melody.is_note
    total = max(melody.total_steps, 1)
    # every note a rectangle, all in one collection: one artist to draw, not one per note
    left, pitch = onsets[notes].astype(float), melody.pitch[notes].astype(float)
    right = left + melody.duration[notes]
    low_edge, high_edge = pitch - 0.4, pitch + 0.4
    corners = np.stack(
        [
            np.stack(xy, axis=1)
            for xy in ((left, low_edge), (left, high_edge), (right, high_edge), (right, low_edge))
        ],
        axis=1,
    )
    axes.add_collection(PolyCollection(corners, facecolors="tab:blue", edgecolors="black", linewidths=0.5))
    first, bar = bar_grid(melody)
    if not small or total <= 32 * bar:  # past 32 bars, a small roll would be all bar lines
        bars = range(first, total + 1, bar)
        axes.vlines(bars, 0, 1, transform=axes.get_xaxis_transform(), color="grey", linewidth=0.6, alpha=0.6)
    pitches = melody.pitch[notes]
    low, high = (int(pitches.min()), int(pitches.max())) if pitches.size else (60, 72)
    axes.set_xlim(0, total)
    axes.set_ylim(low - 2, high + 2)
    step = max(1, (high - low + 4) // (4 if small else 10))
    ticks = list(range(low - 1, high + 2, step))
    axes.set_yticks(ticks, [pretty_midi.note_number_to_name(t) for t in ticks])
    bars = list(range(first, total + 1, bar * max(1, total // (bar * (4 if small else 16)))))
    axes.set_xticks(bars, [str((b - first) // bar + 1) for b in bars])
    axes.tick_params(labelsize=6 if small else 8)
    if not small:
        axes.set_xlabel("bar")
    if title:
        axes.set_title(title, fontsize=7 if small else 10)


def _save(figure, path: str | os.PathLike) -> Path:
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def piano_roll_png(melody: Melody, path: str | os.PathLike, title: str | None = None) -> Path:
    """Draw pitch (named, C4 = 60) against time, a line at every bar of its meter; rests stay blank."""
    # The figure is built without pyplot: no global figure state, and Agg needs no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    total = max(melody.total_steps, 1)
    figure = Figure(figsize=(min(4 + total / 16, 24), 3.5), dpi=100)
    FigureCanvasAgg(figure)
    _draw_roll(figure.add_subplot(), melody, title)
    return _save(figure, path)


def piano_roll_grid(melodies: Sequence[Melody], path: str | os.PathLike, columns: int = 4) -> Path:
    """Several melodies' piano rolls in one picture, ``columns`` to a row, titled by their number."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = -(-len(melodies) // columns)
    figure = Figure(figsize=(3.6 * columns, 2.2 * rows), dpi=100)
    FigureCanvasAgg(figure)
    for i, melody in enumerate(melodies):
        _draw_roll(figure.add_subplot(rows, columns, i + 1), melody, f"{i:03d}", small=True)
    return _save(figure, path)


#: beside a conditioned model's samples: each file's meter, key and style, and which of them were drawn
CONDITIONS_FILE = "conditions.json"


def write_melodies(
    melodies: Sequence[Melody],
    out_dir: str | os.PathLike,
    stem: str = "sample",
    png: bool = True,
    max_pngs: int | None = None,
    wav: bool = False,
) -> list[Path]:
    """Write ``<stem>_000.mid`` … into ``out_dir``, and with ``png`` a piano roll ``<stem>_000.png`` for
    each of the first ``max_pngs`` melodies (None: all) and, for several, ``<stem>_grid.png`` of the first
    16 together; with ``wav`` also ``<stem>_000.wav`` for those; returns every path written. (A piano roll takes matplotlib about 0.8 s: a thousand
    samples would spend minutes drawing.)"""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    drawn = len(melodies) if max_pngs is None else min(max_pngs, len(melodies))
    for i, melody in enumerate(melodies):
        name = f"{stem}_{i:03d}"
        written.append(melody_to_midi(melody, out_dir / f"{name}.mid"))
        if png and i < drawn:
            written.append(piano_roll_png(melody, out_dir / f"{name}.png", title=name))
        if wav and i < drawn:
            written.append(write_wav(melody, out_dir / f"{name}.wav"))
    if png and len(melodies) > 1:
        written.append(piano_roll_grid(melodies[:16], out_dir / f"{stem}_grid.png"))
    conditioned = {
        f"{stem}_{i:03d}.mid": {**m.meta["conditions"], "drawn": m.meta.get("drawn", [])}
        for i, m in enumerate(melodies)
        if m.meta.get("conditions")
    }
    if conditioned:  # what each sample was asked to be, and which conditions were drawn for it
        written.append(write_json_atomic(out_dir / CONDITIONS_FILE, conditioned))
    return written
