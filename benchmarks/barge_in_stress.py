"""Stress: 100 randomly timed barge-ins on the real models (issue 17).

Usage::

    .venv/bin/python benchmarks/barge_in_stress.py experiments/quickstart.yaml --out docs/results/barge_in_stress

One session (``voicelab run``'s :func:`~voicelab.lab.runner.run_experiment`) of a normal
turn, then ``--barge-ins`` turns that each start a uniformly random 0..``--max-offset-ms``
after the previous reply's first sample played (a bundled clip each, in turn; seed
``--seed``): barge-ins during generation, during playback, near its end and after it.
The config's first trigger setting answers, with barge-in on (``barge_in.enabled: true``,
the config's other barge-in settings).

Checks, written to ``OUT/summary.json`` (exit status 1 if one fails): the session ended
(no deadlock: a ``--timeout-s`` watchdog); exactly one terminal event per reply (every
``LLMStarted`` has one ``LLMFinished``, every reply that played one ``PlaybackStopped``);
thread and asyncio task counts after the last turn equal those after the warm-up turn. Also
counted: replies cut by a barge-in, the interruption latency (``interruption_latency_ms``) p50 and
max. ``OUT/run/`` holds the run's outputs (no WAVs).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from voicelab.config import load_config, with_overrides
from voicelab.events import LLMFinished, LLMStarted, PlaybackStarted, PlaybackStopped, ResponseCancelled
from voicelab.lab.node import node_info
from voicelab.lab.runner import run_experiment

from soak import ResourceSampler


def scenario(clips: list[str], n: int, max_offset_ms: float, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    turns = [{"clip": clips[0]}]
    for k in range(n):
        turns.append({"clip": clips[(k + 1) % len(clips)], "start": "after_agent_starts",
                      "offset_ms": round(float(rng.uniform(0, max_offset_ms)), 1)})
    return turns


def terminal_events(trace) -> dict:
    started, finished = Counter(e.turn for e in trace.of(LLMStarted)), Counter(e.turn for e in trace.of(LLMFinished))
    played, stopped = (Counter(e.turn for e in trace.of(PlaybackStarted)),
                       Counter(e.turn for e in trace.of(PlaybackStopped)))
    return {"generations": sum(started.values()),
            "generations_not_one_finish": sorted(t for t in set(started) | set(finished) if finished[t] != 1),
            "replies_played": len(played),
            "replies_not_one_stop": sorted(t for t in set(played) | set(stopped) if stopped[t] != 1),
            "replies_cut": sum(e.interrupted for e in trace.of(PlaybackStopped)),
            "responses_cancelled": len(trace.of(ResponseCancelled))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/barge_in_stress"))
    ap.add_argument("--barge-ins", type=int, default=100)
    ap.add_argument("--max-offset-ms", type=float, default=3000.0)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--timeout-s", type=float, default=3600.0, help="dump every thread's stack and exit 2 after this")
    args = ap.parse_args()
    base = load_config(args.config)
    variant = base.resolved_variants()[0]
    cfg = with_overrides(base, {"variants": [], "trigger": variant.trigger.model_dump(mode="json"),
                                "barge_in.enabled": True,
                                "scenario": scenario(base.clips, args.barge_ins, args.max_offset_ms, args.seed)},
                         "barge_in_stress")
    args.out.mkdir(parents=True, exist_ok=True)
    faulthandler.dump_traceback_later(args.timeout_s, exit=True)  # a deadlock ends the run, with stacks
    sampler = ResourceSampler("stress")
    result = run_experiment(cfg, args.out / "run", keep_audio=False, progress=True, listeners=[sampler])
    faulthandler.cancel_dump_traceback_later()
    turns, rows = result.turns, sampler.rows
    first_live = int(turns.loc[~turns["warmup"].astype(bool), "turn"].iloc[0])
    start = next(r for r in rows if r["turn"] == first_live - 1)  # after the warm-up turn: nothing else runs
    end = rows[-1]
    stop = pd.to_numeric(turns["interruption_latency_ms"], errors="coerce").dropna()
    checks = terminal_events(result.session.trace)
    summary = {"config": str(args.config), "trigger": variant.name, "node": node_info(), "barge_ins": args.barge_ins,
               "max_offset_ms": args.max_offset_ms, "seed": args.seed,
               "session_wall_s": result.summary["session_wall_s"], **checks,
               "threads_start": start["threads"], "threads_end": end["threads"],
               "tasks_start": start["tasks"], "tasks_end": end["tasks"],
               "rss_start_mb": start["rss_mb"], "rss_end_mb": end["rss_mb"],
               "interruption_latency_ms_p50": float(stop.median()) if len(stop) else None,
               "interruption_latency_ms_max": float(stop.max()) if len(stop) else None}
    ok = (not checks["generations_not_one_finish"] and not checks["replies_not_one_stop"]
          and start["threads"] == end["threads"] and start["tasks"] == end["tasks"])
    summary["ok"] = ok
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
