"""The per-turn stage timeline, shown by both reports, and which turns get one.

:func:`timeline_figure` draws one turn on the session clock, one lane per stage
(:data:`LANES`). The run report shows the turns :func:`select_timeline_turns` picks
(at most :data:`MAX_TIMELINES`); the sweep report shows the turn
:func:`representative_turn` picks (closest to its point's median voice-to-voice).
All times come from the trace; nothing here measures anything.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from voicelab.events import (
    ChunkTriggered,
    LLMFinished,
    LLMStarted,
    PlaybackStall,
    PlaybackStarted,
    PlaybackStopped,
    SpeechEnded,
    STTStarted,
    Trace,
    TranscriptFinal,
    TTSAudio,
    TTSStarted,
    TurnPlanned,
    WordEmitted,
)
from voicelab.reports.frames import V2V, live_rows, numeric, unique_in_order
from voicelab.reports.style import FONT, STAGE_COLORS, format_seconds, style_axes, truncate

__all__ = ["LANES", "MAX_TIMELINES", "representative_turn", "select_timeline_turns", "timeline_figure"]

LANES = ["user speech", "endpointing", "STT", "LLM", "trigger", "TTS", "playback"]
"""Timeline lanes, top to bottom (the y tick labels of :func:`timeline_figure`)."""

MAX_TIMELINES = 12
"""At most this many per-turn timelines go into one report (keeps the HTML small)."""


@matplotlib.rc_context(FONT)
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
            label = truncate(c.text, max_chars)
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
        ax.text((x(plan.speech_end_ms) + p0) / 2, y_arrow - 0.18, f"voice-to-voice {format_seconds(v2v)}",
                ha="center", va="bottom", fontsize=8.5, fontweight="bold", color="#222")

    ax.set_yticks(range(len(LANES)), LANES)
    for lbl in ax.get_yticklabels():
        lbl.set_color(STAGE_COLORS.get(lbl.get_text(), "#222"))
        lbl.set_fontweight("bold")
    ax.set_ylim(len(LANES) - 0.45, -1.55)
    ax.set_xlim(*xlim)
    ax.set_xlabel(f"seconds since the clip started (session t = {t0 / 1000:.3f} s)")
    style_axes(ax, axis="x", hide=("top", "right", "left"))
    ax.tick_params(axis="y", length=0)

    warm = " (warm-up)" if plan.warmup else ""
    heard = transcript.text if transcript is not None else "—"
    said = llm1.text if llm1 is not None else " ".join(w.text for w in words) or "—"
    ax.set_title(f"{plan.clip}  ·  {plan.variant}  ·  turn {plan.turn}{warm}\n"
                 f"heard: “{truncate(heard, 90)}”\nsaid: “{truncate(said, 90)}”",
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

# --- which turns get a timeline ----------------------------------------------------------------


def select_timeline_turns(turns: pd.DataFrame, limit: int = MAX_TIMELINES) -> tuple[list[int], str]:
    """Which turns get a timeline, and a sentence saying so.

    Every non-warm-up turn when there are at most ``limit``; otherwise the turns of
    the first clip for each variant (then the first ``limit`` of those).
    """
    live = live_rows(turns)
    if live.empty or "turn" not in live:
        return [], "No non-warm-up turns."
    all_turns = [int(t) for t in live["turn"]]
    if len(all_turns) <= limit:
        return all_turns, f"All {len(all_turns)} non-warm-up turns are shown."
    clip = live["clip"].iloc[0]
    chosen = [int(t) for t in live.loc[live["clip"] == clip, "turn"]][:limit]
    return chosen, (f"Showing {len(chosen)} of {len(all_turns)} non-warm-up turns: those of clip "
                    f"“{clip}” (one per variant), turns {', '.join(map(str, chosen))}.")


def representative_turn(results: pd.DataFrame, point: str | None = None) -> pd.Series | None:
    """The non-warm-up turn of ``point`` whose voice-to-voice latency is closest to its median.

    ``point`` defaults to the first point (order of appearance) with a voice-to-voice
    value. Ties (with an even number of turns the two middle ones always tie) go to
    the row that comes first in the table. Returns the row, or None when no turn
    has a voice-to-voice value.
    """
    live = live_rows(results)
    if V2V not in live or "point" not in live:
        return None
    candidates = [point] if point is not None else unique_in_order(results, "point")
    for p in candidates:
        g = live[(live["point"] == p) & numeric(live[V2V]).notna()]
        if g.empty:
            continue
        v = numeric(g[V2V]).to_numpy()
        return g.iloc[int(np.argmin(np.abs(v - np.median(v))))]
    return None
