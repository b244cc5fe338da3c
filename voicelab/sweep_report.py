"""The sweep report: config points compared with bootstrap confidence intervals.

Responsibilities:

1. Read a sweep directory (:func:`load_sweep`): ``results.parquet`` (one row per
   point, repetition, clip and turn), ``sweep.json`` (grid, points, environment) and
   each run's ``runs/<point_id>/rep-<k>/events.jsonl``.
2. Tables and figures that notebooks can use directly: :func:`headline_table`
   (p50/p90/p99 with 95% bootstrap CIs, quality and chunking columns per point),
   :func:`cdf_figure`, :func:`box_figures`, :func:`tradeoff_figure` and
   :func:`representative_turn` (whose timeline is
   :func:`voicelab.report.timeline_figure`).
3. :func:`write_sweep_report`: ``report.html`` (self-contained: inline CSS, plots as
   base64 PNG) and ``report.md`` (GitHub-flavoured markdown with the same tables,
   plots as PNG files in ``figures/``), both stating the machine, thread counts,
   versions, config hash, grid and repetitions.

Warm-up rows stay in ``results.parquet`` but are excluded from every number and plot
here. Figures are :class:`matplotlib.figure.Figure` objects without pyplot state.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from voicelab.events import Trace
from voicelab.report import (_CSS, LABELS, STAGE_COLORS, VARIANT_COLORS, empty_figure, figure_to_png_base64,
                             format_ms, timeline_figure)
from voicelab.stats import empirical_cdf, percentile_table

__all__ = [
    "BOX_METRICS", "HEADLINE_LATENCIES", "SweepData", "box_figures", "cdf_figure", "headline_table",
    "interruption_figure", "interruption_table", "load_sweep", "parameter_groups", "representative_turn", "tradeoff_figure", "write_sweep_report",
]

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

BOX_METRICS = [
    "voice_to_voice_latency_ms", "first_word_latency_ms", "word_to_audio_latency_ms", "tts_ttfb_ms",
    "playback_stall_ms", "endpoint_delay_ms",
]
"""Panels of each :func:`box_figures` figure."""

METRIC_COLORS = {
    "voice_to_voice_latency_ms": STAGE_COLORS["playback"],
    "first_word_latency_ms": STAGE_COLORS["LLM"],
    "word_to_audio_latency_ms": STAGE_COLORS["TTS"],
    "tts_ttfb_ms": STAGE_COLORS["TTS"],
    "playback_stall_ms": STAGE_COLORS["stall"],
    "endpoint_delay_ms": STAGE_COLORS["endpointing"],
}
"""Box colours: the colour of the stage that dominates each metric (report palette)."""

_FONT = {"font.size": 9}
_V2V = "voice_to_voice_latency_ms"


# --- loading ---------------------------------------------------------------------------------


@dataclass
class SweepData:
    """A sweep directory read back.

    Attributes:
        sweep_dir: the directory.
        results: ``results.parquet`` with rows sorted by point in the order of
            ``sweep.json`` ``points`` (stable: rows within a point keep their order);
            warm-up rows included.
        meta: ``sweep.json`` (empty dict when absent).
    """

    sweep_dir: Path
    results: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def grid(self) -> dict[str, list]:
        return dict(self.meta.get("grid") or {})

    @property
    def points(self) -> list[str]:
        """Point labels in sweep order (those present in the results)."""
        return list(pd.unique(self.results["point"])) if "point" in self.results else []

    def events_path(self, point_id: str, repetition: int) -> Path:
        return self.sweep_dir / "runs" / str(point_id) / f"rep-{int(repetition)}" / "events.jsonl"


def load_sweep(sweep_dir: Path) -> SweepData:
    """Read ``results.parquet`` and ``sweep.json`` of ``sweep_dir``.

    Raises:
        FileNotFoundError: there is no ``results.parquet``.
        ValueError: the table has no ``point`` column.
    """
    sweep_dir = Path(sweep_dir)
    results = pd.read_parquet(sweep_dir / "results.parquet")
    if len(results.columns) and "point" not in results:
        raise ValueError(f"{sweep_dir / 'results.parquet'}: no `point` column")
    meta_path = sweep_dir / "sweep.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    order = {str(p.get("label")): i for i, p in enumerate(meta.get("points") or [])}
    if order and "point" in results:
        rank = results["point"].map(lambda p: order.get(str(p), len(order)))
        results = results.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    return SweepData(sweep_dir, results, meta)


def _live(results: pd.DataFrame) -> pd.DataFrame:
    if "warmup" not in results:
        return results
    return results[~results["warmup"].fillna(False).astype(bool)]


def _points(results: pd.DataFrame) -> list[str]:
    return list(pd.unique(results["point"])) if "point" in results else []


@dataclass(frozen=True)
class _PointStyle:
    color: str
    marker: str
    linestyle: str


_MARKERS = ("o", "s", "^", "D", "v", "P")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (1, 1)))


def _point_styles(points: Sequence[str]) -> dict[str, _PointStyle]:
    """One style per point: the colour cycles through ``VARIANT_COLORS``, and each time it
    wraps the marker and line style change, so no two of the first 54 points look alike."""
    n = len(VARIANT_COLORS)
    return {p: _PointStyle(VARIANT_COLORS[i % n], _MARKERS[(i // n) % len(_MARKERS)],
                           _LINESTYLES[(i // n) % len(_LINESTYLES)]) for i, p in enumerate(points)}


def _has_values(df: pd.DataFrame, col: str) -> bool:
    return col in df and pd.to_numeric(df[col], errors="coerce").notna().any()


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype(float)


# --- tables ------------------------------------------------------------------------------------


def headline_table(results: pd.DataFrame, *, n_boot: int = 2000, ci: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """The headline numbers per config point, over non-warm-up rows.

    Returns:
        Index: point labels in order of first appearance. Columns: ``n_turns``
        (non-warm-up rows); for each of :data:`HEADLINE_LATENCIES` and q in 50, 90,
        99: ``<metric>_p<q>``, ``_lo``, ``_hi`` (ms, :func:`voicelab.stats.percentile_table`)
        and ``<metric>_n``; then ``<column>_<statistic>`` for :data:`HEADLINE_EXTRAS`
        (e.g. ``tts_roundtrip_wer_mean``). A column the table lacks gives NaN.
    """
    points = _points(results)
    live = _live(results)
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
            agg = _num(live[col]).groupby(live["point"], sort=False).agg(stat)
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


def _headline_cells(head: pd.DataFrame) -> tuple[list[str], list[list[str]], list[str]]:
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


# --- figures ---------------------------------------------------------------------------------


def _style(ax) -> None:
    ax.grid(color="#E5E7EB", lw=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _short(text: str, n: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


@matplotlib.rc_context(_FONT)
def cdf_figure(results: pd.DataFrame,
               metrics: Sequence[str] = ("voice_to_voice_latency_ms", "first_word_latency_ms")) -> Figure:
    """Empirical CDF per config point, one panel per metric (ms), over non-warm-up rows.

    One step line per point (colours in point order); dotted lines mark the p50 and
    p90 levels. Metrics without values are left out; with none left, a figure that
    says so.
    """
    live = _live(results)
    points = _points(results)
    metrics = [m for m in metrics if _has_values(live, m)]
    if not metrics or not points:
        return empty_figure("no latency values to plot")
    styles = _point_styles(points)
    fig = Figure(figsize=(11.0, 4.0 + 0.18 * math.ceil(len(points) / 2)), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False).ravel()
    for ax, metric in zip(axes, metrics):
        for p in points:
            x, F = empirical_cdf(_num(live.loc[live["point"] == p, metric]))
            if not len(x):
                continue
            ax.step(np.r_[x[0], x], np.r_[0.0, F], where="post", color=styles[p].color,
                    ls=styles[p].linestyle, lw=1.6, label=f"{p} (n={len(x)})")
        for level in (0.5, 0.9):
            ax.axhline(level, color="#9CA3AF", lw=0.8, ls=":")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"{LABELS.get(metric, metric)} (ms)")
        ax.set_ylabel("fraction of turns ≤ x")
        ax.set_title(f"{LABELS.get(metric, metric)}: CDF per point", loc="left", fontsize=9.5,
                     fontweight="bold")
        _style(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [_short(lbl, 60) for lbl in labels], loc="outside lower center",
               ncol=min(2, len(labels)), fontsize=8, frameon=False)
    return fig


def _value_key(v: Any) -> str:
    """A comparable key for a grid value: numpy scalars unwrapped, 2.0 == 2, dicts sorted."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "null"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return json.dumps(v, sort_keys=True, default=str)


def _value_label(v: Any) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def parameter_groups(results: pd.DataFrame, param: str, values: Sequence[Any] | None = None,
                     points: Sequence[dict] | None = None) -> tuple[list[str], pd.Series]:
    """Which value of ``param`` each row has, as an index into the value labels.

    Args:
        results: the results table.
        param: a swept dotted path (e.g. ``vad.kind``).
        values: the grid values in grid order (None: order of first appearance).
        points: ``sweep.json`` points (``point_id``, ``overrides``); rows are matched
            through their point's overrides first (robust to values that the table
            stores formatted, such as a whole ``trigger`` section), then through the
            ``param`` column.

    Returns:
        ``(labels, index)``: display labels in order, and per row of ``results`` the
        position of its value in ``labels`` (``-1``: unknown; such rows are left out
        of the plots).
    """
    keys = [_value_key(v) for v in values] if values is not None else []
    labels = [_value_label(v) for v in values] if values is not None else []
    index = pd.Series(-1, index=results.index, dtype=int)
    by_point = {}
    for p in points or []:
        ov = p.get("overrides") or {}
        if param in ov and _value_key(ov[param]) in keys:
            by_point[str(p.get("point_id"))] = keys.index(_value_key(ov[param]))
    if by_point and "point_id" in results:
        index = results["point_id"].astype(str).map(by_point).fillna(-1).astype(int)
    if param in results:
        col = results[param]
        for i in np.flatnonzero(index.to_numpy() < 0):
            v = col.iloc[i]
            k = _value_key(v)
            if k == "null":
                continue
            if k not in keys:
                keys.append(k)
                labels.append(_value_label(v))
            index.iloc[i] = keys.index(k)
        # show the table's own spelling of matched values (e.g. a trigger label)
        for j in range(len(labels)):
            hit = col[(index == j).to_numpy()].dropna()
            if len(hit) and not isinstance(hit.iloc[0], (dict, list)):
                labels[j] = _value_label(hit.iloc[0])
    return labels, index


@matplotlib.rc_context(_FONT)
def box_figures(results: pd.DataFrame, grid: dict[str, Sequence[Any]],
                metrics: Sequence[str] = BOX_METRICS,
                points: Sequence[dict] | None = None) -> dict[str, Figure]:
    """One figure per swept parameter: box plots of each metric against its values.

    x is the parameter's values in grid order; rows of points that differ in other
    parameters are pooled. One panel per metric with values (ms); boxes are
    quartiles with 1.5 IQR whiskers, dots are the non-warm-up turns.

    Args:
        results: the results table.
        grid: ``sweep.json`` ``grid`` (dotted path -> values).
        metrics: columns to plot.
        points: ``sweep.json`` ``points`` (see :func:`parameter_groups`).

    Returns:
        ``{parameter: figure}`` in grid order.
    """
    live = _live(results)
    metrics = [m for m in metrics if _has_values(live, m)]
    out: dict[str, Figure] = {}
    rng = np.random.default_rng(0)
    for param, values in grid.items():
        labels, index = parameter_groups(live, param, values, points)
        if not metrics or not labels:
            out[param] = empty_figure(f"{param}: no values to plot")
            continue
        ncols = min(3, len(metrics))
        nrows = math.ceil(len(metrics) / ncols)
        rotate = max(len(lbl) for lbl in labels) * len(labels) > 40
        fig = Figure(figsize=(11.0, 0.8 + nrows * (3.0 + (0.6 if rotate else 0.0))), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, metric in zip(axes, metrics):
            color = METRIC_COLORS.get(metric, STAGE_COLORS["other"])
            vals_all = _num(live[metric])
            for j in range(len(labels)):
                vals = vals_all[(index == j).to_numpy()].dropna().to_numpy()
                if not len(vals):
                    continue
                ax.boxplot(vals, positions=[j], widths=0.55, patch_artist=True, showfliers=False,
                           manage_ticks=False, boxprops=dict(facecolor=color + "33", edgecolor=color),
                           medianprops=dict(color=color, lw=2), whiskerprops=dict(color=color),
                           capprops=dict(color=color))
                ax.scatter(j + rng.uniform(-0.16, 0.16, len(vals)), vals, s=10, color=color,
                           alpha=0.7, zorder=3, edgecolors="white", linewidths=0.3)
            ax.set_xticks(range(len(labels)), [_short(lbl, 24) for lbl in labels],
                          rotation=30 if rotate else 0, ha="right" if rotate else "center")
            ax.set_xlim(-0.6, len(labels) - 0.4)
            ax.set_title(f"{LABELS.get(metric, metric)} (ms)", loc="left", fontsize=9, fontweight="bold")
            _style(ax)
            ax.grid(axis="x", visible=False)
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        others = [p for p in grid if p != param]
        pooled = f"; pooled over {', '.join(others)}" if others else ""
        fig.suptitle(f"Latency by {param} (non-warm-up turns{pooled})", x=0.01, ha="left",
                     fontsize=10, fontweight="bold")
        out[param] = fig
    return out


@matplotlib.rc_context(_FONT)
def tradeoff_figure(results: pd.DataFrame, headline: pd.DataFrame | None = None) -> Figure:
    """Latency against quality per config point.

    x is the p50 voice-to-voice latency (ms) with its bootstrap CI as error bars;
    panel 1: y = mean TTS round-trip WER; panel 2: y = median playback stall (ms).
    One marker per point, named in a legend below the panels. Panels whose y has no
    value are left out.

    Args:
        results: the results table.
        headline: :func:`headline_table` of ``results`` (computed when None).
    """
    head = headline if headline is not None else headline_table(results)
    x = head.get(f"{_V2V}_p50")
    if x is None or not x.notna().any():
        return empty_figure("no voice-to-voice latency to plot")
    panels = [(c, t) for c, t in (("tts_roundtrip_wer_mean", "mean TTS round-trip WER"),
                                   ("playback_stall_ms_median", "median playback stall (ms)"))
              if head[c].notna().any()]
    if not panels:
        return empty_figure("no quality columns (round-trip WER, playback stall) to plot")
    styles = _point_styles(list(head.index))
    fig = Figure(figsize=(5.5 * len(panels), 4.3 + 0.2 * math.ceil(len(head) / 3)), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    for ax, (col, title) in zip(axes, panels):
        for point, r in head.iterrows():
            xv, yv = r[f"{_V2V}_p50"], r[col]
            if not (np.isfinite(xv) and np.isfinite(yv)):
                continue
            err = [[max(0.0, xv - r[f"{_V2V}_p50_lo"])], [max(0.0, r[f"{_V2V}_p50_hi"] - xv)]]
            err = np.nan_to_num(np.asarray(err, dtype=float))
            st = styles[point]
            ax.errorbar([xv], [yv], xerr=err, fmt=st.marker, ms=7, color=st.color, ecolor=st.color,
                        elinewidth=1.2, capsize=3, alpha=0.9, label=_short(point, 40))
        ax.set_xlabel("p50 voice-to-voice (ms), 95% bootstrap CI")
        ax.set_ylabel(title)
        ax.set_title(f"voice-to-voice vs {title}", loc="left", fontsize=9.5, fontweight="bold")
        ax.margins(x=0.15, y=0.15)
        _style(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, max(1, len(labels))),
               fontsize=8, frameon=False)
    return fig


def interruption_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per point: barge-in counts, p50/p95 interruption latency, p50 detect and cancel
    times (ms), false-interruption rate (share of replies cut with no user speech) and
    missed-interruption rate (share of barge-ins the agent talked through)."""
    live = _live(results)
    rows = []
    for point in _points(results):
        g = live[live["point"] == point]
        b = g[g["barge_in"].astype(bool)] if "barge_in" in g else g.iloc[:0]
        lat = _num(b.get("interruption_latency_ms", pd.Series(dtype=float))).dropna()
        replied = g[_num(g[_V2V]).notna()] if _V2V in g else g
        rows.append({
            "point": point, "barge_ins": len(b),
            "interruption_p50_ms": float(np.percentile(lat, 50)) if len(lat) else np.nan,
            "interruption_p95_ms": float(np.percentile(lat, 95)) if len(lat) else np.nan,
            "detect_p50_ms": float(np.nanmedian(_num(b["barge_in_detect_ms"]))) if len(lat) else np.nan,
            "cancel_p50_ms": float(np.nanmedian(_num(b["cancel_ms"]))) if len(lat) else np.nan,
            "false_interruption_rate": float(replied["false_interruption"].astype(bool).mean())
            if len(replied) else np.nan,
            "missed_interruption_rate": float(b["missed_interruption"].astype(bool).mean())
            if len(b) else np.nan,
        })
    return pd.DataFrame(rows)


def interruption_figure(table: pd.DataFrame) -> Figure:
    """Interruption latency (p50, whisker to p95) against false-interruption rate, per point."""
    fig = Figure(figsize=(8.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    styles = _point_styles(list(table["point"]))
    shown = 0
    for _, r in table.iterrows():
        if np.isnan(r["interruption_p50_ms"]):
            continue
        shown += 1
        up = r["interruption_p95_ms"] - r["interruption_p50_ms"]
        ax.errorbar([r["false_interruption_rate"] * 100], [r["interruption_p50_ms"]],
                    yerr=[[0], [up]], fmt=styles[r["point"]].marker, color=styles[r["point"]].color, capsize=3)
        # "a.b.c=v" -> "c=v" keeps labels short; alternate offsets keep close points legible
        label = re.sub(r"[\w]+\.(?=[\w.]*=)", "", r["point"])
        ax.annotate(_short(label, 40), (r["false_interruption_rate"] * 100, r["interruption_p50_ms"]),
                    textcoords="offset points", xytext=(6, (8, -10, 22, -24)[(shown - 1) % 4]), fontsize=7,
                    color=styles[r["point"]].color)
    ax.set_xlabel("false interruptions (% of replies)")
    ax.set_ylabel("interruption latency (ms): p50, whisker to p95")
    _style(ax)
    fig.tight_layout()
    return fig


def representative_turn(results: pd.DataFrame, point: str | None = None) -> pd.Series | None:
    """The non-warm-up turn of ``point`` whose voice-to-voice latency is closest to its median.

    ``point`` defaults to the first point (order of appearance) with a voice-to-voice
    value. Ties (with an even number of turns the two middle ones always tie) go to
    the row that comes first in the table. Returns the row, or None when no turn
    has a voice-to-voice value.
    """
    live = _live(results)
    if _V2V not in live or "point" not in live:
        return None
    candidates = [point] if point is not None else _points(results)
    for p in candidates:
        g = live[(live["point"] == p) & _num(live[_V2V]).notna()]
        if g.empty:
            continue
        v = _num(g[_V2V]).to_numpy()
        return g.iloc[int(np.argmin(np.abs(v - np.median(v))))]
    return None


# --- rendering -----------------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def _md(x: Any) -> str:
    """Markdown text on one line: HTML-escaped; backslash, backtick, ``*``, ``|`` and
    ``_`` outside words backslashed (brackets stay: without a link target they are text)."""
    text = " ".join(str(x).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> str:
    """A GFM table; with ``numeric`` every column after the first is right-aligned."""
    align = ["---:" if numeric and i else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> str:
    def cls(i: int) -> str:
        return " class=num" if numeric and i else ""

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{_e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<div class=scroll><table><tr>{head}</tr>{body}</table></div>"


def _flat(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_flat(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


def _environment(data: SweepData) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key, value)]) of the environment stamp; absent keys are skipped."""
    meta, env = data.meta, dict(data.meta.get("environment") or {})
    live = _live(data.results)
    sweep = [("name", meta.get("name")), ("created", env.get("created")),
             ("config hash", env.get("config_hash"))]
    if isinstance(meta.get("wall_s"), (int, float)):
        w = float(meta["wall_s"])
        sweep.append(("sweep wall time", f"{w:,.1f} s ({w / 60:.1f} min)"))
    if isinstance(env.get("peak_rss_mib"), (int, float)):
        sweep.append(("peak RSS (first run)", f"{env['peak_rss_mib']:,.0f} MiB"))
    sweep += [("repetitions", meta.get("repetitions")), ("points", len(data.points) or None),
              ("turns (non-warm-up)", len(live)),
              ("warm-up rows (excluded)", len(data.results) - len(live))]
    sections = [("sweep", [(k, _flat(v)) for k, v in sweep if v is not None])]
    machine = dict(env.get("machine") or {})
    for key, title in (("machine", "machine"), ("threads", "threads"), ("versions", "versions"),
                       ("models", "models")):
        d = machine if key == "machine" else env.get(key)
        if isinstance(d, dict) and d:
            sections.append((title, [(str(k), _flat(v)) for k, v in d.items()]))
    return sections


def _grid_rows(data: SweepData) -> list[list[str]]:
    return [[path, ", ".join(_value_label(v) for v in values)] for path, values in data.grid.items()]


@dataclass
class _Rendered:
    """One figure rendered once, for both outputs."""

    name: str
    alt: str
    caption: str
    png_base64: str


def _render(fig: Figure, name: str, alt: str, caption: str, dpi: int = 110) -> _Rendered:
    return _Rendered(name, alt, caption, figure_to_png_base64(fig, dpi=dpi))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "param"


def _build(data: SweepData, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """Everything both outputs show: tables, sentences and rendered figures."""
    results = data.results
    head = headline_table(results, n_boot=n_boot, seed=seed)
    header, rows, notes = _headline_cells(head)
    figs = [_render(cdf_figure(results), "cdf.png", "latency CDF per config point",
                    "Empirical CDFs over non-warm-up turns, one line per config point; dotted lines "
                    "mark p50 and p90.")]
    for param, fig in box_figures(results, data.grid, points=data.meta.get("points")).items():
        others = [p for p in data.grid if p != param]
        pooled = f" Points that differ in {', '.join(others)} are pooled." if others else ""
        figs.append(_render(fig, f"box-{_slug(param)}.png", f"latency by {param}",
                            f"Key latencies against {param} (grid order), non-warm-up turns.{pooled}"))
    figs.append(_render(tradeoff_figure(results, head), "tradeoff.png", "latency vs quality trade-off",
                        "One marker per config point: p50 voice-to-voice with its 95% bootstrap CI "
                        "against mean TTS round-trip WER and median playback stall."))
    inter = None
    if "interruption_latency_ms" in results and results.get("barge_in", pd.Series(dtype=bool)).astype(bool).any():
        inter = interruption_table(results)
        figs.append(_render(interruption_figure(inter), "interruption.png",
                            "interruption latency vs false interruptions",
                            "One marker per config point: p50 interruption latency (true onset of the "
                            "user's barge-in to the agent's last played sample), whisker to p95, "
                            "against the share of replies cut off with no user speech."))
    rep = representative_turn(results)
    rep_text = "No non-warm-up turn has a voice-to-voice latency: no representative timeline."
    if rep is not None:
        g = _live(results)
        g = _num(g.loc[g["point"] == rep["point"], _V2V]).dropna()
        rep_text = (f"Representative turn: point “{rep['point']}”, repetition {int(rep['repetition'])}, "
                    f"clip “{rep.get('clip', '?')}”, turn {int(rep['turn'])} "
                    f"(run {rep.get('run_id', '?')}): "
                    f"voice-to-voice {format_ms(rep[_V2V])} ms, the closest to the median "
                    f"({format_ms(float(np.median(g)))} ms) of the point's {len(g)} non-warm-up turns "
                    f"with a voice-to-voice value.")
        path = data.events_path(rep.get("point_id", ""), rep["repetition"])
        if path.is_file():
            try:
                fig = timeline_figure(Trace.load_jsonl(path), int(rep["turn"]))
            except (KeyError, ValueError) as err:
                rep_text += f" Its timeline cannot be drawn ({err})."
            else:
                figs.append(_render(fig, "timeline.png", f"timeline of turn {int(rep['turn'])}",
                                    "Stage lanes on the session clock; red spans on the playback "
                                    "lane are stalls; the arrow is voice-to-voice.", dpi=100))
        else:
            rep_text += f" Its trace ({path.relative_to(data.sweep_dir)}) is missing: no timeline."
    return {"head": head, "header": header, "rows": rows, "notes": notes, "figs": figs, "inter": inter,
            "rep_text": rep_text, "method": _METHOD.format(n_boot=n_boot)}


def _interruption_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["point", "barge-ins", "interruption p50 (ms)", "p95 (ms)", "detect p50 (ms)",
              "cancel p50 (ms)", "false interruptions", "missed"]
    pct = lambda v: "–" if pd.isna(v) else f"{100 * v:.0f}%"
    rows = [[r["point"], str(int(r["barge_ins"])), format_ms(r["interruption_p50_ms"]),
             format_ms(r["interruption_p95_ms"]), format_ms(r["detect_p50_ms"]), format_ms(r["cancel_p50_ms"]),
             pct(r["false_interruption_rate"]), pct(r["missed_interruption_rate"])]
            for _, r in table.iterrows()]
    return header, rows


def _title(data: SweepData) -> str:
    return f"{data.meta.get('name') or data.sweep_dir.name} · voicelab sweep report"


_METHOD = ("Percentiles use numpy's linear method over non-warm-up turns of all repetitions "
           "and clips; brackets are 95% percentile-bootstrap confidence intervals ({n_boot} "
           "resamples of the turns, Efron & Tibshirani 1993), which treat turns as independent. "
           "Milliseconds unless stated.")


def _html(data: SweepData, b: dict) -> str:
    figs = {f.name: f for f in b["figs"]}

    def img(f: _Rendered) -> str:
        return (f'<figure><img alt="{_e(f.alt)}" src="data:image/png;base64,{f.png_base64}">'
                f"<figcaption>{_e(f.caption)}</figcaption></figure>")

    css = _CSS + "td.num,th.num{min-width:64px}\n"
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(_title(data))}</title>"
             f"<style>{css}</style></head><body>", f"<h1>{_e(_title(data))}</h1>"]
    parts.append("<h2>Environment</h2><div class=env>")
    for title, kv in _environment(data):
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in kv)
        parts.append(f"<table><tr><th colspan=2>{_e(title)}</th></tr>{rows}</table>")
    parts.append("</div>")
    parts.append("<h2>Grid</h2>")
    parts.append(_html_table(["parameter", "values (grid order)"], _grid_rows(data), numeric=False))
    parts.append(f"<p class=sub>{_e(data.meta.get('repetitions', '?'))} repetitions of every point; "
                 f"{len(data.points)} points.</p>")
    if data.meta.get("base_config") is not None:
        cfg = json.dumps(data.meta["base_config"], indent=2, default=str)
        parts.append(f"<details><summary>base config</summary><pre>{_e(cfg)}</pre></details>")
    parts.append("<h2>Headline</h2>")
    parts.append(f"<p class=sub>{_e(b['method'])}</p>")
    parts.append(_html_table(b["header"], b["rows"]))
    parts += [f"<p class=sub>{_e(n)}.</p>" for n in b["notes"]]
    parts.append("<h2>Latency distributions</h2>" + img(figs["cdf.png"]))
    parts.append("<h2>Latency by swept parameter</h2>")
    parts += [img(f) for f in b["figs"] if f.name.startswith("box-")]
    parts.append("<h2>Latency vs quality</h2>" + img(figs["tradeoff.png"]))
    if b["inter"] is not None:
        header, rows = _interruption_cells(b["inter"])
        parts.append("<h2>Barge-in</h2>" + _html_table(header, rows) + img(figs["interruption.png"]))
    parts.append(f"<h2>Representative turn</h2><p>{_e(b['rep_text'])}</p>")
    if "timeline.png" in figs:
        parts.append(img(figs["timeline.png"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(data: SweepData, b: dict, fig_dir: str) -> str:
    figs = {f.name: f for f in b["figs"]}

    def img(f: _Rendered) -> str:
        return f"![{_md(f.alt)}]({fig_dir}/{f.name})\n\n*{_md(f.caption)}*"

    out = [f"# {_md(_title(data))}", "", "## Environment", ""]
    for title, kv in _environment(data):
        out += [_md_table([title, "value"], kv, numeric=False), ""]
    out += ["## Grid", "", _md_table(["parameter", "values (grid order)"], _grid_rows(data), numeric=False),
            "", f"{_md(data.meta.get('repetitions', '?'))} repetitions of every point; "
                f"{len(data.points)} points.", ""]
    out += ["## Headline", "", _md(b["method"]), "", _md_table(b["header"], b["rows"]), ""]
    out += [f"{_md(n)}." for n in b["notes"]] + ([""] if b["notes"] else [])
    out += ["## Latency distributions", "", img(figs["cdf.png"]), ""]
    out += ["## Latency by swept parameter", ""]
    for f in b["figs"]:
        if f.name.startswith("box-"):
            out += [img(f), ""]
    out += ["## Latency vs quality", "", img(figs["tradeoff.png"]), ""]
    if b["inter"] is not None:
        header, rows = _interruption_cells(b["inter"])
        out += ["## Barge-in", "", _md_table(header, rows), "", img(figs["interruption.png"]), ""]
    out += ["## Representative turn", "", _md(b["rep_text"]), ""]
    if "timeline.png" in figs:
        out += [img(figs["timeline.png"]), ""]
    return "\n".join(out)


def write_sweep_report(sweep_dir: Path, *, n_boot: int = 2000, seed: int = 0) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` (plus ``figures/*.png``) into ``sweep_dir``.

    Contents of both: environment stamp (machine, CPU count, threads, versions,
    models, config hash, date, wall time), grid and repetitions; the headline table
    (:func:`headline_table`); latency CDFs (:func:`cdf_figure`); one box-plot figure
    per swept parameter (:func:`box_figures`); the latency/quality trade-off
    (:func:`tradeoff_figure`); the stage timeline of :func:`representative_turn`.
    The HTML embeds the plots and has no external resources or scripts; the
    markdown links ``figures/<name>.png`` relatively.

    Args:
        sweep_dir: a sweep directory (see :mod:`voicelab.sweep`).
        n_boot, seed: bootstrap resamples and seed (:mod:`voicelab.stats`).

    Returns:
        ``(html_path, markdown_path)``.

    Raises:
        FileNotFoundError: ``sweep_dir`` has no ``results.parquet``.
    """
    data = load_sweep(Path(sweep_dir))
    built = _build(data, n_boot=n_boot, seed=seed)
    fig_dir = data.sweep_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    for f in built["figs"]:
        (fig_dir / f.name).write_bytes(base64.b64decode(f.png_base64))
    html_path = data.sweep_dir / "report.html"
    md_path = data.sweep_dir / "report.md"
    html_path.write_text(_html(data, built), encoding="utf-8")
    md_path.write_text(_markdown(data, built, "figures"), encoding="utf-8")
    return html_path, md_path
