"""The sweep report's tables: headline percentiles with bootstrap CIs, and barge-in.

:func:`headline_table` (p50/p90/p99 of :data:`HEADLINE_LATENCIES` with 95% bootstrap
CIs, then the quality and chunking columns of :data:`HEADLINE_EXTRAS`, per config
point) and :func:`interruption_table` return DataFrames that notebooks can use
directly, as does :func:`node_table` (where the runs ran); :func:`headline_cells`,
:func:`interruption_cells` and :func:`node_cells` format them as the text cells both the
HTML and the markdown report print. Warm-up rows are excluded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from voicelab.measure.stats import (
    CLUSTER,
    bootstrap_difference_ci,
    bootstrap_mean_ci,
    bootstrap_percentile_ci,
    percentile_table,
    told_apart,
)
from voicelab.reports.frames import V2V, live_rows, numeric, unique_in_order
from voicelab.reports.style import LABELS, format_ms

__all__ = ["HEADLINE_EXTRAS", "HEADLINE_LATENCIES", "HEADLINE_QS", "headline_cells", "headline_table",
           "indistinguishable_points", "interruption_cells", "interruption_table", "node_cells", "node_table",
           "node_warning"]

HEADLINE_LATENCIES = ["voice_to_voice_latency_ms", "first_word_latency_ms", "word_to_audio_latency_ms"]
"""Latencies of the headline table, each as p50/p90/p99 with bootstrap CIs."""

HEADLINE_QS = (50, 90, 99)

HEADLINE_EXTRAS = [
    ("tts_roundtrip_wer", "mean", "mean TTS round-trip WER"),
    ("stt_wer", "mean", "mean STT WER"),
    ("playback_stall_ms", "median", "median playback stall (ms)"),
    ("tts_requests", "mean", "mean TTS requests"),
    ("mean_chunk_words", "mean", "mean words per TTS request"),
]
"""(column, statistic, header) of the headline columns after the latencies."""


def headline_table(results: pd.DataFrame, *, n_boot: int = 2000, ci: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """The headline numbers per config point, over non-warm-up rows.

    Returns:
        Index: point labels in order of first appearance. Columns: ``n_turns``
        (non-warm-up rows); for each of :data:`HEADLINE_LATENCIES` and q in 50, 90,
        99: ``<metric>_p<q>``, ``_lo``, ``_hi`` (ms, :func:`voicelab.measure.stats.percentile_table`)
        and ``<metric>_n``; then ``<column>_<statistic>`` for :data:`HEADLINE_EXTRAS`
        (e.g. ``tts_roundtrip_wer_mean``). A column the table lacks gives NaN.
    """
    points = unique_in_order(results, "point")
    live = live_rows(results)
    out = pd.DataFrame(index=pd.Index(points, name="point"))
    out["n_turns"] = [int((live["point"] == p).sum()) for p in points]
    present = [m for m in HEADLINE_LATENCIES if m in results]
    if present and points:
        pt = percentile_table(results, present, qs=HEADLINE_QS, n_boot=n_boot, ci=ci, seed=seed)
        for metric in present:
            sub = pt[pt["metric"] == metric].set_index("point")
            out[f"{metric}_n"] = sub["n"].reindex(points).to_numpy()
            for q in HEADLINE_QS:
                for suffix in ("", "_lo", "_hi"):
                    out[f"{metric}_p{q}{suffix}"] = sub[f"p{q}{suffix}"].reindex(points).to_numpy()
    for metric in HEADLINE_LATENCIES:
        if metric not in results:
            out[f"{metric}_n"] = 0
            for q in HEADLINE_QS:
                for suffix in ("", "_lo", "_hi"):
                    out[f"{metric}_p{q}{suffix}"] = math.nan
    for col, stat, _ in HEADLINE_EXTRAS:
        if col in live and points:
            agg = numeric(live[col]).groupby(live["point"], sort=False).agg(stat)
            out[f"{col}_{stat}"] = agg.reindex(points).to_numpy(dtype=float)
        else:
            out[f"{col}_{stat}"] = math.nan
    return out


def _fmt_ci(est: Any, lo: Any, hi: Any) -> str:
    """``2241 [2105, 2390]``; the estimate alone when the interval is undefined."""
    if format_ms(est) == "–":
        return "–"
    if format_ms(lo) == "–" or format_ms(hi) == "–":
        return format_ms(est)
    return f"{format_ms(est)} [{format_ms(lo)}, {format_ms(hi)}]"


def _fmt_extra(col: str, v: Any) -> str:
    v = float(v)
    if math.isnan(v):
        return "–"
    if col.endswith("wer"):
        return f"{v:.3f}"
    if col.endswith("_ms"):
        return format_ms(v)
    return f"{v:.2f}" if col == "tts_requests" else f"{v:.1f}"


def headline_cells(head: pd.DataFrame) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows (point label first) and notes of the rendered headline table.

    Latency columns and extras without a single value are left out (and named in a note).
    """
    header = ["point"]
    cols: list[tuple[str, Any]] = []
    notes = []
    for metric in HEADLINE_LATENCIES:
        if not head[f"{metric}_p50"].notna().any():
            notes.append(f"no {LABELS.get(metric, metric)} values in this sweep")
            continue
        for q in HEADLINE_QS:
            header.append(f"{LABELS.get(metric, metric)} p{q}")
            cols.append(("ci", (metric, q)))
    for col, stat, title in HEADLINE_EXTRAS:
        if not head[f"{col}_{stat}"].notna().any():
            notes.append(f"no {col} values in this sweep")
            continue
        header.append(title)
        cols.append(("extra", (col, stat)))
    header.append("n turns")
    rows = []
    for point, r in head.iterrows():
        row = [str(point)]
        for kind, spec in cols:
            if kind == "ci":
                m, q = spec
                row.append(_fmt_ci(r[f"{m}_p{q}"], r[f"{m}_p{q}_lo"], r[f"{m}_p{q}_hi"]))
            else:
                c, stat = spec
                row.append(_fmt_extra(c, r[f"{c}_{stat}"]))
        row.append(str(int(r["n_turns"])))
        rows.append(row)
    for metric in HEADLINE_LATENCIES:
        if not head[f"{metric}_p50"].notna().any():
            continue
        short = [f"{p} ({int(n)})" for p, n, t in zip(head.index, head[f"{metric}_n"], head["n_turns"])
                 if int(n) < int(t)]
        if short:
            notes.append(f"{LABELS.get(metric, metric)} is missing on some turns; n with a value: "
                         + "; ".join(short))
    return header, rows, notes


def _groups(g: pd.DataFrame) -> pd.Series | None:
    return g[CLUSTER] if CLUSTER in g else None


def _pct_ci(g: pd.DataFrame, col: str, q: float) -> tuple[float, float, float]:
    """Percentile ``q`` of ``g[col]`` with its 95 % CI resampled by clip (NaNs without values)."""
    if col not in g or not len(g):
        return np.nan, np.nan, np.nan
    return bootstrap_percentile_ci(numeric(g[col]), q, groups=_groups(g))


def _rate_ci(g: pd.DataFrame, col: str) -> tuple[float, float, float]:
    """Share of true ``g[col]`` with its 95 % CI resampled by clip (NaNs when empty or absent)."""
    if col not in g or not len(g):
        return np.nan, np.nan, np.nan
    return bootstrap_mean_ci(g[col].fillna(False).astype(bool).astype(float), groups=_groups(g))


def _with_ci(name: str, est_lo_hi: tuple[float, float, float]) -> dict[str, float]:
    est, lo, hi = est_lo_hi
    return {name: est, f"{name}_lo": lo, f"{name}_hi": hi}


def interruption_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per point: barge-in counts, p50/p95 interruption latency, p50 detect and cancel
    times (ms), early detections (barge-ins detected after their clip started but before
    the reference onset: counted, and negative in the latencies), false-interruption rate
    (share of replies cut while no user clip played), missed-interruption rate (share
    of barge-ins the agent talked through), false-pause rate (share of replies paused, then
    resumed: ``barge_in.mode: pause_confirm``) with the median silence those pauses cost a
    reply that had them, and the median ERLE of the replies (with echo cancellation).

    The latency percentiles and the three rates carry ``_lo`` / ``_hi`` columns: their
    95 % bootstrap interval, resampled by clip (:mod:`voicelab.measure.stats`)."""
    live = live_rows(results)
    rows = []
    for point in unique_in_order(results, "point"):
        g = live[live["point"] == point]
        b = g[g["barge_in"].astype(bool)] if "barge_in" in g else g.iloc[:0]
        b = b.assign(interruption_latency_ms=numeric(b["interruption_latency_ms"])) \
            if "interruption_latency_ms" in b else b
        lat = numeric(b.get("interruption_latency_ms", pd.Series(dtype=float))).dropna()
        replied = g[numeric(g[V2V]).notna()] if V2V in g else g
        rows.append({
            "point": point, "barge_ins": len(b),
            **_with_ci("interruption_p50_ms", _pct_ci(b, "interruption_latency_ms", 50)),
            **_with_ci("interruption_p95_ms", _pct_ci(b, "interruption_latency_ms", 95)),
            "detect_p50_ms": float(np.nanmedian(numeric(b["barge_in_detect_ms"]))) if len(lat) else np.nan,
            "cancel_p50_ms": float(np.nanmedian(numeric(b["cancel_ms"]))) if len(lat) else np.nan,
            "early_detections": int(b["early_detection"].astype(bool).sum()) if "early_detection" in b else 0,
            **_with_ci("false_interruption_rate", _rate_ci(replied, "false_interruption")),
            **_with_ci("missed_interruption_rate", _rate_ci(b, "missed_interruption")),
            **_with_ci("false_pause_rate", _rate_ci(replied, "false_pause")),
            "resume_gap_p50_ms": _median(replied, "resume_gap_ms"),
            "erle_p50_db": _median(replied, "aec_erle_db"),
        })
    return pd.DataFrame(rows)


def indistinguishable_points(results: pd.DataFrame, metric: str = V2V, q: float = 50.0) -> tuple[str, list[str]]:
    """The point with the lowest ``q``-th percentile of ``metric``, and the points whose
    percentile cannot be told apart from it: the 95 % interval of the difference, from a
    paired bootstrap that draws the clips jointly for both points
    (:func:`voicelab.measure.stats.bootstrap_difference_ci`), contains 0.

    Returns:
        ``(best, ties)``; ``("", [])`` when fewer than two points have values.
    """
    live = live_rows(results)
    if metric not in live or CLUSTER not in live:
        return "", []
    by_point = {p: g for p in unique_in_order(results, "point")
                if len(g := live[(live["point"] == p) & numeric(live[metric]).notna()])}
    if len(by_point) < 2:
        return "", []
    best = min(by_point, key=lambda p: np.percentile(numeric(by_point[p][metric]), q))
    ties = []
    for p, g in by_point.items():
        if p == best:
            continue
        b = by_point[best]
        _, lo, hi = bootstrap_difference_ci(numeric(g[metric]), g[CLUSTER], numeric(b[metric]), b[CLUSTER], q)
        if told_apart(lo, hi) is False:
            ties.append(p)
    return best, ties


def _median(g: pd.DataFrame, col: str) -> float:
    vals = numeric(g[col]).dropna() if col in g else pd.Series(dtype=float)
    return float(vals.median()) if len(vals) else np.nan


def _fmt_rate(est: Any, lo: Any, hi: Any) -> str:
    """``20% [5, 40]``; the rate alone when the interval is undefined."""
    if pd.isna(est):
        return "–"
    if pd.isna(lo) or pd.isna(hi):
        return f"{100 * est:.0f}%"
    return f"{100 * est:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"


def interruption_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the barge-in table; latencies and rates with their 95 % CIs."""
    header = ["point", "barge-ins", "interruption p50 (ms)", "p95 (ms)", "detect p50 (ms)",
              "cancel p50 (ms)", "early", "false interruptions", "missed", "false pauses",
              "resume gap p50 (ms)", "ERLE p50 (dB)"]
    db = lambda v: "–" if pd.isna(v) else f"{v:.1f}"  # noqa: E731
    ci = lambda r, name: (r.get(name, np.nan), r.get(f"{name}_lo", np.nan), r.get(f"{name}_hi", np.nan))  # noqa: E731
    rows = [[r["point"], str(int(r["barge_ins"])), _fmt_ci(*ci(r, "interruption_p50_ms")),
             _fmt_ci(*ci(r, "interruption_p95_ms")), format_ms(r["detect_p50_ms"]), format_ms(r["cancel_p50_ms"]),
             str(int(r.get("early_detections", 0))), _fmt_rate(*ci(r, "false_interruption_rate")),
             _fmt_rate(*ci(r, "missed_interruption_rate")), _fmt_rate(*ci(r, "false_pause_rate")),
             format_ms(r.get("resume_gap_p50_ms", np.nan)), db(r.get("erle_p50_db", np.nan))]
            for _, r in table.iterrows()]
    return header, rows


def node_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per node (hostname) and node kind (CPU model x cores): runs, config points and the
    p50 voice-to-voice of its non-warm-up turns (ms); empty when no run recorded its node."""
    if "node" not in results or not results["node"].astype(str).str.len().gt(0).any():
        return pd.DataFrame(columns=["node", "node_kind", "runs", "points", "v2v_p50_ms"])
    live = live_rows(results)
    rows = []
    for (node, kind), g in results.groupby(["node", "node_kind"], sort=True):
        v = numeric(live.loc[(live["node"] == node) & (live["node_kind"] == kind), V2V]).dropna() \
            if V2V in live else pd.Series(dtype=float)
        rows.append({"node": node, "node_kind": kind, "runs": g["run_id"].nunique(), "points": g["point"].nunique(),
                     "v2v_p50_ms": float(v.median()) if len(v) else np.nan})
    return pd.DataFrame(rows)


def node_warning(nodes: pd.DataFrame) -> str | None:
    """A warning when the runs come from nodes of different kinds (their latencies are not
    comparable across points that ran on different kinds), else None."""
    kinds = sorted(set(nodes["node_kind"])) if len(nodes) else []
    if len(kinds) < 2:
        return None
    return (f"the runs come from {len(kinds)} kinds of node ({'; '.join(kinds)}): compare points within a kind, "
            "or rerun the sweep on one kind")


def node_cells(nodes: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["node", "kind", "runs", "points", "voice-to-voice p50 (ms)"]
    return header, [[r["node"], r["node_kind"], str(int(r["runs"])), str(int(r["points"])), format_ms(r["v2v_p50_ms"])]
                    for _, r in nodes.iterrows()]
