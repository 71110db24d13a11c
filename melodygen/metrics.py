"""Musical statistics of melodies, as small pure functions (each one line of definition).

They catch the blog post's failure early: a model that has learned "the average note" writes melodies with
few distinct pitches, most notes on one pitch, a narrow range and tiny steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from melodygen.melody import Melody


def _notes(melody: Melody) -> np.ndarray:
    return melody.pitch[melody.is_note].astype(np.int64)


def distinct_pitches(melody: Melody) -> int:
    """How many different pitches the notes use."""
    return int(np.unique(_notes(melody)).size)


def top_pitch_share(melody: Melody) -> float:
    """The share of notes on the most common pitch (1.0: every note the same)."""
    notes = _notes(melody)
    return float(np.bincount(notes).max() / notes.size) if notes.size else 0.0


def pitch_range(melody: Melody) -> int:
    """Highest minus lowest pitch, in semitones."""
    notes = _notes(melody)
    return int(notes.max() - notes.min()) if notes.size else 0


def mean_abs_interval(melody: Melody) -> float:
    """The mean size of the step from one note to the next, in semitones (rests skipped)."""
    notes = _notes(melody)
    return float(np.abs(np.diff(notes)).mean()) if notes.size > 1 else 0.0


SAMPLE_STATISTICS = {
    "distinct_pitches": distinct_pitches,
    "top_pitch_share": top_pitch_share,
    "pitch_range": pitch_range,
    "mean_abs_interval": mean_abs_interval,
}


def sample_statistics(melodies: Sequence[Melody]) -> dict[str, float]:
    """Each statistic of :data:`SAMPLE_STATISTICS`, averaged over ``melodies``."""
    return {name: float(np.mean([f(m) for m in melodies])) for name, f in SAMPLE_STATISTICS.items()}
