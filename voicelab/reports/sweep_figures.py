"""The sweep report's figures: latency CDFs, box plots per swept parameter, trade-offs.

:func:`cdf_figure` (empirical CDF per config point), :func:`box_figures` (one figure
per swept parameter, :data:`BOX_METRICS` against its values), :func:`tradeoff_figure`
(latency against quality) and :func:`interruption_figure` (barge-in latency against
false interruptions). All over non-warm-up rows; figures are
:class:`matplotlib.figure.Figure` objects without pyplot state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from voicelab.measure.stats import empirical_cdf
from voicelab.reports.frames import V2V, has_values, live_rows, numeric, unique_in_order
from voicelab.reports.style import (
    FONT,
    LABELS,
    METRIC_COLORS,
    STAGE_COLORS,
    empty_figure,
    point_styles,
    style_axes,
    truncate,
)
from voicelab.reports.sweep_data import parameter_groups
from voicelab.reports.sweep_tables import headline_table

__all__ = ["BOX_METRICS", "box_figures", "cdf_figure", "interruption_figure", "tradeoff_figure"]

BOX_METRICS = [
    "voice_to_voice_latency_ms", "first_word_latency_ms", "word_to_audio_latency_ms", "tts_ttfb_ms",
    "playback_stall_ms", "endpoint_delay_ms",
]
"""Panels of each :func:`box_figures` figure."""


@matplotlib.rc_context(FONT)
def cdf_figure(results: pd.DataFrame,
               metrics: Sequence[str] = ("voice_to_voice_latency_ms", "first_word_latency_ms")) -> Figure:
    """Empirical CDF per config point, one panel per metric (ms), over non-warm-up rows.

    One step line per point (colours in point order); dotted lines mark the p50 and
    p90 levels. Metrics without values are left out; with none left, a figure that
    says so.
    """
    live = live_rows(results)
    points = unique_in_order(results, "point")
    metrics = [m for m in metrics if has_values(live, m)]
    if not metrics or not points:
        return empty_figure("no latency values to plot")
    styles = point_styles(points)
    fig = Figure(figsize=(11.0, 4.0 + 0.18 * math.ceil(len(points) / 2)), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False).ravel()
    for ax, metric in zip(axes, metrics):
        for p in points:
            x, F = empirical_cdf(numeric(live.loc[live["point"] == p, metric]))
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
        style_axes(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [truncate(lbl, 60) for lbl in labels], loc="outside lower center",
               ncol=min(2, len(labels)), fontsize=8, frameon=False)
    return fig


@matplotlib.rc_context(FONT)
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
    live = live_rows(results)
    metrics = [m for m in metrics if has_values(live, m)]
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
            vals_all = numeric(live[metric])
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
            ax.set_xticks(range(len(labels)), [truncate(lbl, 24) for lbl in labels],
                          rotation=30 if rotate else 0, ha="right" if rotate else "center")
            ax.set_xlim(-0.6, len(labels) - 0.4)
            ax.set_title(f"{LABELS.get(metric, metric)} (ms)", loc="left", fontsize=9, fontweight="bold")
            style_axes(ax)
            ax.grid(axis="x", visible=False)
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        others = [p for p in grid if p != param]
        pooled = f"; pooled over {', '.join(others)}" if others else ""
        fig.suptitle(f"Latency by {param} (non-warm-up turns{pooled})", x=0.01, ha="left",
                     fontsize=10, fontweight="bold")
        out[param] = fig
    return out


@matplotlib.rc_context(FONT)
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
    x = head.get(f"{V2V}_p50")
    if x is None or not x.notna().any():
        return empty_figure("no voice-to-voice latency to plot")
    panels = [(c, t) for c, t in (("tts_roundtrip_wer_mean", "mean TTS round-trip WER"),
                                   ("playback_stall_ms_median", "median playback stall (ms)"))
              if head[c].notna().any()]
    if not panels:
        return empty_figure("no quality columns (round-trip WER, playback stall) to plot")
    styles = point_styles(list(head.index))
    fig = Figure(figsize=(5.5 * len(panels), 4.3 + 0.2 * math.ceil(len(head) / 3)), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    for ax, (col, title) in zip(axes, panels):
        for point, r in head.iterrows():
            xv, yv = r[f"{V2V}_p50"], r[col]
            if not (np.isfinite(xv) and np.isfinite(yv)):
                continue
            err = [[max(0.0, xv - r[f"{V2V}_p50_lo"])], [max(0.0, r[f"{V2V}_p50_hi"] - xv)]]
            err = np.nan_to_num(np.asarray(err, dtype=float))
            st = styles[point]
            ax.errorbar([xv], [yv], xerr=err, fmt=st.marker, ms=7, color=st.color, ecolor=st.color,
                        elinewidth=1.2, capsize=3, alpha=0.9, label=truncate(point, 40))
        ax.set_xlabel("p50 voice-to-voice (ms), 95% bootstrap CI")
        ax.set_ylabel(title)
        ax.set_title(f"voice-to-voice vs {title}", loc="left", fontsize=9.5, fontweight="bold")
        ax.margins(x=0.15, y=0.15)
        style_axes(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, max(1, len(labels))),
               fontsize=8, frameon=False)
    return fig


def interruption_figure(table: pd.DataFrame) -> Figure:
    """Interruption latency (p50, whisker to p95) against false-interruption rate, per point."""
    fig = Figure(figsize=(8.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    styles = point_styles(list(table["point"]))
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
        ax.annotate(truncate(label, 40), (r["false_interruption_rate"] * 100, r["interruption_p50_ms"]),
                    textcoords="offset points", xytext=(6, (8, -10, 22, -24)[(shown - 1) % 4]), fontsize=7,
                    color=styles[r["point"]].color)
    ax.set_xlabel("false interruptions (% of replies)")
    ax.set_ylabel("interruption latency (ms): p50, whisker to p95")
    style_axes(ax)
    fig.tight_layout()
    return fig
