"""The side-by-side section of a run with peer engines (e.g. voicelab vs Pipecat).

A table of :func:`voicelab.measure.peer_metrics.engine_comparison`, the voice-to-voice ratio of
voicelab's best variant to the best peer's, and a figure of every turn's measured
voice-to-voice with each peer's self-reported figure beside it.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from voicelab.measure.peer_metrics import engine_comparison
from voicelab.reports.frames import live_rows
from voicelab.reports.html import md_table
from voicelab.reports.style import FONT, empty_figure, figure_to_png, format_ms, style_axes, variant_colors

HEADER = ["variant", "engine", "turns", "V2V p50 [95% CI]", "V2V p95 [95% CI]", "first word p50", "word-to-audio p50",
          "stall p50", "turns with a stall", "turns with a false start", "round-trip WER p50", "self-reported V2V p50",
          "self-report error p50 [min, max]"]


def has_peers(turns: pd.DataFrame) -> bool:
    """True when some turn was answered by an engine other than voicelab's."""
    return "engine" in turns and bool((turns["engine"] != "voicelab").any())


def v2v_ratio(table: pd.DataFrame) -> dict | None:
    """voicelab's lowest V2V p50 over the best peer's (below 1: voicelab answers sooner);
    None without both engines."""
    own = table[table["engine"] == "voicelab"]["v2v_p50_ms"].dropna()
    peers = table[table["engine"] != "voicelab"]["v2v_p50_ms"].dropna()
    if own.empty or peers.empty:
        return None
    return {"voicelab_variant": own.idxmin(), "voicelab_v2v_p50_ms": float(own.min()),
            "peer_variant": peers.idxmin(), "peer_v2v_p50_ms": float(peers.min()),
            "ratio": float(own.min() / peers.min())}


def _fmt(v: float, digits: int = 0, unit: str = "") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}{unit}"


def _ci(est: float, lo: float, hi: float) -> str:
    if any(math.isnan(v) for v in (lo, hi)) or format_ms(est) == "–":
        return format_ms(est)
    return f"{format_ms(est)} [{format_ms(lo)}, {format_ms(hi)}]"


def table_rows(table: pd.DataFrame) -> list[list[str]]:
    """The side-by-side table's cells (:data:`HEADER`); CIs resample clips."""
    rows = []
    for variant, r in table.iterrows():
        err = "–" if math.isnan(r["reported_error_p50_ms"]) else (
            f"{r['reported_error_p50_ms']:+.0f} [{r['reported_error_min_ms']:+.0f}, {r['reported_error_max_ms']:+.0f}]")
        rows.append([variant, r["engine"], str(r["turns"]),
                     _ci(r["v2v_p50_ms"], r["v2v_p50_lo_ms"], r["v2v_p50_hi_ms"]),
                     _ci(r["v2v_p95_ms"], r["v2v_p95_lo_ms"], r["v2v_p95_hi_ms"]),
                     format_ms(r["first_word_p50_ms"]), format_ms(r["word_to_audio_p50_ms"]),
                     format_ms(r["stall_p50_ms"]), _fmt(100 * r["turns_with_stall"], 0, " %"),
                     _fmt(100 * r["turns_with_false_start"], 0, " %"),
                     _fmt(r["roundtrip_wer_p50"], 3), format_ms(r["reported_v2v_p50_ms"]), err])
    return rows


@matplotlib.rc_context(FONT)
def engines_figure(turns: pd.DataFrame) -> Figure:
    """Measured voice-to-voice per turn (dots) and box per variant; hollow diamonds: the
    peer's self-reported figure for the same turn."""
    live = live_rows(turns)
    variants = list(dict.fromkeys(live["variant"]))
    if not variants:
        return empty_figure("no non-warm-up turns to plot")
    colors = variant_colors(variants)
    fig = Figure(figsize=(8.0, 1.2 + 0.55 * len(variants)))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for i, v in enumerate(variants):
        g = live[live["variant"] == v]
        vals = g["voice_to_voice_latency_ms"].dropna().to_numpy(dtype=float) / 1000.0
        if len(vals):
            ax.boxplot(vals, positions=[i], orientation="horizontal", widths=0.5, showfliers=False,
                       medianprops={"color": "black"})
            ax.scatter(vals, i + rng.uniform(-0.12, 0.12, len(vals)), s=14, color=colors[v], zorder=3,
                       label="measured (true speech end -> first played sample)" if i == 0 else None)
        if "peer_reported_v2v_ms" in g:
            rep = g["peer_reported_v2v_ms"].dropna().to_numpy(dtype=float) / 1000.0
            if len(rep):
                ax.scatter(rep, np.full(len(rep), i + 0.3), s=22, marker="D", facecolors="none",
                           edgecolors=colors[v], zorder=3, label="self-reported by the framework")
    ax.set_yticks(range(len(variants)), variants)
    ax.set_xlabel("voice-to-voice (s)")
    ax.set_ylim(-0.6, len(variants) - 0.4)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        seen = dict(zip(labels, handles))
        ax.legend(seen.values(), seen.keys(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    style_axes(ax, "x")
    fig.tight_layout()
    return fig


def summary_block(turns: pd.DataFrame) -> dict | None:
    """The side-by-side table and ratio for ``summary.json`` (None without peers)."""
    if not has_peers(turns):
        return None
    table = engine_comparison(turns)
    clean = {v: {k: (None if isinstance(x, float) and math.isnan(x) else x) for k, x in r.items()}
             for v, r in table.to_dict(orient="index").items()}
    return {"variants": clean, "v2v_ratio": v2v_ratio(table)}


def ratio_sentence(ratio: dict | None) -> str:
    """One line: voicelab's best V2V p50 over the best peer's (empty without both)."""
    if not ratio:
        return ""
    return (f"{ratio['voicelab_variant']} / {ratio['peer_variant']} voice-to-voice p50: "
            f"{ratio['voicelab_v2v_p50_ms']:.0f} / {ratio['peer_v2v_p50_ms']:.0f} ms = {ratio['ratio']:.2f}")


def write_side_by_side(out_dir: Path, turns: pd.DataFrame) -> list[Path]:
    """With peer engines: ``engines.md`` (the side-by-side table and ratio, GFM) and
    ``engines.png`` (:func:`engines_figure`) in ``out_dir``; nothing otherwise. Returns the paths."""
    if not has_peers(turns):
        return []
    table = engine_comparison(turns)
    md = out_dir / "engines.md"
    md.write_text("Milliseconds over non-warm-up turns; brackets: 95% bootstrap intervals resampled by clip; "
                  "self-report error = the framework's own voice-to-voice minus the measured one; a false start: "
                  "the engine abandoned a reply it had begun to speak for another.\n\n"
                  + md_table(HEADER, table_rows(table)) + "\n\n" + ratio_sentence(v2v_ratio(table)) + "\n")
    png = out_dir / "engines.png"
    png.write_bytes(figure_to_png(engines_figure(turns), dpi=110))
    return [md, png]
