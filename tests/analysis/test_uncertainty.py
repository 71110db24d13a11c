"""The uncertainty figures: t intervals of repeats, paired and unpaired differences, bootstraps."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from melodygen.analysis.uncertainty import bootstrap_ratio, difference, paired_bootstrap, summary


def test_the_t_interval_of_three_values():
    s = summary([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 degrees of freedom), sd 1
    assert (s.mean, s.sd, s.n) == (2.0, 1.0, 3)
    assert s.low == pytest.approx(2.0 - half) and s.high == pytest.approx(2.0 + half)
    one = summary([5.0])
    assert one.mean == 5.0 and one.n == 1 and math.isnan(one.sd) and math.isnan(one.low)


def test_runs_that_share_seeds_pair_up():
    base = {("0", ""): 5.0, ("1", ""): 6.0, ("2", ""): 7.0}
    row = {("0", ""): 4.9, ("1", ""): 5.88, ("2", ""): 6.89}  # lower by 0.10, 0.12 and 0.11
    d = difference(row, base)
    assert d.test == "paired t" and d.n == 3
    assert d.delta == pytest.approx(-0.11)
    assert d.p == pytest.approx(scipy_stats.ttest_rel(list(row.values()), list(base.values())).pvalue)
    assert d.includes_zero is False  # every seed agrees, so the paired interval is narrow
    # the same values unpaired: the seeds' spread (1.0) swamps the difference
    unpaired = difference({("3", ""): 4.9, ("4", ""): 5.88, ("5", ""): 6.89}, base)
    assert unpaired.test == "Welch t" and unpaired.includes_zero is True
    assert unpaired.delta == pytest.approx(d.delta)
    single = difference({("0", ""): 4.0}, {("1", ""): 5.0})
    assert single.test == "none" and single.includes_zero is None and single.delta == -1.0


def test_bootstrap_intervals_over_melodies():
    rng = np.random.default_rng(0)
    notes = rng.integers(20, 80, size=200).astype(float)
    bits = notes * rng.normal(3.0, 0.3, size=200)
    value, low, high = bootstrap_ratio(bits, notes)
    assert value == pytest.approx(bits.sum() / notes.sum()) and low < value < high
    assert high - low < 0.2  # 200 melodies: the mean of 3 bits/note known to about ±0.05
    same = bootstrap_ratio(notes * 2.5, notes)
    assert same == pytest.approx((2.5, 2.5, 2.5))
    # a model better on every melody by 0.1 bits per note: the paired difference is exactly that
    delta, d_low, d_high, p = paired_bootstrap(bits - 0.1 * notes, bits, notes)
    assert (delta, d_low, d_high) == pytest.approx((-0.1, -0.1, -0.1)) and p == pytest.approx(1 / 2000)
    noise = paired_bootstrap(bits + rng.normal(0, 5, size=200), bits, notes)
    assert noise[1] < 0 < noise[2] and noise[3] > 0.05  # noise alone: the interval holds 0


def test_a_group_counts_every_run_and_pairs_by_seed():
    from pathlib import Path

    from melodygen.analysis.compare import Run, group_runs, has_repeats

    def run(i, seed, value, size="8"):
        overrides = {"model.hidden_size": size, "seed": seed}
        return Run(Path(f"/sweep/{i}"), overrides, "done", {"val/pitch_bits": value})

    # seed 0 run twice (a sweep repeated as it was): both count in the mean; the pair uses their mean
    runs = [
        run(0, "0", 1.0),
        run(1, "0", 3.0),
        run(2, "1", 2.0),
        run(3, "0", 1.5, "16"),
        run(4, "1", 1.0, "16"),
    ]
    small, large = group_runs(runs)
    assert has_repeats([small, large]) and (small.label, large.label) == ("hidden_size=8", "hidden_size=16")
    assert small.stats("val/pitch_bits").n == 3 and small.stats("val/pitch_bits").mean == 2.0
    assert small.values("val/pitch_bits") == {("0", ""): 2.0, ("1", ""): 2.0}
    d = difference(large.values("val/pitch_bits"), small.values("val/pitch_bits"))
    assert d.test == "paired t" and d.n == 2 and d.delta == pytest.approx(-0.75)
