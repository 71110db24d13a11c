"""Musical statistics of melodies, as small pure functions (each one line of definition), and the
Yang & Lerch (2018) comparison of two sets of melodies.

They catch the blog post's failure early: a model that has learned "the average note" writes melodies with
few distinct pitches, most notes on one pitch, a narrow range and tiny steps. Entropies are in bits; rests
are skipped by every pitch statistic and counted by :func:`rest_share`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from melodygen.errors import MelodygenError
from melodygen.music import meter
from melodygen.music.melody import MAX_DURATION, Melody
from melodygen.registry import SET_FEATURES as FEATURES
from melodygen.registry import STATISTICS

#: Pitch classes of C major (and of A natural minor, the same set); the other keys are its rotations.
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
#: Intervals beyond an octave are counted at ±12 by :func:`interval_histogram`.
MAX_INTERVAL = 12


def _notes(melody: Melody) -> np.ndarray:
    return melody.pitch[melody.is_note].astype(np.int64)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum() if counts.sum() else np.zeros(0)
    return float(-(p * np.log2(p)).sum()) + 0.0


def distinct_pitches(melody: Melody) -> int:
    """How many different pitches the notes use."""
    return int(np.unique(_notes(melody)).size)


def pitch_classes_used(melody: Melody) -> int:
    """How many of the 12 pitch classes the notes use."""
    return int(np.unique(_notes(melody) % 12).size)


def top_pitch_share(melody: Melody) -> float:
    """The share of notes on the most common pitch (1.0: every note the same): the collapse alarm."""
    notes = _notes(melody)
    return float(np.bincount(notes).max() / notes.size) if notes.size else 0.0


def pitch_range(melody: Melody) -> int:
    """Highest minus lowest pitch, in semitones."""
    notes = _notes(melody)
    return int(notes.max() - notes.min()) if notes.size else 0


def pitch_entropy(melody: Melody) -> float:
    """Entropy of the distribution of pitches over the notes, in bits."""
    return _entropy(np.bincount(_notes(melody), minlength=128))


def pitch_class_entropy(melody: Melody) -> float:
    """Entropy of the distribution of pitch classes over the notes, in bits (at most log2 12 ≈ 3.58)."""
    return _entropy(np.bincount(_notes(melody) % 12, minlength=12))


def scale_consistency(melody: Melody) -> float:
    """The largest share of notes that lie in one major (equally: natural minor) scale."""
    notes = _notes(melody)
    if not notes.size:
        return 0.0
    counts = np.bincount(notes % 12, minlength=12)
    return float(
        max(counts[[(tonic + step) % 12 for step in MAJOR_SCALE]].sum() for tonic in range(12)) / notes.size
    )


def mean_abs_interval(melody: Melody) -> float:
    """The mean size of the step from one note to the next, in semitones (rests skipped)."""
    notes = _notes(melody)
    return float(np.abs(np.diff(notes)).mean()) if notes.size > 1 else 0.0


def interval_histogram(melody: Melody) -> np.ndarray:
    """Shares of the signed steps from note to note, −12 … +12 semitones (larger ones at the ends)."""
    steps = np.clip(np.diff(_notes(melody)), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
    counts = np.bincount(steps, minlength=2 * MAX_INTERVAL + 1).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def note_length_histogram(melody: Melody) -> np.ndarray:
    """Shares of the note lengths 1 … 16 sixteenths (rests skipped)."""
    lengths = melody.duration[melody.is_note].astype(np.int64)
    counts = np.bincount(np.clip(lengths, 1, MAX_DURATION) - 1, minlength=MAX_DURATION).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def rest_share(melody: Melody) -> float:
    """The share of the melody's time spent in rests."""
    total = melody.total_steps
    return float(melody.duration[~melody.is_note].sum() / total) if total else 0.0


def ngram_repetition(melody: Melody, n: int = 4) -> float:
    """The share of the melody's ``n``-note pitch sequences that occur earlier in it (0: none repeats)."""
    notes = _notes(melody)
    grams = [tuple(notes[i : i + n]) for i in range(notes.size - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def downbeat_share(melody: Melody) -> float:
    """Of the bar lines inside the melody, the share on which a note starts (:mod:`melodygen.music.meter`)."""
    return meter.downbeat_share(melody)


def across_bar_share(melody: Melody) -> float:
    """Of the notes, the share that sound across a bar line (:mod:`melodygen.music.meter`)."""
    return meter.across_bar_share(melody)


#: Bins of :func:`onset_position_histogram`: 48 divides every common bar (8, 12 and 16 16ths) evenly.
POSITION_BINS = 48


def onset_position_histogram(melody: Melody) -> np.ndarray:
    """Shares of the notes by where in the bar they start, the bar cut into :data:`POSITION_BINS` equal
    parts (so melodies of different meters share one axis)."""
    bar = meter.bar_steps(*meter.time_signature(melody))
    positions = meter.onset_positions(melody) * POSITION_BINS // bar
    counts = np.bincount(positions, minlength=POSITION_BINS).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


#: Scalar statistics, by name (a plugin's too: :func:`melodygen.plugins.register_statistic`): logged per
#: epoch for the sample monitor's melodies (``sample/<name>``) and reported for sets of melodies.
SAMPLE_STATISTICS: Mapping[str, Callable[[Melody], float]] = STATISTICS
#: Every feature the Yang & Lerch comparison uses: the scalars, the pitch entropy and the histograms.
SET_FEATURES: Mapping[str, Callable[[Melody], float | np.ndarray]] = FEATURES


def sample_statistics(melodies: Sequence[Melody]) -> dict[str, float]:
    """Each statistic of :data:`SAMPLE_STATISTICS`, averaged over ``melodies``, and ``token_errors``
    (the share of sampled tokens the decoder skipped) where the sampler counted them."""
    stats = {name: float(np.mean([f(m) for m in melodies])) for name, f in SAMPLE_STATISTICS.items()}
    if melodies and all("token_errors" in m.meta for m in melodies):
        stats["token_errors"] = float(np.mean([m.meta["token_errors"] for m in melodies]))
    return stats


#: Beside a run's samples: each melody's statistics (``samples/…/statistics.json``), and the same of real
#: tunes, the validation split's cut to the samples' length (``samples/real_tunes.json``).
STATISTICS_FILE, REAL_TUNES_FILE = "statistics.json", "real_tunes.json"


def write_statistics(melodies: Sequence[Melody], path, **about) -> None:
    """Each melody's :data:`SAMPLE_STATISTICS` and their mean, as JSON (``about``: what the melodies are)."""
    from melodygen.runtime.atomic import write_json_atomic

    each = [{name: float(f(m)) for name, f in SAMPLE_STATISTICS.items()} for m in melodies]
    write_json_atomic(
        path, {**about, "melodies": len(melodies), "mean": sample_statistics(melodies), "each": each}
    )


# ------------------------------------------------------------------------ comparing two sets of melodies


def pairwise_distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances of every row of ``a`` to every row of ``b`` (within ``a``: each pair once)."""
    a = a.reshape(len(a), -1)
    if b is None:
        i, j = np.triu_indices(len(a), k=1)
        return np.linalg.norm(a[i] - a[j], axis=1)
    b = b.reshape(len(b), -1)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2).ravel()


def density(values: np.ndarray, grid: np.ndarray, width: float) -> np.ndarray:
    """A Gaussian kernel density of ``values`` on ``grid`` (scipy's; a spike of ``width`` when they are
    all the same, where a kernel density is undefined)."""
    from scipy.stats import gaussian_kde

    if values.size > 1 and np.ptp(values) > 0:
        density = gaussian_kde(values)(grid)
    else:
        center = float(values.mean()) if values.size else 0.0
        density = np.exp(-0.5 * ((grid - center) / width) ** 2)
    area = np.trapezoid(density, grid)
    return density / area if area > 0 else density


def overlap_and_kl(reference: np.ndarray, other: np.ndarray, points: int = 1000) -> tuple[float, float]:
    """Overlapping area (0–1) of the two distributions' densities, and KL(reference ‖ other) in bits."""
    low, high = min(reference.min(), other.min()), max(reference.max(), other.max())
    span = max(high - low, 1e-6)
    grid = np.linspace(low - 0.25 * span, high + 0.25 * span, points)
    width = span / 50
    p, q = density(reference, grid, width), density(other, grid, width)
    overlap = float(np.trapezoid(np.minimum(p, q), grid))
    floor = 1e-12
    kl = float(np.trapezoid(p * np.log2((p + floor) / (q + floor)), grid))
    return min(overlap, 1.0), max(kl, 0.0)


#: At most this many melodies of each set enter the distances (chosen with a fixed seed): the paper's
#: sets were about 100, and the kernel densities grow with the square of the set size.
MAX_SET = 300


def _at_most(melodies: Sequence[Melody], count: int) -> list[Melody]:
    if len(melodies) <= count:
        return list(melodies)
    chosen = np.random.default_rng(0).choice(len(melodies), size=count, replace=False)
    return [melodies[i] for i in sorted(chosen)]


def compare_sets(
    reference: Sequence[Melody], generated: Sequence[Melody], features: dict | None = None
) -> dict[str, dict]:
    """Yang & Lerch (2018), per feature: the distances within the reference set against the distances from
    each generated melody to each reference melody; their overlapping area (1: the generated set is as
    close to the reference as the reference is to itself) and KL divergence, with the distances for plots.
    Each set enters with at most :data:`MAX_SET` melodies.
    """
    if len(reference) < 2 or not generated:
        raise MelodygenError(
            f"a set comparison needs at least 2 reference melodies and 1 generated one; "
            f"got {len(reference)} and {len(generated)}"
        )
    reference, generated = _at_most(reference, MAX_SET), _at_most(generated, MAX_SET)
    results = {}
    for name, feature in (features or SET_FEATURES).items():
        ref = np.array([np.atleast_1d(feature(m)) for m in reference], dtype=float)
        gen = np.array([np.atleast_1d(feature(m)) for m in generated], dtype=float)
        intra, inter = pairwise_distances(ref), pairwise_distances(gen, ref)
        overlap, kl = overlap_and_kl(intra, inter)
        results[name] = {
            "overlap": overlap,
            "kl": kl,
            # a scalar feature's mean over each set (a histogram's is not worth a number: None)
            "reference_mean": float(ref.mean()) if ref.shape[1] == 1 else None,
            "generated_mean": float(gen.mean()) if gen.shape[1] == 1 else None,
            "intra": intra,
            "inter": inter,
        }
    return results
