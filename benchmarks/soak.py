"""Soak: a 100-turn session on the real models, without and with a bound on the LLM history.

Usage::

    .venv/bin/python benchmarks/soak.py experiments/soak.yaml --out docs/results/soak

Loads the config's models once, then runs the experiment (``voicelab run``'s
:func:`~voicelab.lab.runner.run_experiment`, one session of ``repetitions`` x clips turns)
once per ``--history`` setting: ``all`` (``llm.max_history_turns: null``, the prompt grows
every turn) and each number N (the last N exchanges). After every turn returns to idle,
a trace listener in the session's event loop samples the process's resident memory (RSS,
psutil, with child processes), its thread count and the loop's asyncio task count.

Per run, against the state after the warm-up turn: RSS growth at the end (goal < 5 %),
threads and tasks at the end (goal: equal), and latency drift: p50 voice-to-voice and
LLM time to first token over the last 20 measured turns vs the first 20.

Writes ``OUT/<history>/`` (the run's turns.csv, events.jsonl, summary.json, report.html;
no WAVs), ``OUT/resources.csv`` (history, turn, RSS MB, threads, tasks),
``OUT/summary.json`` and ``OUT/soak.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from pathlib import Path

import matplotlib
import pandas as pd
import psutil
from matplotlib.figure import Figure

from voicelab.config import load_config, with_overrides
from voicelab.events import Event, StateChanged
from voicelab.lab.node import node_info
from voicelab.lab.runner import run_experiment
from voicelab.stages import load_stages

WINDOW = 20
"""Turns at each end of the session whose p50 is compared (issue 17: first 20 vs last 20)."""


def rss_mb() -> float:
    proc = psutil.Process()
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


class ResourceSampler:
    """A trace listener: RSS, threads and asyncio tasks each time a turn returns to idle."""

    def __init__(self, label: str) -> None:
        self.label, self.rows = label, []

    def __call__(self, e: Event) -> None:
        if isinstance(e, StateChanged) and e.new == "idle" and e.old != "idle":
            try:
                tasks = len(asyncio.all_tasks())
            except RuntimeError:  # not in the loop's thread: nothing to count
                tasks = -1
            self.rows.append({"history": self.label, "turn": e.turn, "t_s": e.t_ms / 1000, "rss_mb": rss_mb(),
                              "threads": threading.active_count(), "tasks": tasks})


def drift(turns: pd.DataFrame, column: str) -> dict:
    live = pd.to_numeric(turns.loc[~turns["warmup"].astype(bool), column], errors="coerce").dropna()
    first, last = float(live.iloc[:WINDOW].median()), float(live.iloc[-WINDOW:].median())
    return {"first_p50_ms": first, "last_p50_ms": last, "drift_ms": last - first}


def run_one(cfg, stages, label: str, out: Path) -> tuple[dict, list[dict]]:
    sampler = ResourceSampler(label)
    result = run_experiment(cfg, out / label, stages=stages, keep_audio=False, progress=True, listeners=[sampler])
    turns = result.turns
    first_live = int(turns.loc[~turns["warmup"].astype(bool), "turn"].iloc[0])
    rows = sampler.rows
    start = next(r for r in rows if r["turn"] == first_live - 1)  # after the warm-up turn
    end = rows[-1]
    summary = {"max_history_turns": cfg.llm.max_history_turns, "turns": int((~turns["warmup"].astype(bool)).sum()),
               "session_wall_s": result.summary["session_wall_s"],
               "rss_start_mb": start["rss_mb"], "rss_end_mb": end["rss_mb"],
               "rss_growth_pct": 100 * (end["rss_mb"] - start["rss_mb"]) / start["rss_mb"],
               "rss_max_mb": max(r["rss_mb"] for r in rows),
               "threads_start": start["threads"], "threads_end": end["threads"],
               "threads_max": max(r["threads"] for r in rows),
               "tasks_start": start["tasks"], "tasks_end": end["tasks"], "tasks_max": max(r["tasks"] for r in rows),
               "voice_to_voice": drift(turns, "voice_to_voice_latency_ms"), "llm_ttft": drift(turns, "llm_ttft_ms"),
               "failed_turns": int(turns["failed"].fillna(False).astype(bool).sum()) if "failed" in turns else 0}
    return summary, rows


@matplotlib.rc_context({"font.size": 9})
def figure(resources: pd.DataFrame, runs: dict[str, pd.DataFrame]) -> Figure:
    fig = Figure(figsize=(9.0, 3.2), layout="constrained")
    rss, v2v, ttft = fig.subplots(1, 3)
    for label, turns in runs.items():
        r = resources[resources["history"] == label]
        rss.plot(r["turn"], r["rss_mb"], label=f"history {label}")
        live = turns[~turns["warmup"].astype(bool)]
        v2v.plot(live["turn"], live["voice_to_voice_latency_ms"], ".", alpha=0.6, label=f"history {label}")
        ttft.plot(live["turn"], live["llm_ttft_ms"], ".", alpha=0.6, label=f"history {label}")
    for ax, title in ((rss, "RSS (MB)"), (v2v, "voice-to-voice (ms)"), (ttft, "LLM TTFT (ms)")):
        ax.set_xlabel("turn")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    rss.legend(fontsize=7)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/soak"))
    ap.add_argument("--history", nargs="+", default=["all", "4"],
                    help="llm.max_history_turns per run: `all` (no bound) or a number of exchanges")
    args = ap.parse_args()
    base = load_config(args.config)
    args.out.mkdir(parents=True, exist_ok=True)
    stages = load_stages(base)
    summaries, rows, runs = {}, [], {}
    for label in args.history:
        bound = None if label == "all" else int(label)
        cfg = with_overrides(base, {"llm.max_history_turns": bound}, "--history")
        summaries[label], sampled = run_one(cfg, stages, label, args.out)
        rows += sampled
        runs[label] = pd.read_csv(args.out / label / "turns.csv")
        print(json.dumps({label: summaries[label]}, indent=1), flush=True)
    resources = pd.DataFrame(rows)
    resources.to_csv(args.out / "resources.csv", index=False)
    summary = {"config": str(args.config), "node": node_info(), "window_turns": WINDOW, "runs": summaries}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    figure(resources, runs).savefig(args.out / "soak.png", dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
