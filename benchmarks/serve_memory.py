"""Memory per extra session of ``voicelab serve``, and what is left after the sessions close.

Usage::

    .venv/bin/python benchmarks/serve_memory.py experiments/serve_load.yaml --out docs/results/serve_memory

Starts ``voicelab serve CONFIG`` (its own process, the models loaded once, SQLite store in a
temporary ``$VOICELAB_HOME``-independent file), then opens ``--sessions`` sessions one after
another and keeps them open: each says one bundled clip at real-time pace, waits for its
reply to complete, then goes quiet (its microphone timeline stops growing). After each, the
server's resident memory (RSS, with its TTS worker process if any) is read with psutil.
Then every session says ``stop``, and RSS is read again after 5 s.

Writes ``OUT/memory.csv`` (sessions open -> RSS MB), ``OUT/summary.json`` (RSS with the
models loaded, the median increase per extra session, RSS after every session closed) and
``OUT/memory.png``.
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

from serve_load import _free_port, _serve
from voicelab.audio.clips import resolve_clip
from voicelab.config import load_config
from voicelab.lab.node import node_info
from voicelab.serve.protocol import encode_pcm16


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
    await asyncio.wait_for(done.wait(), 60)
    return ws, reader


async def measure(url: str, pid: int, clips: list[str], sessions: int) -> tuple[list[dict], float]:
    rows = [{"sessions": 0, "rss_mb": rss_mb(pid)}]
    open_ = []
    for k in range(1, sessions + 1):
        clip = resolve_clip(clips[(k - 1) % len(clips)])
        open_.append(await one_turn(url, clip.audio))
        await asyncio.sleep(1.0)
        rows.append({"sessions": k, "rss_mb": rss_mb(pid), "clip": clip.name})
        print(f"  {k} session(s): {rows[-1]['rss_mb']:.0f} MB", flush=True)
    for ws, reader in open_:
        await ws.send(json.dumps({"type": "stop"}))
        await reader
        await ws.close()
    await asyncio.sleep(5.0)
    return rows, rss_mb(pid)


@matplotlib.rc_context({"font.size": 9})
def figure(table: pd.DataFrame, closed: float) -> Figure:
    fig = Figure(figsize=(6.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(table["sessions"], table["rss_mb"], marker="o", label="sessions open")
    ax.axhline(closed, color="gray", linestyle="--", label="after all closed")
    ax.set_xlabel("sessions open (each answered one turn)")
    ax.set_ylabel("server RSS (MB)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/serve_memory"))
    ap.add_argument("--sessions", type=int, default=8)
    args = ap.parse_args()
    cfg = load_config(args.config)
    args.out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = _serve(args.config, port, ["--db", f"sqlite:///{tmp}/memory.db", "--max-sessions", str(args.sessions)])
        try:
            rows, closed = asyncio.run(measure(f"ws://127.0.0.1:{port}", proc.pid, cfg.clips, args.sessions))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "memory.csv", index=False)
    steps = np.diff(table["rss_mb"].to_numpy())
    summary = {"config": str(args.config), "node": node_info(), "rss_models_loaded_mb": float(table["rss_mb"][0]),
               "rss_first_session_mb": float(steps[0]), "rss_per_extra_session_mb_p50": float(np.median(steps[1:])),
               "rss_per_extra_session_mb_max": float(steps[1:].max()),
               "rss_all_open_mb": float(table["rss_mb"].iloc[-1]), "rss_after_close_mb": closed}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    figure(table, closed).savefig(args.out / "memory.png", dpi=120)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
