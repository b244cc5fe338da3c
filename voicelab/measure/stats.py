"""Percentiles with bootstrap confidence intervals, for comparing sweep points.

Responsibilities:

1. :func:`bootstrap_percentile_ci`: one percentile of one sample with a percentile
   bootstrap confidence interval (Efron & Tibshirani, *An Introduction to the
   Bootstrap*, Chapman & Hall, 1993, ch. 13), numpy only and deterministic given
   the seed.
2. :func:`percentile_table`: those estimates per (config point, metric) over the
   non-warm-up rows of a results table.
3. :func:`empirical_cdf`: the step function plotted by the sweep report.

Percentiles are numpy's default ("linear", type 7 of Hyndman & Fan 1996), the same
as :func:`voicelab.measure.metrics.summarize`. NaNs (a turn without that metric) are
dropped before anything is computed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["bootstrap_percentile_ci", "empirical_cdf", "percentile_table"]

_MAX_RESAMPLE_CELLS = 2_000_000
"""Resample at most this many values at once (bounds memory: 16 MB of float64)."""


def _finite(values: Iterable[float] | np.ndarray | pd.Series) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _bootstrap(x: np.ndarray, qs: Sequence[float], n_boot: int, ci: float,
               seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, lows and highs (each shape ``(len(qs),)``) for NaN-free ``x``.

    The resamples depend only on ``x``, ``n_boot`` and ``seed``, not on ``qs``: a
    percentile gets the same interval whether it is computed alone or with others.
    """
    qs = np.asarray(qs, dtype=float)
    n = len(x)
    if n == 0:
        nan = np.full(len(qs), math.nan)
        return nan, nan.copy(), nan.copy()
    estimate = np.percentile(x, qs)
    if n == 1:
        return estimate, estimate.copy(), estimate.copy()
    rng = np.random.default_rng(seed)
    boots = np.empty((len(qs), n_boot))
    step = max(1, _MAX_RESAMPLE_CELLS // n)
    for start in range(0, n_boot, step):
        stop = min(start + step, n_boot)
        idx = rng.integers(0, n, size=(stop - start, n))
        boots[:, start:stop] = np.percentile(x[idx], qs, axis=1)
    alpha = (1.0 - ci) / 2.0
    low, high = np.percentile(boots, [100.0 * alpha, 100.0 * (1.0 - alpha)], axis=1)
    return estimate, low, high


def _check(q: float | Sequence[float], n_boot: int, ci: float) -> None:
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    for qq in np.atleast_1d(q):
        if not 0.0 <= float(qq) <= 100.0:
            raise ValueError(f"percentiles must be in [0, 100], got {qq}")


def bootstrap_percentile_ci(values: Iterable[float] | np.ndarray | pd.Series, q: float,
                            n_boot: int = 2000, ci: float = 0.95,
                            seed: int = 0) -> tuple[float, float, float]:
    """The ``q``-th percentile of ``values`` and its percentile-bootstrap interval.

    The estimate is ``np.percentile(values, q)`` (linear interpolation). The interval
    is the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles of the same percentile over
    ``n_boot`` resamples of ``values`` drawn with replacement (Efron & Tibshirani
    1993, ch. 13, "the percentile interval"). It assumes independent turns; on tiny
    samples it is too narrow, and for extreme percentiles (p99 of 20 turns) it
    mostly reflects the largest values seen. Like any percentile interval it is not
    forced to contain the estimate, though it nearly always does.

    Args:
        values: 1-D numbers (any array-like); NaNs are dropped.
        q: percentile in [0, 100].
        n_boot: number of bootstrap resamples.
        ci: coverage of the interval, in (0, 1).
        seed: seed of :func:`numpy.random.default_rng`; same inputs, same result.

    Returns:
        ``(estimate, low, high)``; ``(nan, nan, nan)`` when no value is left,
        ``(v, v, v)`` for a single value ``v``.

    Raises:
        ValueError: ``q``, ``n_boot`` or ``ci`` out of range.
    """
    _check(q, n_boot, ci)
    est, lo, hi = _bootstrap(_finite(values), [q], n_boot, ci, seed)
    return float(est[0]), float(lo[0]), float(hi[0])


def _live(results: pd.DataFrame) -> pd.DataFrame:
    if "warmup" not in results:
        return results
    return results[~results["warmup"].fillna(False).astype(bool)]


def percentile_table(results: pd.DataFrame, metrics: list[str], by: str = "point",
                     qs: Sequence[float] = (50, 90, 99), *, n_boot: int = 2000, ci: float = 0.95,
                     seed: int = 0) -> pd.DataFrame:
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

    Returns:
        One row per (group, metric), groups outer and metrics in the given order;
        columns ``by``, ``metric``, ``n`` (non-NaN values), then the three columns
        per percentile.

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
    rows = []
    for group in pd.unique(results[by]):
        g = live[live[by] == group]
        for metric in metrics:
            x = _finite(pd.to_numeric(g[metric], errors="coerce"))
            est, lo, hi = _bootstrap(x, qs, n_boot, ci, seed)
            row = {by: group, "metric": metric, "n": int(len(x))}
            for name, e, a, b in zip(names, est, lo, hi):
                row.update({name: float(e), f"{name}_lo": float(a), f"{name}_hi": float(b)})
            rows.append(row)
    columns = [by, "metric", "n"] + [f"{p}{s}" for p in names for s in ("", "_lo", "_hi")]
    return pd.DataFrame(rows, columns=columns)


def empirical_cdf(values: Iterable[float] | np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The empirical CDF of ``values`` (NaNs dropped).

    Returns:
        ``(x, F)``: ``x`` sorted ascending (float64), ``F[i] = (i + 1) / n`` the
        fraction of values <= ``x[i]`` (ties appear as repeated ``x`` with rising
        ``F``; draw with ``drawstyle="steps-post"``). Both empty when no value is left.
    """
    x = np.sort(_finite(values))
    return x, np.arange(1, len(x) + 1, dtype=float) / max(len(x), 1)
