"""Run-report figures over the turns table: key latencies per variant and the critical path.

:func:`latency_comparison_figure` shows the distributions of :data:`KEY_LATENCIES`
per variant; :func:`critical_path_figure` stacks where the median voice-to-voice time
goes (:func:`critical_path_medians`). Both use non-warm-up turns of
:func:`voicelab.measure.metrics.turns_table`; nothing here measures anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from voicelab.reports.frames import live_rows, unique_in_order
from voicelab.reports.style import (FONT, LABELS, STAGE_COLORS, empty_figure, format_ms, format_seconds,
                                    style_axes, variant_colors)

__all__ = ["CRITICAL_PATH", "KEY_LATENCIES", "critical_path_figure", "critical_path_medians",
           "latency_comparison_figure"]

KEY_LATENCIES = [
    "voice_to_voice_latency_ms", "first_word_latency_ms", "trigger_wait_ms", "tts_ttfb_ms",
    "word_to_audio_latency_ms", "endpoint_delay_ms", "stt_latency_ms", "framework_overhead_ms",
]
"""Columns shown by :func:`latency_comparison_figure` (top to bottom)."""


@matplotlib.rc_context(FONT)
def latency_comparison_figure(turns: pd.DataFrame, columns: Sequence[str] = KEY_LATENCIES,
                              ncols: int = 2) -> Figure:
    """Per-turn values of ``columns`` (ms) over non-warm-up turns, one panel per column.

    Each panel has its own linear x axis (stage latencies differ by 100x, and
    ``framework_overhead_ms`` can be zero or negative, which rules out a shared log
    axis); one row per variant: a box (quartiles, 1.5 IQR whiskers) with the turns as
    dots and the median written at the right.
    """
    live = live_rows(turns)
    columns = [c for c in columns if c in live]
    variants = unique_in_order(live, "variant")
    if live.empty or not columns or not variants:
        return empty_figure("no non-warm-up turns to plot")
    colors = variant_colors(variants)
    nv = len(variants)
    nrows = math.ceil(len(columns) / ncols)
    fig = Figure(figsize=(11.0, 0.6 + nrows * (0.9 + 0.32 * nv)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    rng = np.random.default_rng(0)
    for ax, col in zip(axes, columns):
        hi = 0.0
        for j, v in enumerate(variants):
            vals = live.loc[live["variant"] == v, col].dropna().to_numpy(dtype=float)
            if not len(vals):
                continue
            hi = max(hi, float(vals.max()))
            ax.boxplot(vals, positions=[j], widths=0.6, orientation="horizontal", patch_artist=True,
                       showfliers=False, manage_ticks=False,
                       boxprops=dict(facecolor=colors[v] + "33", edgecolor=colors[v]),
                       medianprops=dict(color=colors[v], lw=2),
                       whiskerprops=dict(color=colors[v]), capprops=dict(color=colors[v]))
            ax.scatter(vals, j + rng.uniform(-0.17, 0.17, len(vals)), s=13, color=colors[v],
                       alpha=0.85, zorder=3, edgecolors="white", linewidths=0.4)
            ax.annotate(f"p50 {format_ms(np.median(vals))}", xy=(1.0, j), xycoords=("axes fraction", "data"),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=7.5,
                        color=colors[v])
        lo = min(0.0, float(np.nanmin(live[col].to_numpy(dtype=float)))) if live[col].notna().any() else 0.0
        ax.set_xlim(lo * 1.08, max(hi * 1.08, 1.0))
        ax.set_yticks(range(nv), variants)
        ax.set_ylim(nv - 0.5, -0.5)
        ax.set_title(f"{LABELS.get(col, col)} (ms)", loc="left", fontsize=9, fontweight="bold")
        style_axes(ax, axis="x")
        ax.tick_params(axis="y", length=0)
        for lbl, v in zip(ax.get_yticklabels(), variants):
            lbl.set_color(colors[v])
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    return fig


CRITICAL_PATH = [
    ("endpoint delay", ("endpoint_delay_ms",), STAGE_COLORS["endpointing"]),
    ("STT", ("stt_latency_ms",), STAGE_COLORS["STT"]),
    ("LLM to first chunk", ("first_word_latency_ms", "trigger_wait_ms"), STAGE_COLORS["LLM"]),
    ("TTS TTFB", ("tts_ttfb_ms",), STAGE_COLORS["TTS"]),
]
"""Stacked segments of :func:`critical_path_figure`: (label, summed columns, colour)."""


def critical_path_medians(turns: pd.DataFrame) -> pd.DataFrame:
    """Median critical-path segments per variant over non-warm-up turns (ms).

    Columns: one per :data:`CRITICAL_PATH` label (median over turns of the summed
    columns), ``voice-to-voice`` (median) and ``other`` = voice-to-voice minus the
    segments (hand-offs between stages, waiting for a speaker frame; can be negative
    because a sum of medians is not the median of a sum). Index: variant.
    """
    live = live_rows(turns)
    rows = {}
    for v in unique_in_order(live, "variant"):
        g = live[live["variant"] == v]
        row = {}
        for label, cols, _ in CRITICAL_PATH:
            if all(c in g for c in cols):
                s = g[list(cols)].sum(axis=1, min_count=len(cols))
                row[label] = float(s.median()) if s.notna().any() else math.nan
            else:
                row[label] = math.nan
        v2v = g["voice_to_voice_latency_ms"].median() if "voice_to_voice_latency_ms" in g else math.nan
        row["voice-to-voice"] = float(v2v)
        row["other"] = float(v2v - np.nansum([row[lbl] for lbl, _, _ in CRITICAL_PATH]))
        rows[v] = row
    return pd.DataFrame.from_dict(rows, orient="index")


@matplotlib.rc_context(FONT)
def critical_path_figure(turns: pd.DataFrame) -> Figure:
    """Stacked bar per variant of the median voice-to-voice critical path (seconds).

    Segments as in :func:`critical_path_medians`; the bar's end is the median
    voice-to-voice latency (when ``other`` is negative it is drawn as zero).
    """
    med = critical_path_medians(turns)
    med = med[med["voice-to-voice"].notna()] if not med.empty else med
    if med.empty:
        return empty_figure("no non-warm-up turns with played audio")
    segs = [(lbl, c) for lbl, _, c in CRITICAL_PATH] + [("other", STAGE_COLORS["other"])]
    fig = Figure(figsize=(10.0, 1.4 + 0.55 * len(med)), layout="constrained")
    ax = fig.add_subplot()
    total_max = float(np.nanmax(med["voice-to-voice"].to_numpy())) / 1000
    for i, (variant, row) in enumerate(med.iterrows()):
        left = 0.0
        for lbl, color in segs:
            w = row[lbl]
            if not np.isfinite(w) or w <= 0:
                continue
            w /= 1000
            ax.barh(i, w, left=left, height=0.6, color=color, edgecolor="white", lw=1,
                    hatch="//" if lbl == "other" else None)
            if w > 0.07 * total_max:
                ax.text(left + w / 2, i, f"{w:.2f}", ha="center", va="center", fontsize=8,
                        color="#222" if lbl in ("other", "endpoint delay") else "white")
            left += w
        ax.text(left + total_max * 0.01, i, f"p50 voice-to-voice {format_seconds(row['voice-to-voice'])}",
                va="center", fontsize=8.5, fontweight="bold")
    ax.set_yticks(range(len(med)), list(med.index))
    ax.set_ylim(len(med) - 0.5, -0.5)
    ax.set_xlim(0, total_max * 1.3)
    ax.set_xlabel("seconds (medians over non-warm-up turns)")
    style_axes(ax, axis="x")
    ax.legend(handles=[Patch(facecolor=c, hatch="//" if lbl == "other" else None, edgecolor="white",
                             label=lbl if lbl != "other" else "other (hand-offs, speaker frame)")
                       for lbl, c in segs],
              loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(med) < 3 else -0.2), ncol=5,
              fontsize=8, frameon=False)
    ax.set_title("Where the median voice-to-voice time goes", loc="left", fontsize=10)
    return fig
