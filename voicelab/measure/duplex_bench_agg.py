"""Full-Duplex-Bench aggregates per category with cluster-bootstrap confidence intervals.

FDB reports plain means over items (``sum(take_turn_list) / len(take_turn_list)``,
``eval_pause_handling.py:64``; latency over TOR 1 items, ``eval_smooth_turn_taking.py:91-92``;
backchannel TOR and frequency as ``np.mean``, ``eval_backchannel.py:160-161``; Full-Duplex-Bench
commit ``d7336bd``, ``v1_v1.5/evaluation/``). Those are the estimates here, with the median
beside the latency means. FDB gives no intervals; ours resample *source recordings*
(``group``), not items, because the items cut from one recording share its speaker and
agent state (a cluster bootstrap: Davison & Hinkley, *Bootstrap Methods and their
Application*, CUP 1997, sect. 3.8), with :mod:`voicelab.measure.stats`.
"""

from __future__ import annotations

import math

import pandas as pd

from voicelab.measure.stats import bootstrap_mean_ci, bootstrap_percentile_ci

__all__ = ["AGG_METRICS", "aggregate", "cluster_bootstrap_ci"]

AGG_METRICS = [
    ("tor_rate", "tor", "mean"),
    ("yield_rate", "yielded", "mean"),
    ("ended_in_event_rate", "ended_in_event", "mean"),
    ("latency_ms_mean", "latency_ms", "mean"),
    ("latency_ms_p50", "latency_ms", "p50"),
    ("stop_latency_ms_mean", "stop_latency_ms", "mean"),
    ("stop_latency_ms_p50", "stop_latency_ms", "p50"),
    ("response_latency_ms_mean", "response_latency_ms", "mean"),
    ("response_latency_ms_p50", "response_latency_ms", "p50"),
    ("backchannel_freq_hz_mean", "backchannel_freq_hz", "mean"),
    ("relevance_mean", "relevance", "mean"),
]
"""(name, item column, statistic) of :func:`aggregate`; a rate is the mean of a boolean."""


def cluster_bootstrap_ci(values, groups, stat: str = "mean", *, n_boot: int = 2000, ci: float = 0.95,
                         seed: int = 0) -> tuple[float, float, float, int, int]:
    """A statistic of ``values`` and its percentile-bootstrap interval, resampling ``groups``
    (:func:`voicelab.measure.stats.bootstrap_mean_ci` / :func:`~voicelab.measure.stats.bootstrap_percentile_ci`
    with ``groups``).

    Args:
        values: 1-D numbers (booleans count 0/1); NaN / NA values are dropped with their label.
        groups: one label per value (the source recording).
        stat: ``"mean"`` or ``"p50"`` (numpy's linear median) of the pooled values.
        n_boot: resamples; ci: coverage in (0, 1); seed: ``numpy.random.default_rng`` seed.

    Returns:
        ``(estimate, low, high, n, n_groups)``: the statistic over all values, its interval,
        the value and group counts; NaNs and ``n = 0`` when nothing is left; a NaN interval
        with one group.

    Raises:
        ValueError: lengths differ; unknown ``stat``; ``n_boot < 1``; ``ci`` outside (0, 1).
    """
    if stat not in ("mean", "p50"):
        raise ValueError(f"stat must be 'mean' or 'p50', got {stat!r}")
    v = pd.Series([math.nan if pd.isna(a) else float(a) for a in values], dtype=float)
    g = pd.Series(list(groups), dtype=object)
    if len(v) != len(g):
        raise ValueError(f"{len(v)} values but {len(g)} group labels")
    keep = v.notna()
    n, k = int(keep.sum()), int(g[keep].astype(str).nunique())
    if stat == "mean":
        est, lo, hi = bootstrap_mean_ci(v, n_boot=n_boot, ci=ci, seed=seed, groups=g)
    else:
        est, lo, hi = bootstrap_percentile_ci(v, 50, n_boot=n_boot, ci=ci, seed=seed, groups=g)
    return est, lo, hi, n, k


def aggregate(rows: pd.DataFrame, group: str = "group", *, n_boot: int = 2000, ci: float = 0.95,
              seed: int = 0) -> pd.DataFrame:
    """Per category, every :data:`AGG_METRICS` entry with a cluster-bootstrap CI.

    Args:
        rows: :func:`voicelab.measure.duplex_bench.item_rows` output (or any table with a
            ``category`` column, the ``group`` column and the item columns); NaN / NA cells
            (a metric that does not apply, a latency of a TOR 0 item) are left out of that
            metric, as FDB leaves TOR 0 items out of latency (``eval_smooth_turn_taking.py:76``).
        group: the column naming each item's source recording (the resampling unit).
        n_boot, ci, seed: as in :func:`cluster_bootstrap_ci` (every cell uses ``seed``).

    Returns:
        One row per (category, metric) with at least one value, categories in order of first
        appearance: ``category``, ``metric``, ``n`` (items with a value), ``n_groups``,
        ``estimate``, ``ci_low``, ``ci_high``. Rates in [0, 1], latencies in ms, frequency in
        backchannels per second, relevance on the 0-5 scale.

    Raises:
        KeyError: ``category`` or ``group`` is not a column.
        ValueError: as :func:`cluster_bootstrap_ci`.
    """
    missing = [c for c in ("category", group) if c not in rows]
    if missing:
        raise KeyError(f"not columns of the item table: {missing}")
    out = []
    for cat in pd.unique(rows["category"]):
        sub = rows[rows["category"] == cat]
        for name, column, stat in AGG_METRICS:
            if column not in sub:
                continue
            est, lo, hi, n, k = cluster_bootstrap_ci(sub[column], sub[group], stat, n_boot=n_boot, ci=ci, seed=seed)
            if n:
                out.append({"category": cat, "metric": name, "n": n, "n_groups": k, "estimate": est,
                            "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out, columns=["category", "metric", "n", "n_groups", "estimate", "ci_low", "ci_high"])

