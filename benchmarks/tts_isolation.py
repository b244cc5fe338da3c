"""What ``tts.isolation: process`` costs: per request, and end to end.

Usage::

    .venv/bin/python benchmarks/tts_isolation.py experiments/serve_load.yaml --out docs/results/tts_isolation

1. Per request: Kokoro in a worker thread of this process (``KokoroTTS``) and in a spawned
   worker process (``ProcessTTS``, text over a pipe, float32 audio back) synthesize the same
   chunk-sized texts, interleaved (``--reps`` rounds, the order of the two alternating), so
   drift on the machine hits both alike. The difference of the medians is the pipe's cost.
   Also: the worker's start (spawn, load, warm) and its resident memory.
2. End to end: ``voicelab run CONFIG`` with ``tts.isolation`` thread and then process, V2V
   and TTS time-to-first-byte per turn.

Writes ``OUT/requests.csv`` (isolation, text, words, ms), ``OUT/runs/<isolation>/`` (each
run), ``OUT/isolation.png`` and ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import psutil
from matplotlib.figure import Figure

from voicelab.config import load_config, with_overrides
from voicelab.lab.node import node_info
from voicelab.lab.runner import run_experiment
from voicelab.tts import make_tts
from voicelab.tts.process import ProcessTTS

TEXTS = ["Hello there,", "how are you?", "I think so.", "That is a good question.",
         "The weather is lovely today, isn't it?", "Let me tell you a story about a small village.",
         "Sure.", "It was a dark and stormy night, and the rain fell in torrents.",
         "Thank you for asking,", "I would be happy to help you with that."]
"""Chunk-sized texts, 1 to 13 words, as the trigger policies release them."""


def _pct(v: pd.Series, q: float) -> float:
    v = v.dropna()
    return float(np.percentile(v, q)) if len(v) else float("nan")


def per_request(config, reps: int) -> tuple[pd.DataFrame, dict]:
    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    thread = make_tts(config.tts)
    thread.warmup()
    thread_start_ms = (time.perf_counter() - t0) * 1000
    thread_rss_mb = (psutil.Process().memory_info().rss - rss0) / 2**20
    process = ProcessTTS(config.tts)
    worker_rss_mb = psutil.Process(process.process.pid).memory_info().rss / 2**20
    rows = []

    async def timed(tts, text):
        t = time.perf_counter()
        audio = await tts.synthesize(text)
        return (time.perf_counter() - t) * 1000, len(audio)

    async def main():
        for rep in range(reps):
            for i, text in enumerate(TEXTS):
                pair = [("thread", thread), ("process", process)]
                for name, tts in pair if (rep + i) % 2 == 0 else pair[::-1]:
                    ms, n = await timed(tts, text)
                    rows.append({"isolation": name, "rep": rep, "text": text, "words": len(text.split()),
                                 "ms": ms, "audio_s": n / 24000})
    try:
        asyncio.run(main())
    finally:
        process.close()
    table = pd.DataFrame(rows)
    med = table.groupby("isolation")["ms"].median()
    # paired difference: the same text in the same round
    wide = table.pivot_table(index=["rep", "text"], columns="isolation", values="ms")
    diff = wide["process"] - wide["thread"]
    info = {"requests_per_isolation": int(len(table) / 2),
            "thread_ms_p50": float(med["thread"]), "process_ms_p50": float(med["process"]),
            "pipe_cost_ms_p50": float(diff.median()), "pipe_cost_ms_p95": float(np.percentile(diff, 95)),
            "thread_load_ms": thread_start_ms, "process_start_ms": process.start_ms,
            "thread_engine_rss_mb": thread_rss_mb, "worker_rss_mb": worker_rss_mb}
    return table, info


def end_to_end(config, out: Path) -> dict:
    result = {}
    for isolation in ("thread", "process"):
        print(f"  voicelab run, tts.isolation: {isolation} ...", flush=True)
        cfg = with_overrides(config, {"tts.isolation": isolation}, "benchmark")
        run = run_experiment(cfg, out / "runs" / isolation, log=lambda m: None, keep_audio=False)
        live = run.turns[~run.turns["warmup"].astype(bool)]
        result[isolation] = {"turns": len(live), "v2v_p50_ms": _pct(live["voice_to_voice_latency_ms"], 50),
                             "v2v_p95_ms": _pct(live["voice_to_voice_latency_ms"], 95),
                             "tts_ttfb_p50_ms": _pct(live["tts_ttfb_ms"], 50),
                             "v2v_ms": live["voice_to_voice_latency_ms"].tolist()}
    result["v2v_p50_cost_ms"] = result["process"]["v2v_p50_ms"] - result["thread"]["v2v_p50_ms"]
    result["tts_ttfb_p50_cost_ms"] = result["process"]["tts_ttfb_p50_ms"] - result["thread"]["tts_ttfb_p50_ms"]
    return result


@matplotlib.rc_context({"font.size": 9})
def figure(table: pd.DataFrame, e2e: dict) -> Figure:
    fig = Figure(figsize=(8.0, 3.2), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=[2, 1])
    for name, color in (("thread", "#1f77b4"), ("process", "#ff7f0e")):
        t = table[table["isolation"] == name]
        ax.scatter(t["words"] + (0.15 if name == "process" else -0.15), t["ms"], s=8, color=color, label=name)
    ax.set_xlabel("words in the request")
    ax.set_ylabel("synthesis call (ms)")
    ax.set_title("per request (Kokoro, same texts, interleaved)")
    ax.legend()
    ax.grid(alpha=0.3)
    names = ["thread", "process"]
    bx.boxplot([e2e[n]["v2v_ms"] for n in names], tick_labels=names)
    bx.set_ylabel("voice-to-voice (ms)")
    bx.set_title("end to end (voicelab run)")
    bx.grid(axis="y", alpha=0.3)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/tts_isolation"))
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    config = load_config(args.config)
    args.out.mkdir(parents=True, exist_ok=True)
    print("1/2 per request ...", flush=True)
    table, requests = per_request(config, args.reps)
    table.to_csv(args.out / "requests.csv", index=False)
    print(json.dumps(requests, indent=1), flush=True)
    print("2/2 end to end ...", flush=True)
    e2e = end_to_end(config, args.out)
    figure(table, e2e).savefig(args.out / "isolation.png", dpi=120)
    summary = {"config": str(args.config), "node": node_info(), "per_request": requests, "end_to_end": e2e}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in e2e.items() if not isinstance(v, dict)}, indent=1))
    for n in ("thread", "process"):
        print(n, {k: v for k, v in e2e[n].items() if k != "v2v_ms"})


if __name__ == "__main__":
    main()
