"""Reports: the per-run HTML report and the sweep HTML + Markdown report.

Both reports share their look, their HTML and their timeline figure:

- :mod:`~voicelab.reports.style`: colours (stage, variant, metric), labels, font rc,
  point styles, number/text formatting, :func:`empty_figure`,
  :func:`figure_to_png_base64`.
- :mod:`~voicelab.reports.html`: inline CSS, escaping, HTML and Markdown tables,
  key-value tables, embedded figures.
- :mod:`~voicelab.reports.frames`: non-warm-up rows and other table helpers.
- :mod:`~voicelab.reports.timeline`: the per-turn stage timeline and which turns get one.

The run report (one ``voicelab run``):

- :mod:`~voicelab.reports.run_figures`: latency comparison and critical path figures.
- :mod:`~voicelab.reports.run_report`: :func:`render_html`, :func:`write_report`.

The sweep report (one ``voicelab sweep`` directory):

- :mod:`~voicelab.reports.sweep_data`: :class:`SweepData`, :func:`load_sweep`,
  :func:`parameter_groups`.
- :mod:`~voicelab.reports.sweep_tables`: headline and interruption tables.
- :mod:`~voicelab.reports.sweep_figures`: CDFs, box plots, trade-off and interruption figures.
- :mod:`~voicelab.reports.sweep_report`: :func:`write_sweep_report`.

Reports read traces and tables (:mod:`voicelab.events`, :mod:`voicelab.measure`);
they never import the drivers (:mod:`voicelab.lab`, :mod:`voicelab.cli`) that run
experiments.
"""

from voicelab.reports.critical_path import critical_path_turns_figure
from voicelab.reports.run_figures import KEY_LATENCIES, latency_comparison_figure
from voicelab.reports.run_report import render_html, write_report
from voicelab.reports.style import LABELS, STAGE_COLORS, empty_figure, figure_to_png_base64, format_ms
from voicelab.reports.sweep_data import SweepData, load_sweep, parameter_groups
from voicelab.reports.sweep_figures import (
    BOX_METRICS,
    box_figures,
    cdf_figure,
    interruption_figure,
    tradeoff_figure,
)
from voicelab.reports.sweep_report import write_sweep_report
from voicelab.reports.sweep_tables import HEADLINE_LATENCIES, headline_table, interruption_table
from voicelab.reports.timeline import (
    LANES,
    MAX_TIMELINES,
    representative_turn,
    select_timeline_turns,
    timeline_figure,
)

__all__ = [
    "BOX_METRICS", "HEADLINE_LATENCIES", "KEY_LATENCIES", "LABELS", "LANES", "MAX_TIMELINES",
    "STAGE_COLORS", "SweepData", "box_figures", "cdf_figure", "critical_path_turns_figure",
    "empty_figure", "figure_to_png_base64", "format_ms", "headline_table", "interruption_figure",
    "interruption_table", "latency_comparison_figure", "load_sweep", "parameter_groups", "render_html",
    "representative_turn", "select_timeline_turns", "timeline_figure", "tradeoff_figure", "write_report",
    "write_sweep_report",
]
