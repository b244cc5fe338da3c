"""The end-of-turn evaluation's page: eot-bench's budget table with CIs, and the curves.

Input: the tables of :func:`voicelab.lab.eot_eval.budget_table` (``budgets``: one row per
detector and budget, from :func:`voicelab.measure.eot_budget.budget_figures_ci`; ``curves``:
every operating point of every detector, from :func:`voicelab.measure.eot.sweep_curve`).
Output: :func:`budget_cells` (the table as text cells) and :func:`curves_figure` (false-cutoff
rate against mean latency: each detector's Pareto frontier, and marked points).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from voicelab.reports.style import FONT, VARIANT_COLORS, style_axes

__all__ = ["BUDGET_HEADER", "budget_cells", "curves_figure"]

BUDGET_HEADER = ["detector", "false cutoffs at 300 ms", "at 600 ms", "mean latency at 5 % cutoffs", "detect",
                 "mean latency at 10 % cutoffs", "detect"]
"""eot-bench's comparison columns (``comparison.write_comparison_report``), with 95 % CIs."""


def _pct(v: float, lo: float, hi: float) -> str:
    if math.isnan(v):
        return "–"
    ci = "" if math.isnan(lo) or math.isnan(hi) else f" [{100 * lo:.1f}, {100 * hi:.1f}]"
    return f"{100 * v:.1f} %{ci}"


def _ms(v: float, lo: float, hi: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return "–"
    ci = "" if math.isnan(lo) or math.isnan(hi) else f" [{lo:.0f}, {hi:.0f}]"
    return f"{v:.0f}{ci}"


def budget_cells(budgets: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and one row per detector (in order of first appearance): false-cutoff rate at
    the 300 and 600 ms latency budgets, mean latency and detect rate at the 5 % and 10 %
    cutoff budgets, each ``value [lo, hi]``; "–" where no operating point meets the budget."""
    rows = []
    for det in pd.unique(budgets["detector"]):
        g = budgets[budgets["detector"] == det]

        def at(figure: str, budget: float, g: pd.DataFrame = g, det=det) -> pd.Series:  # this iteration's g, det
            r = g[(g["figure"] == figure) & ((g["budget"] - budget).abs() < 1e-9)]
            if r.empty:
                raise KeyError(f"{det}: no {figure} row at budget {budget}")
            return r.iloc[0]

        row = [str(det)]
        for b in (300.0, 600.0):
            r = at("cutoff_rate_at_latency_ms", b)
            row.append(_pct(r["value"], r["value_lo"], r["value_hi"]))
        for b in (0.05, 0.10):
            r = at("mean_latency_ms_at_cutoff_rate", b)
            row.append(_ms(r["value"], r["value_lo"], r["value_hi"]))
            row.append(_pct(r["detect_rate"], r["detect_rate_lo"], r["detect_rate_hi"]))
        rows.append(row)
    return BUDGET_HEADER, rows


@matplotlib.rc_context(FONT)
def curves_figure(curves: pd.DataFrame, marks: Mapping[str, tuple[str, Mapping[str, float]]] | None = None,
                  max_latency_ms: float = 2500.0) -> Figure:
    """False-cutoff rate (%) against mean latency (ms): each detector's Pareto frontier (a step
    line), dotted lines at eot-bench's budgets (300 / 600 ms, 5 / 10 %), and ``marks``:
    ``{label: (detector, knobs)}``, the named operating points (e.g. voicelab's default).

    Raises:
        KeyError: a mark names a detector or knob values that are not in ``curves``.
    """
    fig = Figure(figsize=(8.0, 5.0))
    ax = fig.add_subplot()
    for k, det in enumerate(pd.unique(curves["detector"])):
        c = curves[(curves["detector"] == det) & curves["is_pareto"]].sort_values("mean_latency_ms")
        c = c[c["mean_latency_ms"] <= max_latency_ms]
        if c.empty:
            continue
        ax.step(c["mean_latency_ms"], 100 * c["cutoff_rate"], where="post",
                color=VARIANT_COLORS[k % len(VARIANT_COLORS)], label=str(det), linewidth=1.6)
    for label, (det, knobs) in (marks or {}).items():
        g = curves[curves["detector"] == det]
        for col, v in knobs.items():
            g = g[np.isclose(g[col].astype(float), v, rtol=0.0, atol=1e-9)]
        if g.empty:
            raise KeyError(f"mark {label!r}: no point {dict(knobs)} of {det!r}")
        r = g.iloc[0]
        ax.scatter([r["mean_latency_ms"]], [100 * r["cutoff_rate"]], marker="D", s=36, color="black", zorder=4)
        ax.annotate(label, (r["mean_latency_ms"], 100 * r["cutoff_rate"]), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)
    for x in (300, 600):
        ax.axvline(x, color="#9AA3AF", linestyle=":", linewidth=1)
    for y in (5, 10):
        ax.axhline(y, color="#9AA3AF", linestyle=":", linewidth=1)
    ax.set_xlim(0, max_latency_ms)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("mean latency on end-of-turn silences (ms, timeouts included)")
    ax.set_ylabel("false cutoffs (% of hold pauses)")
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    style_axes(ax)
    fig.tight_layout()
    return fig
