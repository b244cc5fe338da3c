"""Percentiles and rates with bootstrap confidence intervals, resampled by clip.

Responsibilities:

1. :func:`bootstrap_percentile_ci`: one percentile of one sample with a percentile
   bootstrap confidence interval (Efron & Tibshirani, *An Introduction to the
   Bootstrap*, Chapman & Hall, 1993, ch. 13), numpy only and deterministic given
   the seed. With ``groups`` it is a **cluster bootstrap**: whole groups (clips) are
   drawn with replacement, because turns of one clip are not independent (Davison &
   Hinkley, *Bootstrap Methods and their Application*, CUP 1997, sec. 3.8, "resampling
   the clusters"; Field & Welsh, JASA 2007, "Bootstrapping clustered data").
2. :func:`bootstrap_mean_ci`: the same for a mean, so for a rate (the mean of 0/1).
3. :func:`bootstrap_difference_ci`: the difference of one percentile between two samples
   measured on the same clips, with the clips drawn jointly (a paired cluster bootstrap):
   :func:`told_apart` says whether two sweep points differ at the interval's coverage.
4. :func:`percentile_table`: those estimates per (config point, metric) over the
   non-warm-up rows of a results table, resampled by its ``clip`` column.
5. :func:`empirical_cdf`: the step function plotted by the sweep report.

Percentiles are numpy's default ("linear", type 7 of Hyndman & Fan 1996), the same
as :func:`voicelab.measure.metrics.summarize`. NaNs (a turn without that metric) are
dropped, with their group labels, before anything is computed. A clustered interval
needs two groups at least: with one group it is NaN (its width would be 0 and say
nothing), while the estimate is still given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["CLUSTER", "bootstrap_difference_ci", "cluster_draws", "bootstrap_mean_ci", "bootstrap_percentile_ci",
           "empirical_cdf", "percentile_table", "told_apart"]

CLUSTER = "clip"
"""The column a results table is resampled by: turns of one clip share its speaker, words and
speech end, so they are one cluster."""

_MAX_RESAMPLE_CELLS = 2_000_000
"""Resample at most this many values at once (bounds memory: 16 MB of float64)."""

Values = Iterable[float] | np.ndarray | pd.Series


def _finite(values: Values, groups: Values | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Float values without NaNs, and their group labels as strings (None: no groups)."""
    arr = np.asarray(values, dtype=float).ravel()
    keep = ~np.isnan(arr)
    if groups is None:
        return arr[keep], None
    labels = np.asarray(pd.Series(list(groups), dtype=object).astype(str))
    if len(labels) != len(arr):
        raise ValueError(f"groups has {len(labels)} labels for {len(arr)} values")
    return arr[keep], labels[keep]


def _codes(labels: np.ndarray | None) -> np.ndarray | None:
    """Integer codes 0..k-1 of ``labels`` in order of first appearance."""
    return None if labels is None else pd.factorize(labels)[0]


def _interval(boots: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - ci) / 2.0
    low, high = np.percentile(boots, [100.0 * alpha, 100.0 * (1.0 - alpha)], axis=-1)
    return low, high


def cluster_draws(rng: np.random.Generator, n_groups: int, count: int) -> np.ndarray:
    """The cluster bootstrap's draws: int64 ``(count, n_groups)``, how often each of ``n_groups``
    groups is drawn in each of ``count`` resamples (each resample draws ``n_groups`` groups
    uniformly with replacement, so each row sums to ``n_groups``)."""
    draws = rng.integers(0, n_groups, size=(count, n_groups))
    weights = np.zeros((count, n_groups), dtype=np.int64)
    np.add.at(weights, (np.arange(count)[:, None], draws), 1)
    return weights


def _repeated_percentiles(xs: np.ndarray, weights: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """``np.percentile(np.repeat(xs, w), qs)`` for every row ``w`` of ``weights``, at once.

    ``xs`` sorted ascending ``(n,)``, ``weights`` int ``(B, n)``, every row summing to >= 1.
    Linear interpolation (type 7): with ``m`` values the ``q``-th percentile sits at rank
    ``h = (m - 1) q / 100`` between the values of ranks ``floor(h)`` and ``floor(h) + 1``; the
    value of rank ``r`` in the repeated array is ``xs[#(cumsum(w) <= r)]``. Returns ``(len(qs), B)``.
    """
    cum = np.cumsum(weights, axis=1)
    m = cum[:, -1].astype(float)
    out = np.empty((len(qs), len(weights)))
    for k, q in enumerate(qs):
        h = (m - 1.0) * q / 100.0
        lo = np.floor(h)
        frac = h - lo
        i_lo = (cum <= lo[:, None]).sum(axis=1)
        i_hi = (cum <= np.minimum(lo + 1.0, m - 1.0)[:, None]).sum(axis=1)
        out[k] = xs[i_lo] + frac * (xs[i_hi] - xs[i_lo])
    return out


def _bootstrap(x: np.ndarray, qs: Sequence[float], n_boot: int, ci: float,
               seed: int, codes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, lows and highs (each shape ``(len(qs),)``) for NaN-free ``x``.

    The resamples depend only on ``x`` (and ``codes``), ``n_boot`` and ``seed``, not on
    ``qs``: a percentile gets the same interval whether it is computed alone or with others.
    """
    qs = np.asarray(qs, dtype=float)
    n = len(x)
    if n == 0:
        nan = np.full(len(qs), math.nan)
        return nan, nan.copy(), nan.copy()
    estimate = np.percentile(x, qs)
    rng = np.random.default_rng(seed)
    boots = np.empty((len(qs), n_boot))
    if codes is None:
        if n == 1:
            return estimate, estimate.copy(), estimate.copy()
        step = max(1, _MAX_RESAMPLE_CELLS // n)
        for start in range(0, n_boot, step):
            stop = min(start + step, n_boot)
            idx = rng.integers(0, n, size=(stop - start, n))
            boots[:, start:stop] = np.percentile(x[idx], qs, axis=1)
    else:
        n_groups = int(codes.max()) + 1
        if n_groups < 2:
            nan = np.full(len(qs), math.nan)
            return estimate, nan, nan.copy()
        order = np.argsort(x, kind="stable")
        xs, cs = x[order], codes[order]
        step = max(1, _MAX_RESAMPLE_CELLS // n)
        for start in range(0, n_boot, step):
            stop = min(start + step, n_boot)
            weights = cluster_draws(rng, n_groups, stop - start)[:, cs]
            boots[:, start:stop] = _repeated_percentiles(xs, weights, qs)
    low, high = _interval(boots, ci)
    return estimate, low, high


def _check(q: float | Sequence[float], n_boot: int, ci: float) -> None:
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    for qq in np.atleast_1d(q):
        if not 0.0 <= float(qq) <= 100.0:
            raise ValueError(f"percentiles must be in [0, 100], got {qq}")


def bootstrap_percentile_ci(values: Values, q: float, n_boot: int = 2000, ci: float = 0.95,
                            seed: int = 0, groups: Values | None = None) -> tuple[float, float, float]:
    """The ``q``-th percentile of ``values`` and its percentile-bootstrap interval.

    The estimate is ``np.percentile(values, q)`` (linear interpolation). The interval
    is the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles of the same percentile over
    ``n_boot`` resamples (Efron & Tibshirani 1993, ch. 13, "the percentile interval").
    Without ``groups`` each resample draws single values with replacement (independent
    turns); with ``groups`` it draws as many groups as there are, with replacement, and
    takes all their values (a cluster bootstrap, wider when a group's values move
    together). On tiny samples the interval is too narrow, and for extreme percentiles
    (p99 of 20 turns) it mostly reflects the largest values seen. Like any percentile
    interval it is not forced to contain the estimate, though it nearly always does.

    Args:
        values: 1-D numbers (any array-like); NaNs are dropped (with their groups).
        q: percentile in [0, 100].
        n_boot: number of bootstrap resamples.
        ci: coverage of the interval, in (0, 1).
        seed: seed of :func:`numpy.random.default_rng`; same inputs, same result.
        groups: one label per value (e.g. the clip), or None.

    Returns:
        ``(estimate, low, high)``; ``(nan, nan, nan)`` when no value is left; ``(v, v, v)``
        for a single value ``v`` without groups; ``(estimate, nan, nan)`` with groups when
        fewer than two groups have a value.

    Raises:
        ValueError: ``q``, ``n_boot`` or ``ci`` out of range, or ``groups`` of another length.
    """
    _check(q, n_boot, ci)
    x, labels = _finite(values, groups)
    est, lo, hi = _bootstrap(x, [q], n_boot, ci, seed, _codes(labels))
    return float(est[0]), float(lo[0]), float(hi[0])


def bootstrap_mean_ci(values: Values, n_boot: int = 2000, ci: float = 0.95, seed: int = 0,
                      groups: Values | None = None) -> tuple[float, float, float]:
    """The mean of ``values`` (a rate, for 0/1 values) and its percentile-bootstrap interval.

    Resampling as :func:`bootstrap_percentile_ci`; with groups the resample's mean is the
    sum over drawn groups of their sums over the sum of their sizes (the ratio estimator
    of a cluster sample).

    Returns:
        ``(mean, low, high)``, with the same NaN rules as :func:`bootstrap_percentile_ci`.

    Raises:
        ValueError: ``n_boot`` or ``ci`` out of range, or ``groups`` of another length.
    """
    _check(50.0, n_boot, ci)
    x, labels = _finite(values, groups)
    codes = _codes(labels)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if codes is None:
        codes = np.arange(len(x))
        if len(x) == 1:
            return mean, mean, mean
    n_groups = int(codes.max()) + 1
    if n_groups < 2:
        return mean, math.nan, math.nan
    sums = np.bincount(codes, weights=x, minlength=n_groups)
    sizes = np.bincount(codes, minlength=n_groups).astype(float)
    weights = cluster_draws(np.random.default_rng(seed), n_groups, n_boot)
    lo, hi = _interval((weights @ sums) / (weights @ sizes), ci)
    return mean, float(lo), float(hi)


def bootstrap_difference_ci(a: Values, a_groups: Values, b: Values, b_groups: Values, q: float = 50.0,
                            n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``percentile(a, q) - percentile(b, q)`` with a paired cluster-bootstrap interval.

    Both samples were measured on the same groups (a sweep's points run the same clips):
    each resample draws the union of group labels with replacement once and takes every
    drawn group's values on both sides, so what a clip adds to both cancels. A group
    present on one side only contributes to that side.

    Returns:
        ``(difference, low, high)``; NaNs when a side has no value, or the interval when
        fewer than two groups are shared by the union.

    Raises:
        ValueError: ``q``, ``n_boot`` or ``ci`` out of range, or groups of another length.
    """
    _check(q, n_boot, ci)
    xa, labels_a = _finite(a, a_groups)
    xb, labels_b = _finite(b, b_groups)
    if len(xa) == 0 or len(xb) == 0:
        return math.nan, math.nan, math.nan
    union = pd.Index(pd.unique(np.concatenate([labels_a, labels_b])))
    ca, cb = union.get_indexer(labels_a), union.get_indexer(labels_b)
    diff = float(np.percentile(xa, q) - np.percentile(xb, q))
    if len(union) < 2:
        return diff, math.nan, math.nan
    weights = cluster_draws(np.random.default_rng(seed), len(union), n_boot)
    boots = np.full(n_boot, math.nan)
    for i, w in enumerate(weights):
        ra, rb = np.repeat(xa, w[ca]), np.repeat(xb, w[cb])
        if len(ra) and len(rb):
            boots[i] = np.percentile(ra, q) - np.percentile(rb, q)
    boots = boots[~np.isnan(boots)]
    lo, hi = _interval(boots, ci)
    return diff, float(lo), float(hi)


def told_apart(low: float, high: float) -> bool | None:
    """Whether a difference's interval ``[low, high]`` excludes 0 (None when it is NaN)."""
    if math.isnan(low) or math.isnan(high):
        return None
    return low > 0.0 or high < 0.0


def _live(results: pd.DataFrame) -> pd.DataFrame:
    if "warmup" not in results:
        return results
    return results[~results["warmup"].fillna(False).astype(bool)]


def percentile_table(results: pd.DataFrame, metrics: list[str], by: str = "point",
                     qs: Sequence[float] = (50, 90, 99), *, n_boot: int = 2000, ci: float = 0.95,
                     seed: int = 0, cluster: str | None = CLUSTER) -> pd.DataFrame:
    """Percentiles with bootstrap CIs per group and metric, over non-warm-up rows.

    Args:
        results: a tidy table with a ``by`` column, the ``metrics`` columns and
            optionally a boolean ``warmup`` column (rows with ``warmup`` true are
            excluded).
        metrics: numeric columns to summarise (e.g. ``voice_to_voice_latency_ms``).
        by: grouping column; groups keep their order of first appearance in
            ``results`` (warm-up rows included, so a group with only warm-up rows
            still gets rows, with ``n`` = 0 and NaN percentiles).
        qs: percentiles in [0, 100]; ``50`` gives columns ``p50``, ``p50_lo``,
            ``p50_hi`` (``92.5`` gives ``p92.5``...).
        n_boot, ci, seed: as in :func:`bootstrap_percentile_ci` (every cell uses
            ``seed``, so each cell equals that function's result).
        cluster: the column whose values are resampled as wholes (default ``clip``);
            when ``results`` has no such column, or it is None, turns are resampled
            one by one.

    Returns:
        One row per (group, metric), groups outer and metrics in the given order;
        columns ``by``, ``metric``, ``n`` (non-NaN values), ``clusters`` (groups with a
        value; equal to ``n`` without clustering), then the three columns per percentile.

    Raises:
        KeyError: ``by`` or a metric is not a column of ``results``.
        ValueError: as :func:`bootstrap_percentile_ci`.
    """
    missing = [c for c in [by, *metrics] if c not in results]
    if missing:
        raise KeyError(f"not columns of the results table: {missing}")
    _check(qs, n_boot, ci)
    names = [f"p{q:g}" for q in qs]
    live = _live(results)
    clustered = cluster is not None and cluster in results
    rows = []
    for group in pd.unique(results[by]):
        g = live[live[by] == group]
        for metric in metrics:
            x, labels = _finite(pd.to_numeric(g[metric], errors="coerce"), g[cluster] if clustered else None)
            est, lo, hi = _bootstrap(x, qs, n_boot, ci, seed, _codes(labels))
            clusters = len(x) if labels is None else len(set(labels))
            row = {by: group, "metric": metric, "n": int(len(x)), "clusters": clusters}
            for name, e, a, b in zip(names, est, lo, hi):
                row.update({name: float(e), f"{name}_lo": float(a), f"{name}_hi": float(b)})
            rows.append(row)
    columns = [by, "metric", "n", "clusters"] + [f"{p}{s}" for p in names for s in ("", "_lo", "_hi")]
    return pd.DataFrame(rows, columns=columns)


def empirical_cdf(values: Values) -> tuple[np.ndarray, np.ndarray]:
    """The empirical CDF of ``values`` (NaNs dropped).

    Returns:
        ``(x, F)``: ``x`` sorted ascending (float64), ``F[i] = (i + 1) / n`` the
        fraction of values <= ``x[i]`` (ties appear as repeated ``x`` with rising
        ``F``; draw with ``drawstyle="steps-post"``). Both empty when no value is left.
    """
    x = np.sort(_finite(values)[0])
    return x, np.arange(1, len(x) + 1, dtype=float) / max(len(x), 1)
