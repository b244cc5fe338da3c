"""Exact maths of voicelab.measure.stats on small known inputs."""

import math

import numpy as np
import pandas as pd
import pytest

from voicelab.measure.stats import (
    bootstrap_difference_ci,
    bootstrap_mean_ci,
    bootstrap_percentile_ci,
    empirical_cdf,
    percentile_table,
    told_apart,
)


def test_estimate_is_numpy_linear_percentile():
    x = [1.0, 2.0, 3.0, 4.0]
    assert bootstrap_percentile_ci(x, 50)[0] == 2.5
    assert bootstrap_percentile_ci(x, 90)[0] == pytest.approx(3.7)   # 3 + 0.7 * (4 - 3)
    assert bootstrap_percentile_ci(x, 99)[0] == pytest.approx(3.97)
    assert bootstrap_percentile_ci(x, 0)[0] == 1.0 and bootstrap_percentile_ci(x, 100)[0] == 4.0
    y = [10.0, 0.0, 5.0]                                               # order does not matter
    assert bootstrap_percentile_ci(y, 25)[0] == 2.5


def test_two_values_median_interval_is_exact():
    # resample medians of [0, 1]: 0 (p 1/4), 0.5 (p 1/2), 1 (p 1/4) -> the 95% interval is [0, 1]
    assert bootstrap_percentile_ci([0.0, 1.0], 50) == (0.5, 0.0, 1.0)
    # identical values: every resample gives the same percentile
    assert bootstrap_percentile_ci([5.0, 5.0, 5.0], 90) == (5.0, 5.0, 5.0)


def test_interval_contains_estimate_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small, large = rng.lognormal(7, 0.3, 30), rng.lognormal(7, 0.3, 3000)
    widths = []
    for x in (small, large):
        for q in (50, 90):
            est, lo, hi = bootstrap_percentile_ci(x, q)
            assert lo <= est <= hi and lo < hi
            assert x.min() <= lo and hi <= x.max()
        est, lo, hi = bootstrap_percentile_ci(x, 50)
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 4            # ~1/sqrt(n): 10x the ratio of sqrt(100)


def test_wider_coverage_gives_wider_interval():
    x = np.arange(100.0)
    _, lo95, hi95 = bootstrap_percentile_ci(x, 50, ci=0.95)
    _, lo50, hi50 = bootstrap_percentile_ci(x, 50, ci=0.5)
    assert lo95 <= lo50 < hi50 <= hi95


def test_deterministic_with_the_seed():
    x = np.random.default_rng(2).normal(1000, 100, 50)
    assert bootstrap_percentile_ci(x, 90, seed=7) == bootstrap_percentile_ci(x, 90, seed=7)
    # resample percentiles take few distinct values, so look at several seeds
    assert len({bootstrap_percentile_ci(x, 90, seed=s) for s in range(6)}) > 1
    # the interval does not depend on the container type
    assert bootstrap_percentile_ci(list(x), 90) == bootstrap_percentile_ci(pd.Series(x), 90)


def test_nan_empty_and_single_value():
    assert bootstrap_percentile_ci([1.0, math.nan, 3.0], 50) == bootstrap_percentile_ci([1.0, 3.0], 50)
    for empty in ([], [math.nan, math.nan], np.array([])):
        assert all(math.isnan(v) for v in bootstrap_percentile_ci(empty, 50))
    assert bootstrap_percentile_ci([42.0], 99) == (42.0, 42.0, 42.0)
    assert bootstrap_percentile_ci([math.nan, 42.0], 50) == (42.0, 42.0, 42.0)


@pytest.mark.parametrize("kw", [dict(q=101), dict(q=-1), dict(q=50, ci=1.0), dict(q=50, ci=0.0),
                                dict(q=50, n_boot=0)])
def test_bad_arguments_raise(kw):
    with pytest.raises(ValueError):
        bootstrap_percentile_ci([1.0, 2.0], **kw)


def _results() -> pd.DataFrame:
    rows = []
    for point, base in (("b-point", 100.0), ("a-point", 200.0)):           # not alphabetical
        rows.append({"point": point, "warmup": True, "lat_ms": 1e9, "wer": 99.0})
        for i in range(5):
            rows.append({"point": point, "warmup": False, "lat_ms": base + 10 * i,
                         "wer": math.nan if i == 4 else 0.1 * i})
    rows.append({"point": "only-warm", "warmup": True, "lat_ms": 5.0, "wer": 0.0})
    return pd.DataFrame(rows)


def test_percentile_table_excludes_warmup_and_keeps_order():
    t = percentile_table(_results(), ["lat_ms", "wer"])
    assert list(t.columns) == ["point", "metric", "n", "clusters", "p50", "p50_lo", "p50_hi", "p90", "p90_lo",
                               "p90_hi", "p99", "p99_lo", "p99_hi"]
    assert list(zip(t["point"], t["metric"])) == [
        ("b-point", "lat_ms"), ("b-point", "wer"), ("a-point", "lat_ms"), ("a-point", "wer"),
        ("only-warm", "lat_ms"), ("only-warm", "wer")]
    b = t.iloc[0]
    assert b["n"] == 5 and b["p50"] == 120.0 and b["p90"] == pytest.approx(136.0)
    assert b["p99"] == pytest.approx(139.6) and b["p99_hi"] <= 140.0     # the 1e9 warm-up is out
    assert t.iloc[1]["n"] == 4 and t.iloc[1]["p50"] == pytest.approx(0.15)
    assert t.iloc[2]["p50"] == 220.0
    warm = t.iloc[4]
    assert warm["n"] == 0 and math.isnan(warm["p50"]) and math.isnan(warm["p99_hi"])
    # each cell is bootstrap_percentile_ci of that group's values with the same seed
    assert tuple(b[["p90", "p90_lo", "p90_hi"]]) == bootstrap_percentile_ci([100, 110, 120, 130, 140], 90)


def test_percentile_table_options_and_errors():
    t = percentile_table(_results(), ["lat_ms"], qs=(25, 97.5))
    assert "p25_lo" in t and "p97.5_hi" in t and t.iloc[0]["p25"] == 110.0
    no_flag = _results().drop(columns="warmup")
    assert percentile_table(no_flag, ["lat_ms"]).iloc[0]["n"] == 6            # no flag: every row
    with pytest.raises(KeyError, match="nope"):
        percentile_table(_results(), ["nope"])


def test_empirical_cdf():
    x, F = empirical_cdf([3.0, math.nan, 1.0, 2.0, 2.0])
    assert x.tolist() == [1.0, 2.0, 2.0, 3.0]
    assert F.tolist() == [0.25, 0.5, 0.75, 1.0]
    x, F = empirical_cdf([])
    assert len(x) == 0 and len(F) == 0


# --- resampled by clip (cluster bootstrap) ------------------------------------------------

def test_cluster_bootstrap_draws_whole_clips():
    # two clips of 10 turns: clip a all 0, clip b all 1. Drawing two clips gives {a, a}
    # (p 1/4, mean 0), {a, b} (p 1/2, mean 0.5), {b, b} (p 1/4, mean 1): the 95 % interval is
    # exactly [0, 1]. Drawing 20 turns one by one instead gives a binomial mean with sd
    # 0.5 / sqrt(20) = 0.11, an interval well inside (0.2, 0.8).
    x = [0.0] * 10 + [1.0] * 10
    clips = ["a"] * 10 + ["b"] * 10
    assert bootstrap_mean_ci(x, groups=clips) == (0.5, 0.0, 1.0)
    _, lo, hi = bootstrap_mean_ci(x)
    assert 0.2 < lo < 0.5 < hi < 0.8
    # the median: same three outcomes (0, 0.5, 1)
    assert bootstrap_percentile_ci(x, 50, groups=clips) == (0.5, 0.0, 1.0)


def test_cluster_bootstrap_edge_cases():
    # one clip: the estimate, but no interval (a zero-width one would say nothing)
    est, lo, hi = bootstrap_percentile_ci([1.0, 2.0, 3.0], 50, groups=["a", "a", "a"])
    assert est == 2.0 and math.isnan(lo) and math.isnan(hi)
    mean, lo, hi = bootstrap_mean_ci([1.0, 0.0], groups=["a", "a"])
    assert mean == 0.5 and math.isnan(lo) and math.isnan(hi)
    # NaNs are dropped with their clip: clip b has no value left, so one clip remains
    assert math.isnan(bootstrap_percentile_ci([1.0, math.nan], 50, groups=["a", "b"])[1])
    with pytest.raises(ValueError, match="2 labels for 3 values"):
        bootstrap_percentile_ci([1.0, 2.0, 3.0], 50, groups=["a", "b"])
    # identical clips: every resample is the same
    assert bootstrap_mean_ci([1.0, 1.0, 1.0, 1.0], groups=["a", "a", "b", "b"]) == (1.0, 1.0, 1.0)
    assert bootstrap_mean_ci([1.0]) == (1.0, 1.0, 1.0)
    assert all(math.isnan(v) for v in bootstrap_mean_ci([]))


def test_paired_difference_cancels_the_clip_effect():
    # b's turns take 100, 1000 and 5000 ms on three clips; a is 10 ms slower on every clip.
    # With the clips drawn jointly each resample's median difference is exactly 10 ms, so the
    # interval is [10, 10]; the clips' spread (100..5000 ms) would swamp an unpaired comparison.
    b = [100.0, 1000.0, 5000.0]
    a = [v + 10.0 for v in b]
    clips = ["x", "y", "z"]
    assert bootstrap_difference_ci(a, clips, b, clips) == (10.0, 10.0, 10.0)
    assert told_apart(10.0, 10.0) is True
    _, lo_a, hi_a = bootstrap_percentile_ci(a, 50, groups=clips)
    _, lo_b, hi_b = bootstrap_percentile_ci(b, 50, groups=clips)
    assert lo_a < hi_b and lo_b < hi_a                       # the separate intervals overlap
    # no real difference: the interval straddles 0
    d, lo, hi = bootstrap_difference_ci([1.0, 2.0, 3.0, 4.0], list("wxyz"), [2.0, 1.0, 4.0, 3.0], list("wxyz"))
    assert d == 0.0 and lo < 0.0 < hi and told_apart(lo, hi) is False
    assert told_apart(math.nan, 1.0) is None
    assert all(math.isnan(v) for v in bootstrap_difference_ci([], [], [1.0], ["a"]))


def test_percentile_table_resamples_by_clip():
    rows = [{"point": "p", "warmup": False, "clip": c, "lat_ms": v}
            for c, vals in (("a", (100.0, 110.0)), ("b", (300.0, 310.0)), ("c", (500.0, 520.0)))
            for v in vals]
    t = percentile_table(pd.DataFrame(rows), ["lat_ms"])
    r = t.iloc[0]
    assert r["n"] == 6 and r["clusters"] == 3
    lat = [row["lat_ms"] for row in rows]
    clips = [row["clip"] for row in rows]
    assert tuple(r[["p50", "p50_lo", "p50_hi"]]) == bootstrap_percentile_ci(lat, 50, groups=clips)
    flat = percentile_table(pd.DataFrame(rows), ["lat_ms"], cluster=None).iloc[0]
    assert flat["clusters"] == 6 and tuple(flat[["p50", "p50_lo", "p50_hi"]]) == bootstrap_percentile_ci(lat, 50)


def test_cluster_percentiles_equal_numpy_on_the_repeated_sample():
    """The vectorised cluster resample equals np.percentile of the explicitly repeated values."""
    from voicelab.measure.stats import _repeated_percentiles

    rng = np.random.default_rng(5)
    xs = np.sort(rng.normal(1000, 200, 23))
    w = rng.integers(0, 4, size=(50, 23))
    w[:, 0] += 1                                          # every resample has a value
    qs = np.array([0.0, 10.0, 50.0, 90.0, 95.0, 99.0, 100.0])
    got = _repeated_percentiles(xs, w, qs)
    want = np.stack([np.percentile(np.repeat(xs, row), qs) for row in w], axis=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
