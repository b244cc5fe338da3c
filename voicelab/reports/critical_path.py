"""The critical path of each turn, shown by both reports: what each stage left the next to wait for.

Each turn's six ``cp_*`` columns (:data:`voicelab.measure.metrics.CRITICAL_PATH_COLUMNS`,
defined by :func:`voicelab.measure.metrics.critical_path`) split its voice-to-voice
latency into consecutive milestones: true speech end -> STT starts -> transcript ->
first LLM word -> first chunk triggered -> its first TTS audio -> first sample played.
They sum exactly to the turn's ``voice_to_voice_latency_ms``; the first is negative
when STT started before the speaker finished (a speculative or premature endpoint).

:func:`critical_path_table` gives the median of each segment and of voice-to-voice per
variant (run report) or config point (sweep report); :func:`critical_path_cells`
formats it for the HTML and Markdown tables; :func:`critical_path_turns_figure` draws
one stacked bar per turn and the median stack per variant,
:func:`critical_path_points_figure` the median stack per config point. Segments are
coloured by stage (:data:`SEGMENT_COLORS`); negative segments are drawn left of zero
and a black tick marks voice-to-voice. Warm-up rows are left out everywhere. Tables
written before the ``cp_*`` columns existed have none: :func:`has_critical_path` is
False and the reports print :data:`MISSING_NOTE` instead of the section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from voicelab.measure.metrics import CRITICAL_PATH_COLUMNS, CRITICAL_PATH_LABELS
from voicelab.reports.frames import V2V, live_rows, numeric, unique_in_order
from voicelab.reports.style import FONT, STAGE_COLORS, empty_figure, format_ms, style_axes, truncate, variant_colors

__all__ = ["MAX_TURN_BARS", "MISSING_NOTE", "SEGMENT_COLORS", "critical_path_cells", "critical_path_notes",
           "critical_path_points_figure", "critical_path_table", "critical_path_turns_figure",
           "has_critical_path"]

SEGMENT_COLORS = {
    "cp_endpoint_ms": STAGE_COLORS["endpointing"],
    "cp_stt_ms": STAGE_COLORS["STT"],
    "cp_llm_ms": STAGE_COLORS["LLM"],
    "cp_trigger_ms": STAGE_COLORS["trigger"],
    "cp_tts_ms": STAGE_COLORS["TTS"],
    "cp_playout_ms": STAGE_COLORS["playback"],
}
"""One colour per segment: the report's colour of the stage that segment waited for."""

MAX_TURN_BARS = 40
"""At most this many per-turn bars per variant in :func:`critical_path_turns_figure`."""

MISSING_NOTE = ("No critical-path columns (cp_*) in this table: it was written before they existed. "
                "Running voicelab report --rescore on the directory recomputes them from the saved traces.")
"""What a report prints instead of the section for a table without the ``cp_*`` columns."""

EXPLANATION = ("Medians over non-warm-up turns, ms. Each turn's six segments are consecutive milestones "
               "from the true speech end to the first played sample and sum exactly to its voice-to-voice "
               "latency; the medians of the segments need not sum to the median voice-to-voice. A negative "
               "first segment means STT started before the speaker had finished. n = turns with every "
               "milestone.")
"""The sentence both reports print above the table."""


def has_critical_path(df: pd.DataFrame) -> bool:
    """``df`` has all six ``cp_*`` columns (it may still have no values in them)."""
    return all(c in df for c in CRITICAL_PATH_COLUMNS)


def _complete(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with a value in every ``cp_*`` column, those columns as floats."""
    cp = df[CRITICAL_PATH_COLUMNS].apply(numeric)
    return cp[cp.notna().all(axis=1)]


def _median(s: pd.Series) -> float:
    vals = numeric(s).dropna().to_numpy()
    return float(np.percentile(vals, 50)) if len(vals) else math.nan   # as summarize() does


def critical_path_table(df: pd.DataFrame, by: str = "variant") -> pd.DataFrame:
    """Median critical path per ``by`` group (variant or point) over non-warm-up rows.

    Returns:
        Index: the groups in order of first appearance (``by`` as its name). Columns:
        the six ``cp_*`` medians (over turns with a complete path), ``voice_to_voice_latency_ms``
        (median over turns with a value, as the headline tables), ``n`` (turns with a
        complete path), ``n_v2v`` (turns with a voice-to-voice value) and ``largest``
        (the ``cp_*`` column with the largest median; None without any).
    """
    live = live_rows(df)
    groups = unique_in_order(df, by)
    rows = []
    for g in groups:
        sub = live[live[by] == g]
        cp = _complete(sub)
        row = {c: _median(cp[c]) for c in CRITICAL_PATH_COLUMNS}
        row[V2V] = _median(sub[V2V]) if V2V in sub else math.nan
        row["n"] = len(cp)
        row["n_v2v"] = int(numeric(sub[V2V]).notna().sum()) if V2V in sub else 0
        meds = pd.Series({c: row[c] for c in CRITICAL_PATH_COLUMNS}).dropna()
        row["largest"] = str(meds.idxmax()) if len(meds) else None
        rows.append(row)
    cols = CRITICAL_PATH_COLUMNS + [V2V, "n", "n_v2v", "largest"]
    return pd.DataFrame(rows, index=pd.Index(groups, name=by), columns=cols)


def critical_path_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows (group first) of the rendered table: segment medians, voice-to-voice, n."""
    header = [str(table.index.name or "")] + [CRITICAL_PATH_LABELS[c] for c in CRITICAL_PATH_COLUMNS] + \
        ["voice-to-voice p50", "n"]
    rows = [[str(g)] + [format_ms(r[c]) for c in CRITICAL_PATH_COLUMNS] + [format_ms(r[V2V]), str(int(r["n"]))]
            for g, r in table.iterrows()]
    return header, rows


def critical_path_notes(table: pd.DataFrame) -> list[str]:
    """Sentences under the table: which segment is the largest (per group, grouped by
    segment), and the groups where some turns with audio lack a milestone."""
    kind = {"variant": "variant", "point": "point"}.get(str(table.index.name), "group")
    by_seg: dict[str, list[str]] = {}
    for g, r in table.iterrows():
        if isinstance(r["largest"], str):
            by_seg.setdefault(r["largest"], []).append(
                f"{g} ({format_ms(r[r['largest']])} of {format_ms(r[V2V])} ms)")
    if not by_seg:
        return [f"No {kind} has a turn with a complete critical path"]
    if len(by_seg) == 1 and sum(map(len, by_seg.values())) == len(table):
        seg, where = next(iter(by_seg.items()))
        out = [f"The largest median segment is “{CRITICAL_PATH_LABELS[seg]}” for every {kind}: "
               + "; ".join(where)]
    else:
        out = ["The largest median segment: " + "; ".join(
            f"“{CRITICAL_PATH_LABELS[seg]}” for {', '.join(where)}" for seg, where in by_seg.items())]
    short = [f"{g} ({int(r['n'])} of {int(r['n_v2v'])})" for g, r in table.iterrows() if r["n"] < r["n_v2v"]]
    if short:
        out.append("Turns with a voice-to-voice value but a missing milestone: " + "; ".join(short))
    return out


def _stack(ax, y: float, seg: Mapping[str, float], v2v: float, height: float,
           label_min: float = math.inf) -> tuple[float, float]:
    """One stacked bar at ``y``: positive segments right of zero, negative ones left of it,
    each segment at least ``label_min`` ms wide labelled with its value; a black tick at
    ``v2v``. Returns the bar's (left end, right end)."""
    right = left = 0.0
    for col in CRITICAL_PATH_COLUMNS:
        w = seg[col]
        if not np.isfinite(w) or w == 0:
            continue
        start = right if w > 0 else left
        ax.barh(y, w, left=start, height=height, color=SEGMENT_COLORS[col], edgecolor="white", lw=0.6)
        if abs(w) >= label_min:
            ax.text(start + w / 2, y, format_ms(w), ha="center", va="center", fontsize=7.5,
                    color="#111827" if col == "cp_endpoint_ms" else "white")
        if w > 0:
            right += w
        else:
            left += w
    if np.isfinite(v2v):
        ax.plot([v2v], [y], marker="|", color="#111827", ms=height * 18, mew=1.8, zorder=4)
    return left, right


def _legend(fig: Figure) -> None:
    handles = [Patch(facecolor=SEGMENT_COLORS[c], label=CRITICAL_PATH_LABELS[c]) for c in CRITICAL_PATH_COLUMNS]
    handles.append(Line2D([], [], color="#111827", marker="|", ls="", ms=10, mew=1.8, label="voice-to-voice"))
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8, frameon=False)


def _finish_axis(ax, lo: float, hi: float) -> None:
    ax.set_xlim(min(lo, 0.0) - 0.03 * (hi - lo), hi + 0.16 * (hi - min(lo, 0.0)))
    ax.axvline(0, color="#6B7280", lw=0.8, zorder=1)
    style_axes(ax, axis="x")
    ax.tick_params(axis="y", length=0)


@matplotlib.rc_context(FONT)
def critical_path_turns_figure(turns: pd.DataFrame, max_turns: int = MAX_TURN_BARS) -> Figure:
    """One panel per variant: the median stack on top, then one bar per non-warm-up turn.

    Each bar stacks the turn's six ``cp_*`` segments (ms from the true speech end; a
    negative segment left of zero) with a black tick at its voice-to-voice latency; the
    median bar stacks the per-segment medians, its tick at the median voice-to-voice.
    Turns without a complete path are left out; at most ``max_turns`` bars per variant.
    """
    if not has_critical_path(turns):
        return empty_figure("no critical-path columns in this table")
    live = live_rows(turns)
    table = critical_path_table(turns, "variant")
    table = table[table["n"] > 0]
    if table.empty:
        return empty_figure("no non-warm-up turn with a complete critical path")
    colors = variant_colors(unique_in_order(live, "variant"))
    per = {v: live.loc[_complete(live[live["variant"] == v]).index] for v in table.index}
    nbars = [min(len(g), max_turns) + 1 for g in per.values()]
    fig = Figure(figsize=(11.0, 1.3 + sum(0.9 + 0.24 * n for n in nbars)), layout="constrained")
    axes = fig.subplots(len(table), 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [n + 1.5 for n in nbars]}).ravel()
    lo = hi = 0.0
    for ax, (v, med) in zip(axes, table.iterrows()):
        g = per[v]
        shown = g.iloc[:max_turns]
        ends = [_stack(ax, 0, med, med[V2V], 0.7)]
        ax.text(max(ends[0][1], med[V2V] if np.isfinite(med[V2V]) else 0.0), 0,
                f"  p50 voice-to-voice {format_ms(med[V2V])} ms", va="center", fontsize=8, fontweight="bold")
        labels = ["median"]
        for i, (_, r) in enumerate(shown.iterrows(), start=1):
            y = i + 0.5
            v2v = float(pd.to_numeric(r.get(V2V, math.nan), errors="coerce"))
            ends.append(_stack(ax, y, {c: float(r[c]) for c in CRITICAL_PATH_COLUMNS}, v2v, 0.6))
            labels.append(truncate(f"turn {r.get('turn', '?')} · {r.get('clip', '')}", 34))
        lo = min(lo, min(e[0] for e in ends))
        hi = max(hi, max(e[1] for e in ends), float(np.nanmax([med[V2V], 0.0])))
        ax.set_yticks([0] + [i + 0.5 for i in range(1, len(shown) + 1)], labels, fontsize=7.5)
        ax.get_yticklabels()[0].set_fontweight("bold")
        ax.set_ylim(len(shown) + 1.1, -0.6)
        more = f", first {len(shown)} shown" if len(g) > len(shown) else ""
        ax.set_title(f"{v}: {len(g)} turns{more}; median stack on top", loc="left", fontsize=9,
                     fontweight="bold", color=colors.get(v, "#111827"))
    for ax in axes:
        _finish_axis(ax, lo, hi)
    axes[-1].set_xlabel("ms from the true speech end")
    _legend(fig)
    return fig


@matplotlib.rc_context(FONT)
def critical_path_points_figure(results: pd.DataFrame, points: Sequence[str] | None = None) -> Figure:
    """The median critical path per config point (top to bottom in ``points`` order, by
    default the table's): one stacked bar of the per-segment medians (ms; negative left of
    zero), a black tick and the value at the median voice-to-voice."""
    if not has_critical_path(results):
        return empty_figure("no critical-path columns in this table")
    table = critical_path_table(results, "point")
    if points is not None:
        table = table.reindex([p for p in points if p in table.index])
    table = table[table["n"] > 0]
    if table.empty:
        return empty_figure("no non-warm-up turn with a complete critical path")
    fig = Figure(figsize=(11.0, 1.6 + 0.42 * len(table)), layout="constrained")
    ax = fig.add_subplot()
    seg = table[CRITICAL_PATH_COLUMNS]
    lo = float(seg.clip(upper=0).sum(axis=1).min())
    hi = max(float(seg.clip(lower=0).sum(axis=1).max()), float(np.nanmax(list(table[V2V]) + [0.0])))
    ends = [_stack(ax, i, r, r[V2V], 0.62, label_min=0.07 * (hi - min(lo, 0.0)))
            for i, (_, r) in enumerate(table.iterrows())]
    for i, ((_, r), (_, right)) in enumerate(zip(table.iterrows(), ends)):
        x = max(right, r[V2V]) if np.isfinite(r[V2V]) else right
        ax.text(x, i, f"  {format_ms(r[V2V])} ms", va="center", fontsize=8, fontweight="bold")
    ax.set_yticks(range(len(table)), [truncate(p, 60) for p in table.index], fontsize=8)
    ax.set_ylim(len(table) - 0.5, -0.5)
    _finish_axis(ax, lo, hi)
    ax.set_xlabel("ms from the true speech end (medians over non-warm-up turns)")
    ax.set_title("Median critical path per config point", loc="left", fontsize=10, fontweight="bold")
    _legend(fig)
    return fig
