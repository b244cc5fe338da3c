"""eot-bench's budget figures, and their bootstrap intervals resampled by item group.

* :func:`select_at_budget`, :func:`budget_figures`: the operating point and figure
  eot-bench publishes at a latency or cutoff budget (``eot_harness/metrics.py``
  ``get_pareto_operating_points``, called by ``eot_harness/comparison.py``
  ``write_comparison_report`` with ``LATENCY_BUDGET_COMPARISON = (0.3, 0.6)`` s and
  ``CUTOFF_BUDGET_COMPARISON = (0.05, 0.10)``; GitHub ``livekit/eot-bench``, read from
  the mirror ``LaurentMazare/eot-bench`` at 39ab20e). Definitions: :mod:`voicelab.measure.eot`.
* :func:`budget_figures_ci`: percentile-bootstrap intervals (Efron & Tibshirani, *An
  Introduction to the Bootstrap*, 1993, ch. 13) of those figures, resampling whole
  *groups* (e.g. the source recording: turns cut from one conversation are not
  independent; Davison & Hinkley, *Bootstrap Methods and their Application*, 1997,
  sec. 3.8), and re-selecting the operating point in every resample, since the choice
  of point is part of the estimator. eot-bench itself reports no intervals.
* :func:`cluster_weights`: the generic cluster-bootstrap draw (how often each group,
  hence each of its units, is drawn), numpy ``default_rng(seed)`` as in
  :mod:`voicelab.measure.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from voicelab.measure.eot import (
    CUTOFF_BUDGETS,
    EPS_MS,
    EPS_RATE,
    LATENCY_BUDGETS_MS,
    METRIC_COLUMNS,
    SpanTable,
    Sweep,
    outcomes,
    sweep_curve,
    tie_break_keys,
)
from voicelab.measure.stats import cluster_draws

__all__ = ["budget_figures", "budget_figures_ci", "cluster_weights", "select_at_budget"]

_MAX_CELLS = 4_000_000
"""Bound on points x resamples computed at once (32 MB of float64 per matrix)."""

_FIGURES = (("cutoff_rate_at_latency_ms", "mean_latency_ms", "cutoff_rate"),
            ("mean_latency_ms_at_cutoff_rate", "cutoff_rate", "mean_latency_ms"))
"""(figure name, budget column, optimised column)."""


def select_at_budget(curve: pd.DataFrame, budget_column: str, budget: float) -> pd.Series | None:
    """The operating point eot-bench reports at a budget (``get_pareto_operating_points``).

    Args:
        curve: from :func:`sweep_curve`.
        budget_column: ``"mean_latency_ms"`` (then the cutoff rate is minimised) or
            ``"cutoff_rate"`` (then the mean latency is minimised).
        budget: ms or a rate in [0, 1]; a point is feasible if its budget column is
            ``<= budget + eps``.

    Returns:
        the chosen curve row (ties: smaller budget column, then threshold descending,
        action delay, timeout, for the knobs present, then curve order), or None if no
        point is feasible.

    Raises:
        ValueError: another ``budget_column``, or an empty curve.
    """
    optimize = {"mean_latency_ms": "cutoff_rate", "cutoff_rate": "mean_latency_ms"}.get(budget_column)
    if optimize is None:
        raise ValueError(f"budget_column must be 'mean_latency_ms' or 'cutoff_rate', got {budget_column!r}")
    if curve.empty:
        raise ValueError("empty curve")
    eps = EPS_MS if budget_column == "mean_latency_ms" else EPS_RATE
    feasible = curve[curve[budget_column] <= float(budget) + eps]
    if feasible.empty:
        return None
    keys, asc = tie_break_keys(curve)
    return feasible.sort_values([optimize, budget_column, *keys], ascending=[True, True, *asc],
                                kind="stable").iloc[0]


def budget_figures(curve: pd.DataFrame, latency_budgets_ms: Sequence[float] = LATENCY_BUDGETS_MS,
                   cutoff_budgets: Sequence[float] = CUTOFF_BUDGETS) -> pd.DataFrame:
    """eot-bench's headline figures: best cutoff rate at each latency budget, best mean
    latency at each cutoff budget (``comparison.write_comparison_report`` tables).

    Returns:
        one row per budget: ``figure`` (``"cutoff_rate_at_latency_ms"`` or
        ``"mean_latency_ms_at_cutoff_rate"``), ``budget``, ``value`` (the optimised
        column; NaN if infeasible), ``feasible``, then the chosen point's knobs,
        ``cutoff_rate``, ``mean_latency_ms`` and ``detect_rate`` (NaN if infeasible).
    """
    rows = []
    knobs = [c for c in curve.columns if c not in METRIC_COLUMNS]
    for (figure, column, optimize), budgets in zip(_FIGURES, (latency_budgets_ms, cutoff_budgets)):
        for budget in budgets:
            best = select_at_budget(curve, column, budget)
            row = {"figure": figure, "budget": float(budget), "feasible": best is not None,
                   "value": math.nan if best is None else float(best[optimize])}
            for c in [*knobs, "cutoff_rate", "mean_latency_ms", "detect_rate"]:
                row[c] = math.nan if best is None else best[c]
            rows.append(row)
    return pd.DataFrame(rows)


def cluster_weights(groups: Sequence[str] | np.ndarray, n_boot: int, seed: int = 0) -> np.ndarray:
    """Cluster-bootstrap weights: how often each unit is drawn, per resample.

    Each resample draws as many groups as there are, uniformly with replacement; a unit
    gets its group's draw count.

    Args:
        groups: ``(n,)`` group label of each unit (any hashable; compared as given).
        n_boot: number of resamples (>= 1).
        seed: seed of :func:`numpy.random.default_rng`.

    Returns:
        int64 ``(n_boot, n)``; each row sums over one unit per group to the number of groups.

    Raises:
        ValueError: ``n_boot < 1`` or no units.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    codes, uniques = pd.factorize(np.asarray(groups, dtype=object))
    if len(codes) == 0:
        raise ValueError("no units to resample")
    counts = cluster_draws(np.random.default_rng(seed), len(uniques), n_boot)
    return counts[:, codes]


def _rank(curve: pd.DataFrame) -> np.ndarray:
    """Position of each point in the knob tie-break order (then curve order)."""
    keys, asc = tie_break_keys(curve)
    order = curve.sort_values(keys, ascending=asc, kind="stable").index if keys else curve.index
    rank = np.empty(len(curve), dtype=np.int64)
    rank[np.asarray(order)] = np.arange(len(curve))
    return rank


def _select(opt: np.ndarray, bud: np.ndarray, rank: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`select_at_budget` over resample columns: ``opt``, ``bud`` are
    ``(P, B)``; returns the chosen row per column and whether any point was feasible."""
    feasible = bud <= limit                                   # NaN (undefined) -> False
    o = np.where(feasible, opt, math.inf)
    keep = feasible & (o == o.min(axis=0))
    b = np.where(keep, bud, math.inf)
    keep &= b == b.min(axis=0)
    idx = np.where(keep, rank[:, None], np.iinfo(np.int64).max).argmin(axis=0)
    return idx, feasible.any(axis=0)


def _weighted_curve(cut: np.ndarray, latency: np.ndarray, detected: np.ndarray, w_h: np.ndarray,
                    w_e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cutoff rate, mean latency and detect rate ``(P, B)`` under span weights ``(H, B)``,
    ``(E, B)``; NaN where a resample has no hold or no eot."""
    n_h, n_e = w_h.sum(axis=0), w_e.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cutoff = (cut @ w_h) / n_h
        finite = np.isfinite(latency)
        mean = (np.where(finite, latency, 0.0) @ w_e) / n_e
        mean = np.where((~finite).astype(float) @ w_e > 0, math.inf, mean)
        detect = (detected @ w_e) / n_e
    bad = (n_h == 0) | (n_e == 0)
    for m in (cutoff, mean, detect):
        m[:, bad] = math.nan
    return cutoff, mean, detect


def budget_figures_ci(table: SpanTable, sweep: Sweep,
                      latency_budgets_ms: Sequence[float] = LATENCY_BUDGETS_MS,
                      cutoff_budgets: Sequence[float] = CUTOFF_BUDGETS, *, n_boot: int = 2000,
                      ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """:func:`budget_figures` with percentile-bootstrap intervals, resampling item groups.

    Every resample draws the table's groups (``EotItem.group``; only groups with a
    scored span) with replacement, weights each span by its group's draw count,
    recomputes the whole curve and selects the operating point again. Resamples with
    no hold, no eot or no feasible point give no value; ``frac_undefined`` says how
    many (the interval is over the others).

    Args:
        table, sweep: as for :func:`~voicelab.measure.eot.sweep_curve`.
        latency_budgets_ms, cutoff_budgets: as for :func:`budget_figures`.
        n_boot: resamples (>= 1). ci: coverage in (0, 1). seed: of ``default_rng``.

    Returns:
        :func:`budget_figures`'s ``figure``, ``budget``, ``value``, ``feasible`` and
        ``detect_rate``, plus ``value_lo``, ``value_hi``, ``detect_rate_lo``,
        ``detect_rate_hi``, ``n_groups`` and ``frac_undefined``. Intervals are NaN with
        fewer than 2 groups.

    Raises:
        ValueError: ``ci`` or ``n_boot`` out of range, or as ``sweep_curve``.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    curve = sweep_curve(table, sweep)
    est = budget_figures(curve, latency_budgets_ms, cutoff_budgets)
    cut, latency, detected = (m.astype(float) for m in outcomes(table, sweep))
    span_groups = np.asarray(table.groups, dtype=object)[table.item]
    n_groups = len(pd.unique(span_groups))
    specs = [(c, o, float(b) + (EPS_MS if c == "mean_latency_ms" else EPS_RATE))
             for (_, c, o), budgets in zip(_FIGURES, (latency_budgets_ms, cutoff_budgets)) for b in budgets]
    values = np.full((len(specs), n_boot), math.nan)
    detects = values.copy()
    if n_groups >= 2:
        weights = cluster_weights(span_groups, n_boot, seed).astype(float)
        rank = _rank(curve)
        step = max(1, _MAX_CELLS // len(curve))
        for lo in range(0, n_boot, step):
            w = weights[lo:lo + step].T
            cutoff, mean, detect = _weighted_curve(cut, latency, detected, w[~table.is_eot], w[table.is_eot])
            cols = {"cutoff_rate": cutoff, "mean_latency_ms": mean}
            for k, (column, optimize, limit) in enumerate(specs):
                idx, ok = _select(cols[optimize], cols[column], rank, limit)
                j = np.arange(len(idx))
                values[k, lo:lo + step] = np.where(ok, cols[optimize][idx, j], math.nan)
                detects[k, lo:lo + step] = np.where(ok, detect[idx, j], math.nan)
    alpha = 100.0 * (1.0 - ci) / 2.0
    out = est[["figure", "budget", "value", "feasible", "detect_rate"]].copy()
    with np.errstate(invalid="ignore"):
        for name, boots in (("value", values), ("detect_rate", detects)):
            lo_hi = [np.nanpercentile(r, [alpha, 100.0 - alpha]) if np.isfinite(r).any()
                     else (math.nan, math.nan) for r in boots]
            out[f"{name}_lo"] = [float(a) for a, _ in lo_hi]
            out[f"{name}_hi"] = [float(b) for _, b in lo_hi]
    out["n_groups"] = n_groups
    out["frac_undefined"] = np.isnan(values).mean(axis=1) if n_groups >= 2 else math.nan
    return out
