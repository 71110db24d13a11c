"""Uncertainty of the figures melodygen reports: small pure functions, one definition each.

- :func:`summary`: mean, standard deviation, n and Student's t interval of repeated runs (seeds, folds).
- :func:`difference`: a row against a baseline: paired over the seeds or folds both have (a paired
  t-test), else Welch's unpaired interval, else the bare difference.
- :func:`bootstrap_ratio` / :func:`paired_bootstrap`: bits per note over the melodies of a folder, with a
  percentile bootstrap over melodies (a ratio of sums: every note counts once, so melodies are resampled
  whole, with their notes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float  # NaN for one value
    n: int
    low: float  # the interval's ends: NaN for one value
    high: float


def summary(values: Sequence[float], level: float = LEVEL) -> Summary:
    """Mean, sample standard deviation and the t interval of the mean, of ``values`` (n ≥ 1)."""
    from scipy import stats

    data = np.asarray(values, dtype=float)
    n = len(data)
    mean = float(data.mean())
    if n < 2:
        return Summary(mean, math.nan, n, math.nan, math.nan)
    sd = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Summary(mean, sd, n, mean - half, mean + half)


@dataclass(frozen=True)
class Difference:
    """``row − baseline``: its interval (NaN ends when none can be given), the test that gave it, its
    p-value (NaN without a test), and how many pairs or values it used."""

    delta: float
    low: float
    high: float
    test: str  # "paired t", "Welch t" or "none"
    p: float
    n: int

    @property
    def includes_zero(self) -> bool | None:
        """Whether the interval holds 0 (no difference shown); None when there is no interval."""
        if math.isnan(self.low):
            return None
        return self.low <= 0.0 <= self.high


def difference(
    row: Mapping[object, float], baseline: Mapping[object, float], level: float = LEVEL
) -> Difference:
    """``row − baseline``, each given as ``{pairing key: value}`` (the key: a run's seed and fold).

    With two or more keys in common the runs pair up: the interval and the p-value are those of a paired
    t-test on the differences of the shared keys. Otherwise, with two or more values each, Welch's
    unpaired interval; otherwise the difference of means alone.
    """
    from scipy import stats

    shared = [key for key in row if key in baseline]
    mean_diff = float(np.mean(list(row.values())) - np.mean(list(baseline.values())))
    if len(shared) >= 2:
        diffs = np.array([row[key] - baseline[key] for key in shared], dtype=float)
        s = summary(diffs, level)
        if s.sd == 0.0:  # every pair differs by the same amount: no spread to test against
            return Difference(s.mean, s.mean, s.mean, "paired t", 0.0 if s.mean else 1.0, len(shared))
        p = float(stats.ttest_rel([row[k] for k in shared], [baseline[k] for k in shared]).pvalue)
        return Difference(s.mean, s.low, s.high, "paired t", p, len(shared))
    a, b = np.array(list(row.values()), float), np.array(list(baseline.values()), float)
    if len(a) >= 2 and len(b) >= 2:
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        if va + vb == 0.0:
            p = 0.0 if mean_diff else 1.0
            return Difference(mean_diff, mean_diff, mean_diff, "Welch t", p, len(a) + len(b))
        dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
        half = float(stats.t.ppf(0.5 + level / 2, dof)) * math.sqrt(va + vb)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        return Difference(mean_diff, mean_diff - half, mean_diff + half, "Welch t", p, len(a) + len(b))
    return Difference(mean_diff, math.nan, math.nan, "none", math.nan, len(a) + len(b))


def verdict(includes_zero: bool | None, delta: float, higher_is_better: bool) -> str:
    """What a difference with its interval says, in a table's words."""
    if includes_zero is None:
        return "no interval"
    if includes_zero:
        return "0 in interval"
    return "better" if (delta > 0) == higher_is_better else "worse"


def _resamples(n_items: int, draws: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_items, size=(draws, n_items))


def bootstrap_ratio(
    numerators: Sequence[float],
    denominators: Sequence[float],
    draws: int = 2000,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``Σ numerators / Σ denominators`` (bits per note over melodies) and its percentile bootstrap
    interval, resampling the items (melodies) with replacement."""
    num, den = np.asarray(numerators, float), np.asarray(denominators, float)
    value = float(num.sum() / den.sum())
    picks = _resamples(len(num), draws, seed)
    ratios = num[picks].sum(axis=1) / np.maximum(den[picks].sum(axis=1), 1e-12)
    low, high = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    return value, float(low), float(high)


def paired_bootstrap(
    numerators: Sequence[float],
    baseline_numerators: Sequence[float],
    denominators: Sequence[float],
    draws: int = 2000,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[float, float, float, float]:
    """The difference of two ratios over the same items (two checkpoints' bits per note on the same
    melodies, so the same notes), its paired percentile bootstrap interval (each draw resamples the
    melodies once for both) and the share of draws on the other side of zero, doubled (a two-sided
    bootstrap p-value, at least 1/draws)."""
    a, b, den = (np.asarray(x, float) for x in (numerators, baseline_numerators, denominators))
    value = float((a.sum() - b.sum()) / den.sum())
    picks = _resamples(len(a), draws, seed)
    diffs = (a[picks].sum(axis=1) - b[picks].sum(axis=1)) / np.maximum(den[picks].sum(axis=1), 1e-12)
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    other_side = float(np.mean(diffs <= 0.0) if value > 0 else np.mean(diffs >= 0.0))
    return value, float(low), float(high), min(1.0, max(2 * other_side, 1.0 / draws))
