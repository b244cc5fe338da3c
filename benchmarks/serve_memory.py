"""Memory per extra session of ``voicelab serve``, and what is left after the sessions close.

Usage::

    .venv/bin/python benchmarks/serve_memory.py experiments/serve_load.yaml --out docs/results/serve_memory

Starts ``voicelab serve CONFIG`` (its own process, the models loaded once, SQLite store in a
temporary ``$VOICELAB_HOME``-independent file), then opens ``--sessions`` sessions one after
another and keeps them open: each says one bundled clip at real-time pace, waits for its
reply to complete, then goes quiet (its microphone timeline stops growing). After each, the
server's resident memory (RSS, with its TTS worker process if any) is read with psutil.
Then every session says ``stop``, and RSS is read again after 5 s. That is one round; the
second (``--rounds``) does it again: a closed session's leaked memory would raise the
after-close RSS round on round (CPython and glibc keep freed memory for reuse, so the first
round's after-close RSS does not return to the start).

Writes ``OUT/memory.csv`` (round, sessions open -> RSS MB), ``OUT/summary.json`` (RSS with
the models loaded, the first session's and the median extra session's increase, RSS after
each round closed, and its growth between rounds) and ``OUT/memory.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import psutil
from matplotlib.figure import Figure
from websockets.asyncio.client import connect

from voicelab.audio.clips import resolve_clip
from voicelab.config import load_config
from voicelab.lab.node import node_info
from voicelab.serve.protocol import encode_pcm16

from serve_load import _free_port, _serve


def rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


async def one_turn(url: str, audio: np.ndarray):
    """Open a session, say ``audio`` then 3 s of silence at real-time pace, wait for the reply."""
    ws = await connect(url, max_size=None)
    await ws.send(json.dumps({"type": "start"}))
    done = asyncio.Event()

    async def read():
        async for frame in ws:
            if isinstance(frame, str) and json.loads(frame)["type"] == "response_complete":
                done.set()
    reader = asyncio.create_task(read())
    pcm = np.concatenate([audio, np.zeros(3 * 16000, dtype=np.float32)])
    t0 = time.perf_counter()
    for i in range(0, len(pcm), 512):
        await asyncio.sleep(max(0.0, t0 + (i + 512) / 16000 - time.perf_counter()))
        await ws.send(encode_pcm16(pcm[i:i + 512]))
    await asyncio.wait_for(done.wait(), 180)
    return ws, reader


async def measure(url: str, pid: int, clips: list[str], sessions: int, rounds: int) -> tuple[list[dict], list[float]]:
    """``rounds`` times: open ``sessions`` sessions one by one (RSS after each), close them all
    (RSS 5 s later). Memory that a closed session leaked grows the after-close RSS round on round."""
    rows, closed = [{"round": 0, "sessions": 0, "rss_mb": rss_mb(pid)}], []
    for r in range(1, rounds + 1):
        open_ = []
        for k in range(1, sessions + 1):
            clip = resolve_clip(clips[(k - 1) % len(clips)])
            open_.append(await one_turn(url, clip.audio))
            await asyncio.sleep(1.0)
            rows.append({"round": r, "sessions": k, "rss_mb": rss_mb(pid), "clip": clip.name})
            print(f"  round {r}, {k} session(s): {rows[-1]['rss_mb']:.0f} MB", flush=True)
        for ws, reader in open_:
            await ws.send(json.dumps({"type": "stop"}))
            await reader
            await ws.close()
        await asyncio.sleep(5.0)
        closed.append(rss_mb(pid))
        print(f"  round {r}, all closed: {closed[-1]:.0f} MB", flush=True)
    return rows, closed


@matplotlib.rc_context({"font.size": 9})
def figure(table: pd.DataFrame, closed: list[float]) -> Figure:
    fig = Figure(figsize=(6.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    base = table[table["round"] == 0]["rss_mb"].iloc[0]
    for r, color in zip(sorted(set(table["round"]) - {0}), ("#1f77b4", "#ff7f0e", "#2ca02c")):
        t = table[table["round"] == r]
        ax.plot([0, *t["sessions"]], [base if r == 1 else closed[r - 2], *t["rss_mb"]], marker="o", color=color,
                label=f"round {r}: sessions open")
        ax.axhline(closed[r - 1], color=color, linestyle="--", label=f"round {r}: all closed")
    ax.set_xlabel("sessions open (each answered one turn)")
    ax.set_ylabel("server RSS (MB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/serve_memory"))
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cfg = load_config(args.config)
    args.out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = _serve(args.config, port, ["--db", f"sqlite:///{tmp}/memory.db", "--max-sessions", str(args.sessions)])
        try:
            rows, closed = asyncio.run(measure(f"ws://127.0.0.1:{port}", proc.pid, cfg.clips, args.sessions,
                                               args.rounds))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "memory.csv", index=False)
    first = table[table["round"] == 1]["rss_mb"].to_numpy()
    steps = np.diff(first)
    summary = {"config": str(args.config), "node": node_info(), "sessions": args.sessions, "rounds": args.rounds,
               "rss_models_loaded_mb": float(table["rss_mb"][0]),
               "rss_first_session_mb": float(first[0] - table["rss_mb"][0]),
               "rss_per_extra_session_mb_p50": float(np.median(steps)),
               "rss_per_extra_session_mb_max": float(steps.max()),
               "rss_all_open_mb": float(first[-1]), "rss_after_close_mb": closed,
               "rss_growth_between_rounds_mb": float(closed[-1] - closed[0])}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    figure(table, closed).savefig(args.out / "memory.png", dpi=120)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
