"""The self-contained HTML latency report of one run.

:func:`write_report` writes one HTML file with no external resources (inline CSS,
plots as inline base64 PNG), stating the machine, thread counts, versions and config;
:func:`render_html` returns the same document as a string. Its figures are
:func:`voicelab.reports.run_figures.latency_comparison_figure`,
:func:`voicelab.reports.critical_path.critical_path_turns_figure` (with its table of
per-variant medians; skipped with a note for a turns table without the ``cp_*``
columns), :func:`voicelab.reports.run_figures.echo_cancellation_figure` (with echo
cancellation) and one :func:`voicelab.reports.timeline.timeline_figure` per turn
:func:`voicelab.reports.timeline.select_timeline_turns` picks.

All times come from the trace or the turns table (:mod:`voicelab.measure.metrics`);
nothing here measures anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from voicelab.events import Trace, TurnPlanned
from voicelab.measure.metrics import LATENCY_COLUMNS, SIGNED_COLUMNS, summarize
from voicelab.measure.peer_metrics import engine_comparison
from voicelab.reports.critical_path import (
    EXPLANATION,
    MISSING_NOTE,
    critical_path_cells,
    critical_path_notes,
    critical_path_table,
    critical_path_turns_figure,
    has_critical_path,
)
from voicelab.reports.engines import HEADER as ENGINE_HEADER
from voicelab.reports.engines import engines_figure, has_peers, ratio_sentence, v2v_ratio, write_side_by_side
from voicelab.reports.engines import table_rows as engine_rows
from voicelab.reports.html import CSS, ENVIRONMENT_SECTIONS, escape, format_value, html_figure, html_table, kv_table
from voicelab.reports.references import REFERENCE_HEADER, reference_rows, reference_warnings
from voicelab.reports.run_figures import echo_cancellation_figure, latency_comparison_figure
from voicelab.reports.style import LABELS, figure_to_png_base64, format_ms
from voicelab.reports.timeline import select_timeline_turns, timeline_figure

__all__ = ["render_html", "write_report"]


def _kv_table(title: str, d: dict) -> str:
    return kv_table(title, ((k, format_value(v, nested=False)) for k, v in d.items()))


def _img(fig: Figure, alt: str, caption: str = "", dpi: int = 110) -> str:
    return html_figure(figure_to_png_base64(fig, dpi=dpi), alt, caption)


def _with_ci(st: dict, p: str) -> str:
    """``p50 [lo, hi]`` (the interval resamples clips; the estimate alone without one)."""
    est, lo, hi = st.get(p), st.get(f"{p}_lo"), st.get(f"{p}_hi")
    if format_ms(est) == "–" or format_ms(lo) == "–" or format_ms(hi) == "–":
        return format_ms(est)
    return f"{format_ms(est)} <span class=sub>[{format_ms(lo)}, {format_ms(hi)}]</span>"


def _headline_table(metrics: dict) -> str:
    variants = list(metrics)
    head = "<tr><th rowspan=2>metric</th>" + "".join(
        f"<th colspan=3 class=num>{escape(v)}</th>" for v in variants) + "</tr><tr>" + \
        "<th class=num>p50 [95% CI]</th><th class=num>p90 [95% CI]</th><th class=num>n</th>" * len(variants) + "</tr>"
    rows = []
    for col in LATENCY_COLUMNS:
        cells = []
        for v in variants:
            st = (metrics.get(v) or {}).get(col) or {}
            cells.append(f"<td class=num>{_with_ci(st, 'p50')}</td><td class=num>{_with_ci(st, 'p90')}"
                         f"</td><td class=num>{escape(st.get('n', '–'))}</td>")
        rows.append(f"<tr><td>{escape(LABELS.get(col, col))}<br><code>{escape(col)}</code></td>"
                    f"{''.join(cells)}</tr>")
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
    head = "".join(f"<th>{escape(c)}</th>" for c in text_cols) + "".join(
        f"<th class=num>{escape(c)}</th>" for c in ms_cols)
    rows = []
    for _, r in turns.iterrows():
        warm = bool(r.get("warmup", False))
        cells = []
        for c in text_cols:
            val = escape(r[c])
            if c == "variant" and warm:
                val += " <span class=badge>warm-up</span>"
            cls = " class=text" if c in ("transcript", "response_text") else ""
            cells.append(f"<td{cls}>{val}</td>")
        for c in ms_cols:
            v = r[c]
            cells.append(f"<td class=num>{'–' if pd.isna(v) else f'{float(v):.1f}'}</td>")
        rows.append(f"<tr{' class=warmup' if warm else ''}>{''.join(cells)}</tr>")
    return f"<div class=scroll><table><tr>{head}</tr>{''.join(rows)}</table></div>"


CRITICAL_PATH_TITLE = "Voice-to-voice and its critical path"
STAGES_TITLE = "Stage latencies"


def _signed_note() -> str:
    """Which stage columns can be negative, and why (:data:`voicelab.measure.metrics.SIGNED_COLUMNS`)."""
    items = "; ".join(f"{col}: {why}" for col, why in SIGNED_COLUMNS.items())
    return ("Each stage measured on its own clock span. These overlap and do not add up to voice-to-voice "
            "(the critical path above does). Signed columns, negative when: " + items + ".")


def _critical_path_section(turns: pd.DataFrame) -> list[str]:
    """Per variant: the median of each critical-path segment, and one stacked bar per turn."""
    parts = [f"<h2>{CRITICAL_PATH_TITLE}</h2>"]
    if not has_critical_path(turns):
        return parts + [f"<p class=sub>{escape(MISSING_NOTE)}</p>"]
    table = critical_path_table(turns, "variant")
    header, rows = critical_path_cells(table)
    parts += [f"<p class=sub>{escape(EXPLANATION)}</p>", html_table(header, rows)]
    parts += [f"<p>{escape(n)}.</p>" for n in critical_path_notes(table)]
    parts.append(_img(critical_path_turns_figure(turns), "critical path per turn",
                      "One bar per non-warm-up turn, segments stacked from the true speech end (a negative "
                      "segment left of zero), black tick at its voice-to-voice; on top of each variant the "
                      "stack of the per-segment medians, tick at the median voice-to-voice."))
    return parts


def _echo_cancellation_section(trace: Trace, aec: dict | None) -> list[str]:
    if not aec:
        return []
    erle = aec.get("erle_db")
    text = (f"Speex AEC: {aec['cpu_ms_per_frame']:.2f} ms CPU per 32 ms microphone frame (p95 over "
            f"320 ms windows {aec['cpu_ms_per_frame_p95']:.2f} ms); ERLE over the session's "
            f"{aec['echo_only_frames']} echo-only frames "
            f"{'–' if erle is None else f'{erle:.1f} dB'} (capped by the echo-to-noise ratio when "
            "the microphone is noisy; per reply: the aec_erle_db column).")
    return ["<h2>Echo cancellation</h2>", f"<p class=sub>{escape(text)}</p>",
            _img(echo_cancellation_figure(trace), "echo cancellation over the session")]


def _engines_section(turns: pd.DataFrame) -> list[str]:
    """Engines side by side (a run with peer engines, e.g. ``engine: pipecat`` variants)."""
    if not has_peers(turns):
        return []
    table = engine_comparison(turns)
    parts = ["<h2>Engines side by side</h2>",
             "<p class=sub>The same clips, models, microphone, speaker and clock for every engine; ms over "
             "non-warm-up turns. Self-report error = what the framework reported for its own voice-to-voice "
             "minus the measured one (negative: it reports less latency than the user hears).</p>",
             html_table(ENGINE_HEADER, engine_rows(table))]
    sentence = ratio_sentence(v2v_ratio(table))
    if sentence:
        parts.append(f"<p class=headline>{escape(sentence)}</p>")
    parts.append(_img(engines_figure(turns), "voice-to-voice per engine",
                      "Per turn: measured voice-to-voice (dots, box = quartiles) and, for peer engines, "
                      "what the framework reported for the same turn (hollow diamonds)."))
    return parts


def render_html(trace: Trace, turns: pd.DataFrame, summary: dict) -> str:
    """The report as one self-contained HTML string (see :func:`write_report`)."""
    summary = summary or {}
    name = summary.get("name") or "voicelab experiment"
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f"<title>{escape(name)} · voicelab report</title><style>{CSS}</style></head><body>"]
    parts.append(f"<h1>{escape(name)}</h1>")
    sub = [f"created {summary['created']}"] if summary.get("created") else []
    if isinstance(summary.get("peak_rss_mib"), (int, float)):
        sub.append(f"peak RSS {summary['peak_rss_mib']:,.0f} MiB")
    if len(turns):
        n_warm = int(turns["warmup"].astype(bool).sum()) if "warmup" in turns else 0
        sub.append(f"{len(turns)} turns ({n_warm} warm-up, excluded from statistics)")
    parts.append(f"<p class=sub>{escape(' · '.join(sub))}</p>")

    # environment stamp
    env = []
    for key in ENVIRONMENT_SECTIONS:
        if isinstance(summary.get(key), dict) and summary[key]:
            env.append(_kv_table(key, summary[key]))
    known = {"name", "created", "peak_rss_mib", "machine", "threads", "versions", "models", "tts", "config",
             "metrics", "streaming_vs_baseline", "references", "aec", "engines"}
    run = {k: v for k, v in summary.items() if k not in known and not isinstance(v, (dict, list))}
    if run:
        env.append(_kv_table("run", run))
    if env:
        parts.append("<h2>Environment</h2><div class=env>" + "".join(env) + "</div>")
    if summary.get("config") is not None:
        cfg = json.dumps(summary["config"], indent=2, default=str)
        parts.append(f"<details><summary>config</summary><pre>{escape(cfg)}</pre></details>")

    # headline: what the user hears, split into the consecutive segments that add up to it
    metrics = summary.get("metrics")
    if not metrics and len(turns) and "warmup" in turns:
        metrics = summarize(turns)
    parts += _critical_path_section(turns)
    for sentence in _streaming_sentences(summary.get("streaming_vs_baseline")):
        parts.append(f"<p class=headline>{escape(sentence)}</p>")
    parts.append(f"<h2>{STAGES_TITLE}</h2>")
    if metrics:
        if not summary.get("metrics"):
            parts.append("<p class=sub>(computed from the turns table: the summary has no metrics)</p>")
        parts.append("<p class=sub>Milliseconds, percentiles over non-warm-up turns; n = turns "
                     "with a value. Brackets: 95% bootstrap interval that resamples whole clips "
                     "(turns of one clip are not independent); none with a single clip. "
                     f"{escape(_signed_note())}</p>" + _headline_table(metrics))
    else:
        parts.append("<p>No metrics.</p>")

    refs = summary.get("references")
    if refs:
        parts.append("<h2>Reference speech boundaries</h2><p class=sub>Every latency from “true” "
                     "speech starts or ends here (ms from each clip's first sample).</p>")
        parts.append(html_table(REFERENCE_HEADER, reference_rows(refs), numeric=False))
        parts += [f"<p class=warn>warning: {escape(w)}</p>" for w in reference_warnings(refs)]

    # charts
    parts.append("<h2>Latency comparison</h2>")
    parts.append(_img(latency_comparison_figure(turns), "key latencies per variant",
                      "Per-turn values over non-warm-up turns, in ms."))

    parts += _engines_section(turns)
    parts += _echo_cancellation_section(trace, summary.get("aec"))

    # timelines
    parts.append("<h2>Per-turn timelines</h2>")
    chosen, note = select_timeline_turns(turns)
    parts.append(f"<p class=sub>{escape(note)} Red spans on the playback lane are stalls; the arrow is "
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
        turns: :func:`voicelab.measure.metrics.turns_table` output (warm-up rows included).
        summary: the run summary (``name``, ``created``, ``machine``, ``threads``,
            ``versions``, ``models``, ``peak_rss_mib``, ``config``, ``metrics`` =
            :func:`voicelab.measure.metrics.summarize` output, optional
            ``streaming_vs_baseline``); missing keys are skipped.

    With peer engines (``engine:`` of a variant) it also writes ``engines.md`` and
    ``engines.png`` beside it (:func:`voicelab.reports.engines.write_side_by_side`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(trace, turns, summary), encoding="utf-8")
    write_side_by_side(path.parent, turns)
    return path
