"""Measure whether generated melodies have the meter, key and style they were asked for.

A :class:`~melodygen.music.melody.Melody` starts at its first note, so where its bar lines fall is unknown
(tunes may begin with a pickup). Meter is therefore read from features that do not depend on the bar
phase:

* the onset train: on the 16th grid, 1 at every step where a note or rest starts, 0 elsewhere. Its
  normalized autocorrelation at lags 1..48 (three 4/4 bars) shows the periods at which onsets recur:
  a 6/8 jig repeats every 6 and 12 steps, a 3/4 waltz every 4 and 12, a 4/4 tune every 4, 8 and 16;
* the accent train: the same, but each note's onset weighs its duration (long notes tend to fall on
  strong beats), so the autocorrelation shows the bar period rather than the beat alone;
* the histogram of durations 1..16, as shares of all elements.

An autocorrelation at lag ``k`` is the mean of ``x[t] * x[t + k]`` over the ``T - k`` pairs that exist
divided by the mean of ``x[t] ** 2`` over all ``T`` steps: shifting the start does not change it, and
its size does not grow or shrink with the melody's length. Lags a melody is too short for are 0.

Style (which collection a melody looks like it came from) adds pitch features to those: the histogram
of intervals between successive notes (rests skipped, clipped to -12..12), the duration-weighted
pitch-class histogram relative to the estimated tonic, the share of time that is rest, the pitch range
and the number of notes per 16 steps.

Labels are then told apart by :class:`LabelClassifier`, a multinomial logistic regression trained in
torch on standardized features, whose state is plain JSON. The key is named from
:func:`~melodygen.music.keys.estimate_key` (Krumhansl–Schmuckler), and :func:`accuracy_by_label` counts how
often what was found matches what was asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from melodygen.music.conditions import TONICS, key_label
from melodygen.music.keys import MAJOR, MINOR, estimate_key
from melodygen.music.melody import MAX_DURATION, Melody

#: Autocorrelation lags, in 16ths: 1 .. three bars of 4/4.
MAX_LAG = 48
#: Intervals beyond an octave either way count as an octave.
MAX_INTERVAL = 12
RHYTHM_SIZE = 2 * MAX_LAG + MAX_DURATION
STYLE_SIZE = RHYTHM_SIZE + (2 * MAX_INTERVAL + 1) + 12 + 3

NOTE_NAMES = TONICS
MODE_NAMES = {MAJOR: "major", MINOR: "minor"}


# --------------------------------------------------------------------------------------------- features


def _onsets(melody: Melody) -> np.ndarray:
    """Step at which each element starts."""
    duration = np.maximum(melody.duration.astype(np.int64), 1)
    return np.concatenate([[0], np.cumsum(duration)[:-1]]) if duration.size else np.zeros(0, np.int64)


def _autocorrelation(train: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """Normalized autocorrelation of ``train`` at lags ``1..max_lag`` (see the module docstring)."""
    out = np.zeros(max_lag, np.float64)
    size = train.size
    power = float(np.dot(train, train)) / size if size else 0.0
    if power <= 0.0:
        return out
    for lag in range(1, min(max_lag, size - 1) + 1):
        out[lag - 1] = float(np.dot(train[:-lag], train[lag:])) / (size - lag) / power
    return out


def rhythm_features(melody: Melody) -> np.ndarray:
    """Phase-invariant rhythm features (float32, length :data:`RHYTHM_SIZE`): autocorrelation of the
    onset train and of the duration-weighted note train at lags 1..48, then the duration shares 1..16."""
    duration = np.maximum(melody.duration.astype(np.int64), 1)
    size = int(duration.sum())
    onsets = _onsets(melody)
    onset_train = np.zeros(size, np.float64)
    onset_train[onsets] = 1.0
    accent_train = np.zeros(size, np.float64)
    notes = melody.is_note
    accent_train[onsets[notes]] = duration[notes]
    counts = np.bincount(np.minimum(duration, MAX_DURATION) - 1, minlength=MAX_DURATION).astype(np.float64)
    shares = counts / counts.sum() if counts.sum() else counts
    features = np.concatenate([_autocorrelation(onset_train), _autocorrelation(accent_train), shares])
    return features.astype(np.float32)


def style_features(melody: Melody) -> np.ndarray:
    """Features for telling collections apart (float32, length :data:`STYLE_SIZE`):
    :func:`rhythm_features`, interval shares (-12..12), tonic-relative duration-weighted pitch-class
    shares, share of rest time, pitch range / 24 and notes per 16 steps / 8."""
    notes = melody.is_note
    pitch = melody.pitch[notes].astype(np.int64)
    duration = np.maximum(melody.duration.astype(np.int64), 1)

    intervals = np.clip(np.diff(pitch), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
    interval_hist = np.bincount(intervals, minlength=2 * MAX_INTERVAL + 1).astype(np.float64)
    if interval_hist.sum():
        interval_hist /= interval_hist.sum()

    pc_hist = np.zeros(12, np.float64)
    if pitch.size:
        tonic, _ = estimate_key(melody.pitch, melody.duration)
        pc_hist = np.bincount((pitch - tonic) % 12, weights=duration[notes], minlength=12).astype(np.float64)
        pc_hist /= pc_hist.sum()

    total = float(duration.sum())
    rest_share = float(duration[~notes].sum()) / total if total else 0.0
    pitch_range = float(pitch.max() - pitch.min()) / 24.0 if pitch.size else 0.0
    density = pitch.size * 16.0 / total / 8.0 if total else 0.0

    extra = np.array([rest_share, pitch_range, density], np.float64)
    features = np.concatenate([rhythm_features(melody), interval_hist, pc_hist, extra])
    return features.astype(np.float32)


def feature_matrix(
    melodies: Sequence[Melody], features: Callable[[Melody], np.ndarray] = style_features
) -> np.ndarray:
    """``features`` of every melody, stacked into an ``(N, D)`` float32 array."""
    rows = [features(m) for m in melodies]
    if not rows:
        size = RHYTHM_SIZE if features is rhythm_features else STYLE_SIZE
        return np.zeros((0, size), np.float32)
    return np.stack(rows).astype(np.float32)


# ------------------------------------------------------------------------------------------- classifier


class LabelClassifier:
    """Multinomial logistic regression over standardized features; labels are strings."""

    def __init__(
        self, labels: Sequence[str], mean: np.ndarray, std: np.ndarray, weight: np.ndarray, bias: np.ndarray
    ) -> None:
        self._labels = [str(label) for label in labels]
        self.mean = np.asarray(mean, np.float64)
        self.std = np.asarray(std, np.float64)
        self.weight = np.asarray(weight, np.float64)
        self.bias = np.asarray(bias, np.float64)
        classes, dims = len(self._labels), self.mean.size
        if self.std.shape != (dims,) or self.weight.shape != (classes, dims) or self.bias.shape != (classes,):
            raise ValueError(
                f"inconsistent shapes: {classes} labels, mean {self.mean.shape}, std {self.std.shape}, "
                f"weight {self.weight.shape}, bias {self.bias.shape}"
            )

    @property
    def labels(self) -> list[str]:
        """The labels, sorted; class ``i`` of the scores is ``labels[i]``."""
        return list(self._labels)

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: Sequence[str],
        steps: int = 200,
        l2: float = 1e-3,
        seed: int = 0,
    ) -> LabelClassifier:
        """Train on ``features`` ``(N, D)`` and one label per row: standardize with the training mean and
        std, then minimize mean cross-entropy + ``l2`` * squared weights (biases free) with full-batch
        L-BFGS for at most ``steps`` iterations, from small random weights drawn with ``seed``."""
        x = np.asarray(features, np.float64)
        labels = [str(label) for label in labels]
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"features must be a non-empty (N, D) array, got shape {x.shape}")
        if len(labels) != x.shape[0]:
            raise ValueError(f"{x.shape[0]} feature rows but {len(labels)} labels")
        if not np.isfinite(x).all():
            raise ValueError("features must be finite")
        names = sorted(set(labels))
        index = {name: i for i, name in enumerate(names)}
        mean = x.mean(0)
        std = x.std(0)
        std = np.where(std > 1e-12, std, 1.0)

        inputs = torch.from_numpy((x - mean) / std)
        targets = torch.tensor([index[label] for label in labels], dtype=torch.long)
        generator = torch.Generator().manual_seed(int(seed))
        weight = (
            0.01 * torch.randn(len(names), x.shape[1], generator=generator, dtype=torch.float64)
        ).requires_grad_()
        bias = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [weight, bias],
            lr=1.0,
            max_iter=max(int(steps), 1),
            tolerance_grad=1e-9,
            tolerance_change=1e-12,
            history_size=20,
            line_search_fn="strong_wolfe",
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            logits = inputs @ weight.T + bias
            loss = torch.nn.functional.cross_entropy(logits, targets) + l2 * (weight**2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return cls(names, mean, std, weight.detach().numpy().copy(), bias.detach().numpy().copy())

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Logits ``(N, classes)``, computed in numpy so a saved and loaded classifier gives the same."""
        x = np.atleast_2d(np.asarray(features, np.float64))
        return ((x - self.mean) / self.std) @ self.weight.T + self.bias

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of each label (columns in :attr:`labels` order)."""
        logits = self.scores(features)
        logits = logits - logits.max(1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(1, keepdims=True)

    def predict(self, features: np.ndarray) -> list[str]:
        """The most likely label of every row."""
        return [self._labels[i] for i in np.argmax(self.scores(features), axis=1).tolist()]

    def accuracy(self, features: np.ndarray, labels: Sequence[str]) -> float:
        """Share of rows whose predicted label is the given one."""
        return overall([str(label) for label in labels], self.predict(features))

    def to_dict(self) -> dict:
        """State as plain JSON-able values (lists of floats)."""
        return {
            "kind": "logistic",
            "labels": list(self._labels),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "weight": self.weight.tolist(),
            "bias": self.bias.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict) -> LabelClassifier:
        """Inverse of :meth:`to_dict`."""
        return cls(
            state["labels"],
            np.array(state["mean"], np.float64),
            np.array(state["std"], np.float64),
            np.array(state["weight"], np.float64).reshape(len(state["labels"]), len(state["mean"])),
            np.array(state["bias"], np.float64),
        )


def meter_classifier(
    melodies: Sequence[Melody], meters: Sequence[str], steps: int = 200, l2: float = 1e-3, seed: int = 0
) -> LabelClassifier:
    """A :class:`LabelClassifier` of meters (e.g. ``"6/8"``) fit on :func:`rhythm_features`."""
    return LabelClassifier.fit(
        feature_matrix(melodies, rhythm_features), meters, steps=steps, l2=l2, seed=seed
    )


def style_classifier(
    melodies: Sequence[Melody], styles: Sequence[str], steps: int = 200, l2: float = 1e-3, seed: int = 0
) -> LabelClassifier:
    """A :class:`LabelClassifier` of styles (collections) fit on :func:`style_features`."""
    return LabelClassifier.fit(
        feature_matrix(melodies, style_features), styles, steps=steps, l2=l2, seed=seed
    )


# ------------------------------------------------------------------------------------------------- keys


def key_name(tonic: int, mode: int) -> str:
    """E.g. ``key_name(2, MAJOR) == "D major"``, ``key_name(6, MINOR) == "F# minor"`` (the labels of
    :data:`melodygen.music.conditions.KEYS`)."""
    if mode not in MODE_NAMES:
        raise ValueError(f"mode must be MAJOR ({MAJOR}) or MINOR ({MINOR}), got {mode}")
    return key_label(tonic, mode)


def estimated_key_name(melody: Melody) -> str:
    """Name of the key :func:`~melodygen.music.keys.estimate_key` finds for ``melody``."""
    return key_name(*estimate_key(melody.pitch, melody.duration))


# --------------------------------------------------------------------------------------------- accuracy


def accuracy_by_label(asked: Sequence[str], found: Sequence[str]) -> dict[str, tuple[int, int]]:
    """For each asked label (sorted), ``(how many were found as asked, how many were asked)``."""
    if len(asked) != len(found):
        raise ValueError(f"{len(asked)} asked labels but {len(found)} found")
    counts: dict[str, list[int]] = {}
    for want, got in zip(asked, found):
        entry = counts.setdefault(want, [0, 0])
        entry[0] += int(want == got)
        entry[1] += 1
    return {label: (correct, total) for label, (correct, total) in sorted(counts.items())}


def overall(asked: Sequence[str], found: Sequence[str]) -> float:
    """Share of all asked labels that were found; 0.0 when nothing was asked."""
    if len(asked) != len(found):
        raise ValueError(f"{len(asked)} asked labels but {len(found)} found")
    if not asked:
        return 0.0
    return sum(int(a == f) for a, f in zip(asked, found)) / len(asked)


__all__ = [
    "MAX_LAG",
    "NOTE_NAMES",
    "RHYTHM_SIZE",
    "STYLE_SIZE",
    "LabelClassifier",
    "accuracy_by_label",
    "estimated_key_name",
    "feature_matrix",
    "key_name",
    "meter_classifier",
    "overall",
    "rhythm_features",
    "style_classifier",
    "style_features",
]


# ------------------------------------------------------------------------------------------ real tunes


def cut(melody: Melody, length: int | None) -> Melody:
    """The first ``length`` notes and rests of ``melody`` (all of it for None), as samples of that length
    are long, so a classifier fit on real tunes sees melodies like the ones it will judge."""
    if length is None or len(melody) <= length:
        return melody
    return Melody(
        melody.pitch[:length], melody.duration[:length], melody.qpm, melody.source, dict(melody.meta)
    )


def real_meter_classifier(
    parsed,
    indices: Sequence[int],
    conditions: Sequence[dict],
    length: int | None,
    limit: int = 3000,
    seed: int = 0,
) -> LabelClassifier | None:
    """A meter classifier fit on the melodies ``indices`` of a parsed folder whose meter is notated (at most
    ``limit`` of them, drawn with ``seed``), each cut to ``length``; None when fewer than two meters occur."""
    notated = [i for i in indices if parsed.meter[i, 0] > 0]
    if len(notated) > limit:
        notated = sorted(np.random.default_rng(seed).choice(notated, size=limit, replace=False).tolist())
    meters = [conditions[i]["meter"] for i in notated]
    if len(set(meters)) < 2:
        return None
    return meter_classifier([cut(parsed.melody(i), length) for i in notated], meters, seed=seed)
