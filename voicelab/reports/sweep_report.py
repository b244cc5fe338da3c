"""The sweep report: config points compared with bootstrap confidence intervals.

:func:`write_sweep_report` reads a sweep directory (:func:`voicelab.reports.sweep_data.load_sweep`)
and writes ``report.html`` (self-contained: inline CSS, plots as base64 PNG) and
``report.md`` (GitHub-flavoured markdown with the same tables, plots as PNG files in
``figures/``), both stating the machine, thread counts, versions, config hash, grid
and repetitions. Tables come from :mod:`voicelab.reports.sweep_tables`, figures from
:mod:`voicelab.reports.sweep_figures` (the critical path's table and figure from
:mod:`voicelab.reports.critical_path`) and the timeline of
:func:`voicelab.reports.timeline.representative_turn` from
:func:`voicelab.reports.timeline.timeline_figure`; every figure is rendered once
for both outputs.

Warm-up rows stay in ``results.parquet`` but are excluded from every number and plot
here.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from voicelab.events import Trace
from voicelab.measure.faults import fault_table, has_faults
from voicelab.reports.critical_path import (
    EXPLANATION,
    MISSING_NOTE,
    critical_path_cells,
    critical_path_notes,
    critical_path_points_figure,
    critical_path_table,
    has_critical_path,
)
from voicelab.reports.frames import V2V, live_rows, numeric
from voicelab.reports.html import (
    CSS,
    ENVIRONMENT_SECTIONS,
    escape,
    format_value,
    html_figure,
    html_table,
    kv_table,
    md_table,
    md_text,
)
from voicelab.reports.references import REFERENCE_HEADER, reference_rows, reference_warnings
from voicelab.reports.style import figure_to_png_base64, format_ms
from voicelab.reports.sweep_data import SweepData, load_sweep, value_label
from voicelab.reports.sweep_figures import box_figures, cdf_figure, interruption_figure, tradeoff_figure
from voicelab.reports.sweep_tables import (
    headline_cells,
    headline_table,
    indistinguishable_points,
    interruption_cells,
    interruption_table,
    node_cells,
    node_table,
    node_warning,
)
from voicelab.reports.timeline import representative_turn, timeline_figure

__all__ = ["write_sweep_report"]


def _environment(data: SweepData) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key, value)]) of the environment stamp; absent keys are skipped."""
    meta, env = data.meta, dict(data.meta.get("environment") or {})
    live = live_rows(data.results)
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
    sections = [("sweep", [(k, format_value(v)) for k, v in sweep if v is not None])]
    machine = dict(env.get("machine") or {})
    for key in ENVIRONMENT_SECTIONS:
        d = machine if key == "machine" else env.get(key)
        if isinstance(d, dict) and d:
            sections.append((key, [(str(k), format_value(v)) for k, v in d.items()]))
    return sections


def _grid_rows(data: SweepData) -> list[list[str]]:
    return [[path, ", ".join(value_label(v) for v in values)] for path, values in data.grid.items()]


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
    header, rows, notes = headline_cells(head)
    best, ties = indistinguishable_points(results)
    if best:
        notes.append(f"lowest voice-to-voice p50: “{best}”; "
                     + (f"cannot be told apart from it (95% CI of the paired difference, clips drawn "
                        f"jointly, contains 0): {', '.join(f'“{t}”' for t in ties)}" if ties else
                        "every other point differs from it (95% CI of the paired difference excludes 0)"))
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
    cp = None
    if has_critical_path(results):
        table = critical_path_table(results, "point")
        cp = (*critical_path_cells(table), critical_path_notes(table))
        if (table["n"] > 0).any():
            figs.append(_render(critical_path_points_figure(results, data.points), "critical-path.png",
                                "median critical path per config point",
                                "Per config point, the medians of the critical-path segments stacked from the "
                                "true speech end (a negative one left of zero); black tick and value: the "
                                "median voice-to-voice."))
    inter = None
    if "interruption_latency_ms" in results and results.get("barge_in", pd.Series(dtype=bool)).astype(bool).any():
        inter = interruption_table(results)
        figs.append(_render(interruption_figure(inter), "interruption.png",
                            "interruption latency vs false interruptions",
                            "One marker per config point: p50 interruption latency (true onset of the "
                            "user's barge-in to the agent's last played sample), whisker to p95, "
                            "against the share of replies cut off while no user clip played."))
    faults = fault_table(results) if has_faults(results) else None
    nodes = node_table(results)
    rep = representative_turn(results)
    rep_text = "No non-warm-up turn has a voice-to-voice latency: no representative timeline."
    if rep is not None:
        g = live_rows(results)
        g = numeric(g.loc[g["point"] == rep["point"], V2V]).dropna()
        rep_text = (f"Representative turn: point “{rep['point']}”, repetition {int(rep['repetition'])}, "
                    f"clip “{rep.get('clip', '?')}”, turn {int(rep['turn'])} "
                    f"(run {rep.get('run_id', '?')}): "
                    f"voice-to-voice {format_ms(rep[V2V])} ms, the closest to the median "
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
    return {"head": head, "header": header, "rows": rows, "notes": notes, "figs": figs, "inter": inter, "cp": cp,
            "rep_text": rep_text, "method": _METHOD.format(n_boot=n_boot), "references": data.references(),
            "nodes": nodes, "faults": faults}


FAULTS_NOTE = ("Non-warm-up turns per config point: failed (STT dropped the turn, or the LLM's reply was "
               "replaced by an apology), text only (the reply's audio stopped and it went on as text), no "
               "audio (the user heard nothing of the reply), and the time from a turn's first failure until "
               "the agent worked again (a successful TTS restart, else the turn's end).")


def _fault_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["point", "turns", "failed", "text only", "no audio", "recovery p50", "recovery max"]
    return header, [[str(k), str(r.turns), str(r.failed), str(r.text_only), str(r.no_audio),
                     format_ms(r.recovery_p50_ms), format_ms(r.recovery_max_ms)] for k, r in table.iterrows()]


def _title(data: SweepData) -> str:
    return f"{data.meta.get('name') or data.sweep_dir.name} · voicelab sweep report"


_METHOD = ("Percentiles use numpy's linear method over non-warm-up turns of all repetitions "
           "and clips; brackets are 95% percentile-bootstrap confidence intervals ({n_boot} "
           "resamples, Efron & Tibshirani 1993) that draw whole clips, since turns of one clip "
           "are not independent (a cluster bootstrap; no interval with a single clip). "
           "Milliseconds unless stated.")


def _html(data: SweepData, b: dict) -> str:
    figs = {f.name: f for f in b["figs"]}

    def img(f: _Rendered) -> str:
        return html_figure(f.png_base64, f.alt, f.caption)

    css = CSS + "td.num,th.num{min-width:64px}\n"
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(_title(data))}</title>"
             f"<style>{css}</style></head><body>", f"<h1>{escape(_title(data))}</h1>"]
    parts.append("<h2>Environment</h2><div class=env>")
    parts += [kv_table(title, kv) for title, kv in _environment(data)]
    parts.append("</div>")
    if len(b["nodes"]) > 1 or node_warning(b["nodes"]):
        parts.append("<h2>Nodes</h2>" + html_table(*node_cells(b["nodes"]), numeric=False))
    if node_warning(b["nodes"]):
        parts.append(f"<p class=warn>warning: {escape(node_warning(b['nodes']))}</p>")
    parts.append("<h2>Grid</h2>")
    parts.append(html_table(["parameter", "values (grid order)"], _grid_rows(data), numeric=False))
    parts.append(f"<p class=sub>{escape(data.meta.get('repetitions', '?'))} repetitions of every point; "
                 f"{len(data.points)} points.</p>")
    if data.meta.get("base_config") is not None:
        cfg = json.dumps(data.meta["base_config"], indent=2, default=str)
        parts.append(f"<details><summary>base config</summary><pre>{escape(cfg)}</pre></details>")
    parts.append("<h2>Headline</h2>")
    parts.append(f"<p class=sub>{escape(b['method'])}</p>")
    parts.append(html_table(b["header"], b["rows"]))
    parts += [f"<p class=sub>{escape(n)}.</p>" for n in b["notes"]]
    parts.append("<h2>Latency distributions</h2>" + img(figs["cdf.png"]))
    parts.append("<h2>Latency by swept parameter</h2>")
    parts += [img(f) for f in b["figs"] if f.name.startswith("box-")]
    parts.append("<h2>Critical path</h2>")
    if b["cp"] is None:
        parts.append(f"<p class=sub>{escape(MISSING_NOTE)}</p>")
    else:
        header, rows, notes = b["cp"]
        parts += [f"<p class=sub>{escape(EXPLANATION)}</p>", html_table(header, rows)]
        parts += [f"<p>{escape(n)}.</p>" for n in notes]
        if "critical-path.png" in figs:
            parts.append(img(figs["critical-path.png"]))
    parts.append("<h2>Latency vs quality</h2>" + img(figs["tradeoff.png"]))
    if b["inter"] is not None:
        header, rows = interruption_cells(b["inter"])
        parts.append("<h2>Barge-in</h2>" + html_table(header, rows) + img(figs["interruption.png"]))
    if b["faults"] is not None:
        parts.append("<h2>Faults: what users heard</h2>" + f"<p class=sub>{escape(FAULTS_NOTE)}</p>"
                     + html_table(*_fault_cells(b["faults"])))
    if b["references"]:
        parts.append("<h2>Reference speech boundaries</h2>")
        parts.append(html_table(REFERENCE_HEADER, reference_rows(b["references"]), numeric=False))
        parts += [f"<p class=warn>warning: {escape(w)}</p>" for w in reference_warnings(b["references"])]
    parts.append(f"<h2>Representative turn</h2><p>{escape(b['rep_text'])}</p>")
    if "timeline.png" in figs:
        parts.append(img(figs["timeline.png"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(data: SweepData, b: dict, fig_dir: str) -> str:
    figs = {f.name: f for f in b["figs"]}

    def img(f: _Rendered) -> str:
        return f"![{md_text(f.alt)}]({fig_dir}/{f.name})\n\n*{md_text(f.caption)}*"

    out = [f"# {md_text(_title(data))}", "", "## Environment", ""]
    for title, kv in _environment(data):
        out += [md_table([title, "value"], kv, numeric=False), ""]
    if len(b["nodes"]) > 1 or node_warning(b["nodes"]):
        out += ["## Nodes", "", md_table(*node_cells(b["nodes"]), numeric=False), ""]
    if node_warning(b["nodes"]):
        out += [f"- warning: {md_text(node_warning(b['nodes']))}", ""]
    out += ["## Grid", "", md_table(["parameter", "values (grid order)"], _grid_rows(data), numeric=False),
            "", f"{md_text(data.meta.get('repetitions', '?'))} repetitions of every point; "
                f"{len(data.points)} points.", ""]
    out += ["## Headline", "", md_text(b["method"]), "", md_table(b["header"], b["rows"]), ""]
    out += [f"{md_text(n)}." for n in b["notes"]] + ([""] if b["notes"] else [])
    out += ["## Latency distributions", "", img(figs["cdf.png"]), ""]
    out += ["## Latency by swept parameter", ""]
    for f in b["figs"]:
        if f.name.startswith("box-"):
            out += [img(f), ""]
    out += ["## Critical path", ""]
    if b["cp"] is None:
        out += [md_text(MISSING_NOTE), ""]
    else:
        header, rows, notes = b["cp"]
        out += [md_text(EXPLANATION), "", md_table(header, rows), ""] + [f"{md_text(n)}." for n in notes] + [""]
        if "critical-path.png" in figs:
            out += [img(figs["critical-path.png"]), ""]
    out += ["## Latency vs quality", "", img(figs["tradeoff.png"]), ""]
    if b["inter"] is not None:
        header, rows = interruption_cells(b["inter"])
        out += ["## Barge-in", "", md_table(header, rows), "", img(figs["interruption.png"]), ""]
    if b["faults"] is not None:
        out += ["## Faults: what users heard", "", md_text(FAULTS_NOTE), "", md_table(*_fault_cells(b["faults"])), ""]
    if b["references"]:
        out += ["## Reference speech boundaries", "",
                md_table(REFERENCE_HEADER, reference_rows(b["references"]), numeric=False), ""]
        out += [f"- warning: {md_text(w)}" for w in reference_warnings(b["references"])]
        out += [""] if reference_warnings(b["references"]) else []
    out += ["## Representative turn", "", md_text(b["rep_text"]), ""]
    if "timeline.png" in figs:
        out += [img(figs["timeline.png"]), ""]
    return "\n".join(out)


def write_sweep_report(sweep_dir: Path, *, n_boot: int = 2000, seed: int = 0) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` (plus ``figures/*.png``) into ``sweep_dir``.

    Contents of both: environment stamp (machine, CPU count, threads, versions,
    models, config hash, date, wall time), grid and repetitions; the headline table
    (:func:`headline_table`); latency CDFs (:func:`cdf_figure`); one box-plot figure
    per swept parameter (:func:`box_figures`); the median critical path per point
    (:mod:`voicelab.reports.critical_path`; a note instead for a table without the
    ``cp_*`` columns); the latency/quality trade-off
    (:func:`tradeoff_figure`); the stage timeline of :func:`representative_turn`.
    The HTML embeds the plots and has no external resources or scripts; the
    markdown links ``figures/<name>.png`` relatively.

    Args:
        sweep_dir: a sweep directory (see :mod:`voicelab.lab.sweep`).
        n_boot, seed: bootstrap resamples and seed (:mod:`voicelab.measure.stats`).

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
