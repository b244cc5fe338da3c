"""Plots and the self-contained HTML latency report.

Responsibilities:

1. Figure builders that notebooks can show directly: :func:`timeline_figure` (one
   turn, one lane per stage on the session clock), :func:`latency_comparison_figure`
   (distributions of the key latencies per variant) and :func:`critical_path_figure`
   (where the median voice-to-voice time goes).
2. :func:`write_report`: one HTML file with no external resources (inline CSS, plots
   as inline base64 PNG), stating the machine, thread counts, versions and config.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state) and
rendered with the Agg canvas, so this works headless. All times come from the trace
or the turns table (:mod:`voicelab.metrics`); nothing here measures anything.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from voicelab.events import (
    ChunkTriggered, LLMFinished, LLMStarted, PlaybackStall, PlaybackStarted, PlaybackStopped,
    SpeechEnded, STTStarted, Trace, TranscriptFinal, TTSAudio, TTSStarted, TurnPlanned, WordEmitted,
)
from voicelab.metrics import LATENCY_COLUMNS, summarize

__all__ = [
    "KEY_LATENCIES", "LANES", "STAGE_COLORS", "critical_path_figure", "format_ms", "latency_comparison_figure",
    "render_html", "timeline_figure", "write_report",
]

LANES = ["user speech", "endpointing", "STT", "LLM", "trigger", "TTS", "playback"]
"""Timeline lanes, top to bottom (the y tick labels of :func:`timeline_figure`)."""

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

KEY_LATENCIES = [
    "voice_to_voice_latency_ms", "first_word_latency_ms", "trigger_wait_ms", "tts_ttfb_ms",
    "word_to_audio_latency_ms", "endpoint_delay_ms", "stt_latency_ms", "framework_overhead_ms",
]
"""Columns shown by :func:`latency_comparison_figure` (top to bottom)."""

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

MAX_TIMELINES = 12
"""At most this many per-turn timelines go into one report (keeps the HTML small)."""

_FONT = {"font.size": 9}


# --- small helpers ----------------------------------------------------------------------------


def _truncate(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: max(n - 1, 1)].rstrip() + "…"


def _variant_colors(variants: Sequence[str]) -> dict[str, str]:
    return {v: VARIANT_COLORS[i % len(VARIANT_COLORS)] for i, v in enumerate(variants)}


def _live(turns: pd.DataFrame) -> pd.DataFrame:
    """Non-warm-up rows (all rows if there is no ``warmup`` column)."""
    if turns.empty or "warmup" not in turns:
        return turns
    return turns[~turns["warmup"].astype(bool)]


def _variants(turns: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(turns["variant"])) if "variant" in turns else []


def empty_figure(message: str, size=(8.0, 1.6)) -> Figure:
    """A placeholder figure that states why there is nothing to plot."""
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#666", fontsize=10)
    ax.set_axis_off()
    return fig


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


def _fmt_s(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if abs(ms) >= 1000 else f"{ms:.0f} ms"


def figure_to_png_base64(fig: Figure, dpi: int = 110) -> str:
    """Render ``fig`` with the Agg canvas to PNG and return it base64-encoded (ASCII).

    PNG metadata is stripped (matplotlib writes its URL into ``Software`` otherwise).
    """
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --- per-turn timeline -----------------------------------------------------------------------


@matplotlib.rc_context(_FONT)
def timeline_figure(trace: Trace, turn: int, *, width: float = 11.0) -> Figure:
    """One turn on the session clock, one lane per stage (see :data:`LANES`).

    x is seconds relative to the turn's :class:`TurnPlanned` ``t_ms`` (the clip's first
    sample). Lanes: true user speech; endpointing (true speech end -> ``SpeechEnded``);
    STT call; LLM call with a tick per :class:`WordEmitted`; a marker per
    :class:`ChunkTriggered` (labelled with its text where it fits); one bar per TTS
    request (``TTSStarted`` -> ``TTSAudio``); played audio per request (until its audio
    runs out, the next request starts or playback stops) with stalls in red. The
    voice-to-voice latency is the arrow from true speech end to the first played sample.

    Raises:
        KeyError: the trace has no :class:`TurnPlanned` for ``turn``.
    """
    plans = trace.of(TurnPlanned, turn)
    if not plans:
        raise KeyError(f"turn {turn} is not in the trace")
    plan = plans[0]
    t0 = plan.t_ms

    def x(t_ms: float) -> float:
        return (t_ms - t0) / 1000.0

    def first(kind):
        evs = trace.of(kind, turn)
        return evs[0] if evs else None

    ended, stt0, transcript = first(SpeechEnded), first(STTStarted), first(TranscriptFinal)
    llm0, llm1 = first(LLMStarted), first(LLMFinished)
    words, chunks = trace.of(WordEmitted, turn), trace.of(ChunkTriggered, turn)
    tts0, tts1 = trace.of(TTSStarted, turn), {a.request: a for a in trace.of(TTSAudio, turn)}
    plays, stalls = trace.of(PlaybackStarted, turn), trace.of(PlaybackStall, turn)
    stopped = first(PlaybackStopped)

    y = {lane: i for i, lane in enumerate(LANES)}
    h = 0.56
    times = [plan.t_ms, plan.speech_start_ms, plan.speech_end_ms]
    times += [e.t_ms for e in (ended, stt0, transcript, llm0, llm1, stopped) if e is not None]
    times += [e.t_ms for e in (*words, *chunks, *tts0, *tts1.values(), *plays)]
    times += [s.t_ms + s.duration_ms for s in stalls]
    lo, hi = x(min(times)), x(max(times))
    span = max(hi - lo, 0.5)
    xlim = (lo - 0.02 * span, hi + 0.04 * span)

    fig = Figure(figsize=(width, 4.4), layout="constrained")
    ax = fig.add_subplot()

    def bar(lane: str, a: float | None, b: float | None, color: str | None = None, **kw) -> None:
        if a is None or b is None:
            return
        kw.setdefault("edgecolor", "white")
        kw.setdefault("linewidth", 0.8)
        ax.barh(y[lane], max(x(b) - x(a), span * 0.002), left=x(a), height=kw.pop("height", h),
                color=color or STAGE_COLORS[lane], **kw)

    bar("user speech", plan.speech_start_ms, plan.speech_end_ms)
    if ended is not None:
        bar("endpointing", plan.speech_end_ms, ended.t_ms)
        if ended.decided_ms != ended.t_ms:
            ax.vlines(x(ended.decided_ms), y["endpointing"] - h / 2, y["endpointing"] + h / 2,
                      color="#555", lw=1, linestyles=":")
    if stt0 is not None and transcript is not None:
        bar("STT", stt0.t_ms, transcript.t_ms)
    if llm0 is not None:
        end = llm1.t_ms if llm1 is not None else max([w.t_ms for w in words] or [llm0.t_ms])
        bar("LLM", llm0.t_ms, end, hatch="//" if (llm1 is not None and llm1.cancelled) else None)
    if words:
        ax.vlines([x(w.t_ms) for w in words], y["LLM"] - h / 2, y["LLM"] + h / 2,
                  color="#0B3D36", lw=1.1)

    # trigger markers, with labels greedily placed above/below them where they fit
    if chunks:
        cx = [x(c.t_ms) for c in chunks]
        ax.plot(cx, [y["trigger"]] * len(cx), marker="v", ls="none", ms=7,
                color=STAGE_COLORS["trigger"], markeredgecolor="#6B5200")
        ax_width_pt = width * 0.8 * 72
        data_per_char = (xlim[1] - xlim[0]) / ax_width_pt * 7 * 0.6  # 7-pt font, ~0.6 em per char
        max_chars = 22 if len(chunks) <= 6 else 14
        free = [-math.inf] * 2
        offsets = [-0.3, 0.3]
        for c, cxi in zip(chunks, cx):
            label = _truncate(c.text, max_chars)
            for level in range(2):
                if cxi > free[level]:
                    ax.text(cxi - data_per_char * 0.5, y["trigger"] + offsets[level], label,
                            fontsize=7, va="center", ha="left", color="#4A3B00", clip_on=True)
                    free[level] = cxi + data_per_char * (len(label) + 2)
                    break

    for i, r in enumerate(tts0):
        audio = tts1.get(r.request)
        if audio is not None:
            bar("TTS", r.t_ms, audio.t_ms, alpha=1.0 if i % 2 == 0 else 0.7)

    # playback: each request from its first sample until its audio ends / next request / stop
    for i, p in enumerate(plays):
        ends = []
        if i + 1 < len(plays):
            ends.append(plays[i + 1].t_ms)
        if stopped is not None and stopped.t_ms > p.t_ms:
            ends.append(stopped.t_ms)
        audio = tts1.get(p.request)
        if audio is not None and audio.sample_rate:
            ends.append(p.t_ms + audio.samples / audio.sample_rate * 1000.0)
        end = min(ends) if ends else p.t_ms
        bar("playback", p.t_ms, end, alpha=1.0 if i % 2 == 0 else 0.75)
    for s in stalls:
        bar("playback", s.t_ms, s.t_ms + s.duration_ms, color=STAGE_COLORS["stall"])

    # voice-to-voice arrow above the lanes, from true speech end to first played sample
    y_arrow = -0.95
    ax.axvline(x(plan.speech_end_ms), color="#333", lw=0.8, ls=":", alpha=0.6)
    if plays:
        p0 = x(plays[0].t_ms)
        ax.axvline(p0, color="#333", lw=0.8, ls=":", alpha=0.6)
        ax.annotate("", xy=(p0, y_arrow), xytext=(x(plan.speech_end_ms), y_arrow),
                    arrowprops=dict(arrowstyle="-|>", color="#222", lw=1.3, shrinkA=0, shrinkB=0))
        v2v = plays[0].t_ms - plan.speech_end_ms
        ax.text((x(plan.speech_end_ms) + p0) / 2, y_arrow - 0.18, f"voice-to-voice {_fmt_s(v2v)}",
                ha="center", va="bottom", fontsize=8.5, fontweight="bold", color="#222")

    ax.set_yticks(range(len(LANES)), LANES)
    for lbl in ax.get_yticklabels():
        lbl.set_color(STAGE_COLORS.get(lbl.get_text(), "#222"))
        lbl.set_fontweight("bold")
    ax.set_ylim(len(LANES) - 0.45, -1.55)
    ax.set_xlim(*xlim)
    ax.set_xlabel(f"seconds since the clip started (session t = {t0 / 1000:.3f} s)")
    ax.grid(axis="x", color="#E5E7EB", lw=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)

    warm = " (warm-up)" if plan.warmup else ""
    heard = transcript.text if transcript is not None else "—"
    said = llm1.text if llm1 is not None else " ".join(w.text for w in words) or "—"
    ax.set_title(f"{plan.clip}  ·  {plan.variant}  ·  turn {plan.turn}{warm}\n"
                 f"heard: “{_truncate(heard, 90)}”\nsaid: “{_truncate(said, 90)}”",
                 loc="left", fontsize=9.5)
    handles = [
        Line2D([], [], color="#0B3D36", marker="|", ls="none", ms=9, label="word emitted"),
        Line2D([], [], color=STAGE_COLORS["trigger"], marker="v", ls="none", ms=7,
               markeredgecolor="#6B5200", label="chunk triggered (text)"),
        Patch(color=STAGE_COLORS["stall"], label="playback stall"),
        Line2D([], [], color="#333", ls=":", label="true speech end / first audio played"),
    ]
    if ended is not None and ended.decided_ms != ended.t_ms:
        handles.append(Line2D([], [], color="#555", ls=":", lw=1.5, label="endpoint decision frame"))
    fig.legend(handles=handles, loc="outside lower center", fontsize=7.5, frameon=False,
               ncol=len(handles))
    return fig


# --- distributions over turns ------------------------------------------------------------


@matplotlib.rc_context(_FONT)
def latency_comparison_figure(turns: pd.DataFrame, columns: Sequence[str] = KEY_LATENCIES,
                              ncols: int = 2) -> Figure:
    """Per-turn values of ``columns`` (ms) over non-warm-up turns, one panel per column.

    Each panel has its own linear x axis (stage latencies differ by 100x, and
    ``framework_overhead_ms`` can be zero or negative, which rules out a shared log
    axis); one row per variant: a box (quartiles, 1.5 IQR whiskers) with the turns as
    dots and the median written at the right.
    """
    live = _live(turns)
    columns = [c for c in columns if c in live]
    variants = _variants(live)
    if live.empty or not columns or not variants:
        return empty_figure("no non-warm-up turns to plot")
    colors = _variant_colors(variants)
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
        ax.grid(axis="x", color="#E5E7EB", lw=0.7)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
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
    live = _live(turns)
    rows = {}
    for v in _variants(live):
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


@matplotlib.rc_context(_FONT)
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
        ax.text(left + total_max * 0.01, i, f"p50 voice-to-voice {_fmt_s(row['voice-to-voice'])}",
                va="center", fontsize=8.5, fontweight="bold")
    ax.set_yticks(range(len(med)), list(med.index))
    ax.set_ylim(len(med) - 0.5, -0.5)
    ax.set_xlim(0, total_max * 1.3)
    ax.set_xlabel("seconds (medians over non-warm-up turns)")
    ax.grid(axis="x", color="#E5E7EB", lw=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(handles=[Patch(facecolor=c, hatch="//" if lbl == "other" else None, edgecolor="white",
                             label=lbl if lbl != "other" else "other (hand-offs, speaker frame)")
                       for lbl, c in segs],
              loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(med) < 3 else -0.2), ncol=5,
              fontsize=8, frameon=False)
    ax.set_title("Where the median voice-to-voice time goes", loc="left", fontsize=10)
    return fig


# --- HTML ----------------------------------------------------------------------------------------


_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1F2937;
max-width:1180px;margin:24px auto;padding:0 20px;line-height:1.45;font-size:14px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 8px;border-bottom:2px solid #E5E7EB;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px;color:#374151}
.sub{color:#6B7280;margin:0 0 16px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px}
th,td{border-bottom:1px solid #E5E7EB;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#F3F4F6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-size:12px;color:#374151}
.env{display:flex;flex-wrap:wrap;gap:8px 28px}.env table{min-width:260px}
.headline{font-size:15px;background:#ECFDF5;border-left:4px solid #10B981;padding:8px 12px;margin:10px 0}
.scroll{overflow-x:auto}
tr.warmup td{color:#9CA3AF;background:#FAFAFA}
.badge{display:inline-block;font-size:10.5px;padding:0 6px;border-radius:8px;background:#E5E7EB;color:#4B5563}
figure{margin:10px 0 22px}figure img{max-width:100%;height:auto;border:1px solid #F3F4F6}
figcaption{color:#6B7280;font-size:12.5px}
pre{background:#F9FAFB;border:1px solid #E5E7EB;padding:10px;font-size:12px;overflow-x:auto}
td.text{max-width:320px;min-width:160px}
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _kv_table(title: str, d: dict) -> str:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            v = ", ".join(f"{kk}={vv}" for kk, vv in v.items())
        elif isinstance(v, float):
            v = f"{v:,.1f}"
        rows.append(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>")
    return f"<table><tr><th colspan=2>{_e(title)}</th></tr>{''.join(rows)}</table>"


def _img(fig: Figure, alt: str, caption: str = "", dpi: int = 110) -> str:
    data = figure_to_png_base64(fig, dpi=dpi)
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _headline_table(metrics: dict) -> str:
    variants = list(metrics)
    head = "<tr><th rowspan=2>metric</th>" + "".join(
        f"<th colspan=3 class=num>{_e(v)}</th>" for v in variants) + "</tr><tr>" + \
        "<th class=num>p50</th><th class=num>p90</th><th class=num>n</th>" * len(variants) + "</tr>"
    rows = []
    for col in LATENCY_COLUMNS:
        cells = []
        for v in variants:
            st = (metrics.get(v) or {}).get(col) or {}
            cells.append(f"<td class=num>{format_ms(st.get('p50'))}</td><td class=num>{format_ms(st.get('p90'))}"
                         f"</td><td class=num>{_e(st.get('n', '–'))}</td>")
        rows.append(f"<tr><td>{_e(LABELS.get(col, col))}<br><code>{_e(col)}</code></td>{''.join(cells)}</tr>")
    return f"<div class=scroll><table>{head}{''.join(rows)}</table></div>"


def _streaming_sentences(svb: dict) -> list[str]:
    out = []
    for variant, r in (svb or {}).items():
        try:
            speed, b, s = float(r["speedup"]), float(r["baseline_v2v_p50_ms"]), float(r["v2v_p50_ms"])
        except (KeyError, TypeError, ValueError):
            continue
        if not all(map(math.isfinite, (speed, b, s))) or speed <= 0:
            continue
        how = f"{speed:.1f}x sooner" if speed >= 1 else f"{1 / speed:.1f}x later"
        out.append(f"{variant}: first audio {how} than the whole-response baseline "
                   f"({r.get('baseline', 'baseline')}) "
                   f"(p50 voice-to-voice {s / 1000:.2f} s vs {b / 1000:.2f} s).")
    return out


def _turns_table(turns: pd.DataFrame) -> str:
    if turns.empty:
        return "<p>No turns.</p>"
    ms_cols = [c for c in turns.columns if c.endswith("_ms")]
    text_cols = [c for c in ("clip", "turn", "variant", "transcript", "response_text") if c in turns]
    head = "".join(f"<th>{_e(c)}</th>" for c in text_cols) + "".join(
        f"<th class=num>{_e(c)}</th>" for c in ms_cols)
    rows = []
    for _, r in turns.iterrows():
        warm = bool(r.get("warmup", False))
        cells = []
        for c in text_cols:
            val = _e(r[c])
            if c == "variant" and warm:
                val += " <span class=badge>warm-up</span>"
            cls = " class=text" if c in ("transcript", "response_text") else ""
            cells.append(f"<td{cls}>{val}</td>")
        for c in ms_cols:
            v = r[c]
            cells.append(f"<td class=num>{'–' if pd.isna(v) else f'{float(v):.1f}'}</td>")
        rows.append(f"<tr{' class=warmup' if warm else ''}>{''.join(cells)}</tr>")
    return f"<div class=scroll><table><tr>{head}</tr>{''.join(rows)}</table></div>"


def select_timeline_turns(turns: pd.DataFrame, limit: int = MAX_TIMELINES) -> tuple[list[int], str]:
    """Which turns get a timeline, and a sentence saying so.

    Every non-warm-up turn when there are at most ``limit``; otherwise the turns of
    the first clip for each variant (then the first ``limit`` of those).
    """
    live = _live(turns)
    if live.empty or "turn" not in live:
        return [], "No non-warm-up turns."
    all_turns = [int(t) for t in live["turn"]]
    if len(all_turns) <= limit:
        return all_turns, f"All {len(all_turns)} non-warm-up turns are shown."
    clip = live["clip"].iloc[0]
    chosen = [int(t) for t in live.loc[live["clip"] == clip, "turn"]][:limit]
    return chosen, (f"Showing {len(chosen)} of {len(all_turns)} non-warm-up turns: those of clip "
                    f"“{clip}” (one per variant), turns {', '.join(map(str, chosen))}.")


def render_html(trace: Trace, turns: pd.DataFrame, summary: dict) -> str:
    """The report as one self-contained HTML string (see :func:`write_report`)."""
    summary = summary or {}
    name = summary.get("name") or "voicelab experiment"
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f"<title>{_e(name)} · voicelab report</title><style>{_CSS}</style></head><body>"]
    parts.append(f"<h1>{_e(name)}</h1>")
    sub = [f"created {summary['created']}"] if summary.get("created") else []
    if isinstance(summary.get("peak_rss_mib"), (int, float)):
        sub.append(f"peak RSS {summary['peak_rss_mib']:,.0f} MiB")
    if len(turns):
        n_warm = int(turns["warmup"].astype(bool).sum()) if "warmup" in turns else 0
        sub.append(f"{len(turns)} turns ({n_warm} warm-up, excluded from statistics)")
    parts.append(f"<p class=sub>{_e(' · '.join(sub))}</p>")

    # environment stamp
    env = []
    for key, title in (("machine", "machine"), ("threads", "threads"), ("versions", "versions"),
                       ("models", "models")):
        if isinstance(summary.get(key), dict) and summary[key]:
            env.append(_kv_table(title, summary[key]))
    known = {"name", "created", "peak_rss_mib", "machine", "threads", "versions", "models", "config",
             "metrics", "streaming_vs_baseline"}
    run = {k: v for k, v in summary.items() if k not in known and not isinstance(v, (dict, list))}
    if run:
        env.append(_kv_table("run", run))
    if env:
        parts.append("<h2>Environment</h2><div class=env>" + "".join(env) + "</div>")
    if summary.get("config") is not None:
        cfg = json.dumps(summary["config"], indent=2, default=str)
        parts.append(f"<details><summary>config</summary><pre>{_e(cfg)}</pre></details>")

    # headline
    metrics = summary.get("metrics")
    parts.append("<h2>Headline latencies</h2>")
    if not metrics and len(turns) and "warmup" in turns:
        metrics = summarize(turns)
        parts.append("<p class=sub>(computed from the turns table: the summary has no metrics)</p>")
    for sentence in _streaming_sentences(summary.get("streaming_vs_baseline")):
        parts.append(f"<p class=headline>{_e(sentence)}</p>")
    if metrics:
        parts.append("<p class=sub>Milliseconds, percentiles over non-warm-up turns; n = turns "
                     "with a value.</p>" + _headline_table(metrics))
    else:
        parts.append("<p>No metrics.</p>")

    # charts
    parts.append("<h2>Latency comparison</h2>")
    parts.append(_img(latency_comparison_figure(turns), "key latencies per variant",
                      "Per-turn values over non-warm-up turns, in ms."))
    parts.append(_img(critical_path_figure(turns), "median critical path per variant",
                      "Stacked medians: endpoint delay, STT, LLM to first chunk (first word + trigger "
                      "wait), TTS TTFB; other = median voice-to-voice minus those."))

    # timelines
    parts.append("<h2>Per-turn timelines</h2>")
    chosen, note = select_timeline_turns(turns)
    parts.append(f"<p class=sub>{_e(note)} Red spans on the playback lane are stalls; the arrow is "
                 f"voice-to-voice (true speech end to first played sample).</p>")
    planned = {p.turn for p in trace.of(TurnPlanned)}
    for t in chosen:
        if t in planned:
            parts.append(_img(timeline_figure(trace, t), f"timeline of turn {t}", dpi=100))

    parts.append("<h2>Turns</h2><p class=sub>All times in ms; warm-up turns greyed.</p>")
    parts.append(_turns_table(turns))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: Path, trace: Trace, turns: pd.DataFrame, summary: dict) -> Path:
    """Write the self-contained HTML latency report and return its path.

    Args:
        path: output ``.html`` file (parent directories are created).
        trace: the session trace (for the per-turn timelines).
        turns: :func:`voicelab.metrics.turns_table` output (warm-up rows included).
        summary: the run summary (``name``, ``created``, ``machine``, ``threads``,
            ``versions``, ``models``, ``peak_rss_mib``, ``config``, ``metrics`` =
            :func:`voicelab.metrics.summarize` output, optional
            ``streaming_vs_baseline``); missing keys are skipped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(trace, turns, summary), encoding="utf-8")
    return path
