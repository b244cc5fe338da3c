"""The look shared by every report figure: colours, labels, fonts, number formats.

One palette for both reports (:mod:`voicelab.reports.run_report` and
:mod:`voicelab.reports.sweep_report`): :data:`STAGE_COLORS` per pipeline stage,
:data:`VARIANT_COLORS` per variant or config point (with :func:`point_styles` for more
points than colours), :data:`METRIC_COLORS` per latency column, :data:`LABELS` for the
column names. Also the small helpers that turn numbers, text and figures into what
the reports print: :func:`format_ms`, :func:`format_seconds`, :func:`truncate`,
:func:`empty_figure`, :func:`style_axes` and :func:`figure_to_png_base64`.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state) and
rendered with the Agg canvas, so this works headless.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "FONT", "LABELS", "METRIC_COLORS", "STAGE_COLORS", "VARIANT_COLORS", "PointStyle", "empty_figure",
    "figure_to_png", "figure_to_png_base64", "format_ms", "format_seconds", "point_styles", "style_axes", "truncate",
    "variant_colors",
]

STAGE_COLORS = {
    "user speech": "#4C78A8",
    "endpointing": "#9AA3AF",
    "STT": "#8E6CC9",
    "LLM": "#2A9D8F",
    "trigger": "#D4A017",
    "TTS": "#F28E2B",
    "playback": "#59A14F",
    "stall": "#D62728",
    "other": "#D9DDE3",
}
"""One colour per stage, shared by every figure of the report."""

VARIANT_COLORS = ["#1F77B4", "#E4572E", "#2CA02C", "#9467BD", "#8C564B", "#E377C2", "#17BECF",
                  "#BCBD22", "#7F7F7F"]

METRIC_COLORS = {
    "voice_to_voice_latency_ms": STAGE_COLORS["playback"],
    "first_word_latency_ms": STAGE_COLORS["LLM"],
    "word_to_audio_latency_ms": STAGE_COLORS["TTS"],
    "tts_ttfb_ms": STAGE_COLORS["TTS"],
    "playback_stall_ms": STAGE_COLORS["stall"],
    "endpoint_delay_ms": STAGE_COLORS["endpointing"],
}
"""Box colours: the colour of the stage that dominates each metric (report palette)."""

LABELS = {
    "endpoint_delay_ms": "endpoint delay",
    "stt_latency_ms": "STT latency",
    "llm_ttft_ms": "LLM TTFT",
    "first_word_latency_ms": "first word (LLM)",
    "trigger_wait_ms": "trigger wait",
    "tts_ttfb_ms": "TTS TTFB",
    "word_to_audio_latency_ms": "word-to-audio",
    "voice_to_voice_latency_ms": "voice-to-voice",
    "playback_stall_ms": "playback stall",
    "framework_overhead_ms": "framework overhead",
}
"""Human labels of the latency columns."""

FONT = {"font.size": 9}
"""Matplotlib rc of every report figure (``@matplotlib.rc_context(FONT)``)."""


# --- colours per variant / point ---------------------------------------------------------------


def variant_colors(variants: Sequence[str]) -> dict[str, str]:
    return {v: VARIANT_COLORS[i % len(VARIANT_COLORS)] for i, v in enumerate(variants)}


@dataclass(frozen=True)
class PointStyle:
    color: str
    marker: str
    linestyle: str


_MARKERS = ("o", "s", "^", "D", "v", "P")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (1, 1)))


def point_styles(points: Sequence[str]) -> dict[str, PointStyle]:
    """One style per point: the colour cycles through ``VARIANT_COLORS``, and each time it
    wraps the marker and line style change, so no two of the first 54 points look alike."""
    n = len(VARIANT_COLORS)
    return {p: PointStyle(VARIANT_COLORS[i % n], _MARKERS[(i // n) % len(_MARKERS)],
                          _LINESTYLES[(i // n) % len(_LINESTYLES)]) for i, p in enumerate(points)}


# --- text and numbers ----------------------------------------------------------------------------


def truncate(text: str, n: int = 40) -> str:
    """``text`` on one line (white space folded), cut to ``n`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: max(n - 1, 1)].rstrip() + "…"


def format_ms(v) -> str:
    """Milliseconds for tables and labels: one decimal below 100 ms, whole ms from 100 ms
    up; NaN, None or a non-number -> '–'."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(v):
        return "–"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}"


def format_seconds(ms: float) -> str:
    """A duration given in ms, as ``2.24 s`` from a second up and ``640 ms`` below."""
    return f"{ms / 1000:.2f} s" if abs(ms) >= 1000 else f"{ms:.0f} ms"


# --- figures ---------------------------------------------------------------------------------------


def empty_figure(message: str, size=(8.0, 1.6)) -> Figure:
    """A placeholder figure that states why there is nothing to plot."""
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#666", fontsize=10)
    ax.set_axis_off()
    return fig


def style_axes(ax, axis: str = "both", hide: Sequence[str] = ("top", "right")) -> None:
    """Light grid lines on ``axis`` behind the data; the ``hide`` spines removed."""
    ax.grid(axis=axis, color="#E5E7EB", lw=0.7)
    ax.set_axisbelow(True)
    for side in hide:
        ax.spines[side].set_visible(False)


def figure_to_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render ``fig`` with the Agg canvas to PNG bytes.

    PNG metadata is stripped (matplotlib writes its URL into ``Software`` otherwise).
    """
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_to_png_base64(fig: Figure, dpi: int = 110) -> str:
    """:func:`figure_to_png`, base64-encoded (ASCII), for embedding in HTML."""
    return base64.b64encode(figure_to_png(fig, dpi)).decode("ascii")
