"""``voicelab endpoints``: the end-of-turn evaluation on the corpus, written as a results page.

Loads the corpus (:func:`voicelab.corpus.load_corpus`), runs every detector once per item
(:func:`voicelab.lab.eot_eval.compute_signals`; the signals are cached in
``<home>/eot/signals-<key>.pkl`` by the corpus items and builder version, so an interrupted run resumes
and a re-run only re-scores), scores them with eot-bench's metrics and writes into ``out_dir``:

- ``README.md``: the corpus, the budget table with 95 % CIs (resampled by recording), the
  figure, voicelab's own settings as operating points, the machine and the command;
- ``budgets.csv`` (every budget figure with its chosen knobs and CI), ``curves.csv.gz``
  (every operating point of every detector), ``operating_points.csv`` (the marked settings);
- ``eot.png``: :func:`voicelab.reports.eot_report.curves_figure`.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from voicelab.assets import voicelab_home
from voicelab.corpus import corpus_dir, load_corpus, summary
from voicelab.lab.eot_eval import PIPECAT, Signals, as_eot_item, budget_table, compute_signals, eot_table, sweeps
from voicelab.lab.node import node_info
from voicelab.reports.eot_report import budget_cells, curves_figure
from voicelab.reports.html import md_table
from voicelab.reports.style import figure_to_png

__all__ = ["OPERATING_POINTS", "run_eot_evaluation"]

VOICELAB = "Smart Turn after Silero silence (voicelab)"

OPERATING_POINTS = {
    "voicelab default (500 ms, p > 0.5, 1000 ms max)": (VOICELAB, {"min_silence_ms": 500.0, "threshold": 0.5,
                                                                   "max_silence_ms": 1000.0}),
    "fast (200 ms, p > 0.5, 1500 ms max)": (VOICELAB, {"min_silence_ms": 200.0, "threshold": 0.5,
                                                       "max_silence_ms": 1500.0}),
    "silence 500 ms": ("silence (Silero VAD)", {"silence_ms": 500.0}),
    "Pipecat stock (Smart Turn stop_secs 3)": (PIPECAT, {"smart_turn_stop_secs": 3.0, "policy_timeout_ms": math.inf}),
}
"""Named settings marked on the figure and tabled: voicelab's default endpointing, its fast
setting, the old silence-only default, and Pipecat's stock turn stack (no policy timeout)."""


def _cpu() -> str:
    """The machine: CPU model, logical CPUs and the speed flags it has (:func:`voicelab.lab.node.node_info`)."""
    info = node_info()
    return f"{info['cpu_model']}, {info['cores']} logical CPUs, flags: {' '.join(info['flags']) or 'none of note'}"


def _signals_path(root: Path) -> Path:
    """The cache of the signals, keyed by the corpus' items and the version of the code that
    renders their audio (``builder_version``), not by the rest of its build metadata."""
    index = json.loads((root / "index.json").read_text())
    keyed = {"items": index["items"], "builder_version": index.get("builder_version")}
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]
    return voicelab_home() / "eot" / f"signals-{key}.pkl"


def _load_signals(path: Path) -> Signals | None:
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None


def run_eot_evaluation(out_dir: Path, n_boot: int = 2000, limit: int | None = None,
                       command: str = "voicelab endpoints --out docs/results/eot") -> pd.DataFrame:
    """Evaluate every detector on the corpus and write the page (see the module docstring).

    Args:
        out_dir: where the page and tables go (created).
        n_boot: bootstrap resamples of each CI.
        limit: evaluate only the first ``limit`` items (a quick look; the page says so).
        command: the command line printed on the page.

    Returns:
        the budget table.

    Raises:
        voicelab.corpus.CorpusError: the corpus is not built (the message names the command).
        voicelab.assets.AssetError: a model asset is missing.
    """
    from voicelab.vad.turn_detector import SmartTurnDetector

    t0 = time.perf_counter()
    root = corpus_dir()
    items = load_corpus(root)[:limit]
    eot_items = [as_eot_item(it.id, it.silences, it.recording) for it in items]
    by_id = {it.id: it for it in items}
    cache = _signals_path(root)
    signals = _load_signals(cache)
    detector = SmartTurnDetector()
    cache.parent.mkdir(parents=True, exist_ok=True)
    chunk = 10
    with tqdm(total=len(eot_items), desc="eot signals", unit="item") as bar:
        for k in range(0, len(eot_items), chunk):     # save as it goes: an interrupted run resumes
            signals = compute_signals(eot_items[k:k + chunk], lambda i: by_id[i].audio,
                                      detector.probability_complete, signals, progress=False)
            with cache.open("wb") as f:
                pickle.dump(signals, f)
            bar.update(len(eot_items[k:k + chunk]))
    t_signals = time.perf_counter() - t0
    table = eot_table(eot_items)
    budgets, curves = budget_table(table, sweeps(table, signals), n_boot=n_boot)
    out_dir.mkdir(parents=True, exist_ok=True)
    budgets.to_csv(out_dir / "budgets.csv", index=False)
    curves.to_csv(out_dir / "curves.csv.gz", index=False)
    points = []
    for label, (det, knobs) in OPERATING_POINTS.items():
        g = curves[curves["detector"] == det]
        for col, v in knobs.items():
            g = g[np.isclose(g[col].astype(float), v, rtol=0.0, atol=1e-9)]
        r = g.iloc[0]
        points.append({"setting": label, "detector": det, **knobs, "cutoff_rate": r["cutoff_rate"],
                       "mean_latency_ms": r["mean_latency_ms"], "p50_latency_ms": r["p50_latency_ms"],
                       "p90_latency_ms": r["p90_latency_ms"], "detect_rate": r["detect_rate"],
                       "n_eots": int(r["n_eots"]), "n_detected": int(r["n_detected"])})
    points = pd.DataFrame(points)
    points.to_csv(out_dir / "operating_points.csv", index=False)
    (out_dir / "eot.png").write_bytes(figure_to_png(curves_figure(curves, OPERATING_POINTS), dpi=110))
    wall = time.perf_counter() - t0
    _write_page(out_dir, items, table, budgets, points, command, limit, t_signals, wall)
    (out_dir / "run.json").write_text(json.dumps({"cpu": _cpu(), "items": len(items), "holds": table.n_holds,
                                                  "eots": table.n_eots, "groups": len(set(table.groups)),
                                                  "n_boot": n_boot, "signals_s": round(t_signals, 1),
                                                  "wall_s": round(wall, 1)}, indent=2) + "\n")
    return budgets


def _write_page(out_dir: Path, items, table, budgets: pd.DataFrame, points: pd.DataFrame, command: str,
                limit: int | None, t_signals: float, wall: float) -> None:
    sizes = summary(items)
    header, rows = budget_cells(budgets)
    ms = lambda v: "∞" if math.isinf(v) else f"{v:.0f}"  # noqa: E731
    op_rows = [[r["setting"], f"{100 * r['cutoff_rate']:.1f} %", ms(r["mean_latency_ms"]), ms(r["p50_latency_ms"]),
                ms(r["p90_latency_ms"]), f"{100 * r['detect_rate']:.1f} %", str(r["n_eots"] - r["n_detected"])]
               for _, r in points.iterrows()]
    size_rows = [[f'{v:.2f}' if isinstance(v, float) else str(v) for v in r] for r in sizes.values.tolist()]
    note = f" (first {limit} items only)" if limit else ""
    text = f"""# End-of-turn detection on the corpus, scored as eot-bench scores it{note}

Every detector decides, causally, when the user's turn is over; each is swept over its knobs and
scored with LiveKit eot-bench's definitions (`voicelab.measure.eot`): a decision inside a **hold**
pause (a silence of 200-5000 ms inside the utterance) is a **false cutoff**; on the **eot**
silence (from the reference speech end) the **latency** is the time to the decision, or the
policy's timeout if it never fires (mean over all eots, timeouts included); **detect rate** is
the share of eots decided before the timeout. The table gives eot-bench's comparison figures:
the lowest false-cutoff rate at a mean-latency budget of 300 / 600 ms, and the lowest mean latency
(with its detect rate) at a false-cutoff budget of 5 / 10 %, each with a 95 % bootstrap interval
that resamples whole recordings (items cut from one recording are not independent; the
operating point is re-selected in every resample). Detectors: see `voicelab/lab/eot_eval.py`.

Corpus (`docs/corpus.md`): {len(items)} items, {table.n_holds} scored holds and {table.n_eots} eots
from {len(set(table.groups))} recordings.

{md_table(list(sizes.columns), size_rows)}

## eot-bench budget figures (95 % CI)

{md_table(header, rows)}

A "–": no operating point of that detector meets the budget. For context only (other data,
other speakers), eot-bench publishes Smart Turn v3.2 on its English set at 1051 ms mean latency
with 84.8 % detect at 5 % cutoffs, and 35.2 % cutoffs at a 300 ms budget.

![false cutoffs against mean latency](eot.png)

*Each detector's Pareto frontier over its sweep; diamonds: the settings below; dotted: the budgets.*

## voicelab's settings as operating points

{md_table(["setting", "false cutoffs", "mean latency (ms)", "p50", "p90", "detect", "turns never ended"], op_rows)}

Latency is audio time from the true end of speech; the detector's compute time (Smart Turn:
tens of ms per call) is not included, as in eot-bench. "Turns never ended": eots on which the
setting never decides (no policy timeout; mean latency then ∞). Pipecat's stack never ends a
turn its VAD never started (a short or quiet word under its `start_secs` 0.2 s / `min_volume`
0.6); in the budget table, as eot-bench does for every detector, a policy timeout of 1.0-3.5 s
is swept on top of it.

## Reproduce

```
{command}
```

Ran on {_cpu()}: signals {t_signals / 60:.1f} min, total {wall / 60:.1f} min. Files:
`budgets.csv` (every figure with its chosen knobs and CI), `curves.csv.gz` (every operating point),
`operating_points.csv`, `run.json`.
"""
    (out_dir / "README.md").write_text(text)
