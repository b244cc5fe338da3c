"""Re-measure finished runs from their saved traces, without re-running any model.

Metrics are pure functions of the trace (:mod:`voicelab.measure.metrics`), so when a
metric definition changes, ``voicelab report DIR --rescore`` recomputes every run's
``turns.csv`` and the metrics of its ``summary.json`` from ``events.jsonl``. Columns
that do not come from the trace (``tts_roundtrip_wer``: the played audio transcribed
after the session) are carried over from the old table, row by row.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from voicelab.events import Trace
from voicelab.measure.metrics import summarize, turns_table
from voicelab.reports.engines import summary_block as engines_summary


def rescore_run(run_dir: Path) -> pd.DataFrame:
    """Recompute ``turns.csv`` and ``summary.json`` ``metrics`` of one run; return the table.

    Raises:
        FileNotFoundError: a run file is missing.
        ValueError: the trace has a different number of turns than the old table.
    """
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    min_barge_in_ms = float(summary.get("config", {}).get("barge_in", {}).get("min_barge_in_ms", 200.0))
    turns = turns_table(Trace.load_jsonl(run_dir / "events.jsonl"), min_barge_in_ms)
    old = pd.read_csv(run_dir / "turns.csv")
    if len(old) != len(turns):
        raise ValueError(f"{run_dir}: the trace has {len(turns)} turns, turns.csv {len(old)}")
    for col in old.columns:
        if col not in turns:
            turns[col] = old[col].to_numpy()
    _write_atomic(run_dir / "turns.csv", turns.to_csv(index=False))
    summary["metrics"] = summarize(turns)
    engines = engines_summary(turns)
    if engines:
        summary["engines"] = engines
    _write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return turns


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
