"""Run-report figures over the turns table: key latencies per variant.

:func:`latency_comparison_figure` shows the distributions of :data:`KEY_LATENCIES`
per variant over non-warm-up turns of :func:`voicelab.measure.metrics.turns_table`
(the critical path has its own module, :mod:`voicelab.reports.critical_path`);
nothing here measures anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from voicelab.events import AECCalibration, AECWindow, PlaybackStarted, PlaybackStopped, Trace
from voicelab.measure.echo import erle_db
from voicelab.reports.frames import live_rows, unique_in_order
from voicelab.reports.style import FONT, LABELS, empty_figure, format_ms, style_axes, variant_colors

__all__ = ["KEY_LATENCIES", "echo_cancellation_figure", "latency_comparison_figure"]

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


@matplotlib.rc_context(FONT)
def echo_cancellation_figure(trace: Trace) -> Figure:
    """The echo canceller over the session: ERLE (dB) of each 320 ms window with echo-only
    frames (:class:`~voicelab.events.AECWindow`), the agent's replies and the calibration
    noise shaded, and its CPU time per 32 ms frame in each window (ms) below."""
    windows = trace.of(AECWindow)
    if not windows:
        return empty_figure("no echo cancellation in this session")
    fig = Figure(figsize=(11.0, 3.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    t = np.array([w.t_ms for w in windows]) / 1000.0
    erle = np.array([erle_db(w.mic_energy, w.out_energy) if w.echo_only_frames else np.nan for w in windows])
    for p in trace.of(PlaybackStarted):
        stops = [s for s in trace.of(PlaybackStopped, p.turn) if s.t_ms >= p.t_ms]
        if stops:
            for ax in (top, bottom):
                ax.axvspan(p.t_ms / 1000.0, stops[0].t_ms / 1000.0, color="0.92", lw=0, zorder=0)
    for c in trace.of(AECCalibration):
        for ax in (top, bottom):
            ax.axvspan(c.t_ms / 1000.0, (c.t_ms + c.duration_ms) / 1000.0, color="#ddf4ff", lw=0, zorder=0)
    top.plot(t, erle, marker="o", ms=2.5, lw=1.0, color="#1f6feb")
    top.set_ylabel("ERLE (dB)")
    top.set_title("Echo cancellation: ERLE per 320 ms of echo-only frames (grey: the agent's replies; "
                  "blue: calibration noise)",
                  loc="left", fontsize=9, fontweight="bold")
    bottom.plot(t, [w.cpu_ms / w.frames if w.frames else np.nan for w in windows], lw=1.0, color="#8250df")
    bottom.set_ylabel("CPU ms / frame")
    bottom.set_xlabel("session time (s)")
    for ax in (top, bottom):
        style_axes(ax, axis="y")
    return fig
