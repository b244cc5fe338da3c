"""``voicelab serve`` under load, and the wire's own cost, measured from the client's side.

Usage::

    .venv/bin/python benchmarks/serve_load.py experiments/serve_load.yaml --out docs/results/serve_load

1. ``voicelab run CONFIG`` in this process: the in-process figure (virtual microphone and speaker).
2. ``voicelab serve CONFIG`` in a subprocess (its own models, loaded once), then for each N in
   ``--clients`` (default 1 2 4 8): ``voicelab bench`` with N concurrent clients, each saying
   the config's clips once after one warm-up turn, at real-time pace.

Writes ``OUT/run/`` (the in-process run), ``OUT/bench-<N>/`` (each bench run),
``OUT/load.csv`` (per N: turns, answered, turns said over the previous reply, V2V p50/p95,
the server's own V2V p50 and its error, the wire delay p50), ``OUT/load.png`` (V2V per turn
against N) and ``OUT/summary.json`` (including the wire's cost: V2V p50 of one client over
the wire minus ``voicelab run``'s).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from voicelab.bench.run import run_bench
from voicelab.config import load_config
from voicelab.lab.node import node_info
from voicelab.lab.runner import run_experiment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(config: Path, port: int, extra: list[str] = ()) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "voicelab.cli", "serve", str(config), "--port", str(port),
                             *extra], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voicelab serve exited: {proc.stderr.read()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("voicelab serve did not come up")


def _row(n: int, table: pd.DataFrame) -> dict:
    live = table[~table["warmup"].astype(bool)]
    v2v = live["voice_to_voice_latency_ms"].dropna()
    pct = (lambda q: float(np.percentile(v2v, q)) if len(v2v) else float("nan"))  # noqa: E731
    # the clip's speech ended before the client had received all of the previous turn's reply:
    # said over it (a half-duplex agent does not hear it)
    previous_end = live.groupby("client")["received_audio_end_ms"].shift()
    over = int((live["speech_end_ms"] < previous_end).sum())
    return {"clients": n, "turns": len(live), "answered": int(v2v.count()), "said_over_reply": over,
            "v2v_p50_ms": pct(50),
            "v2v_p95_ms": pct(95), "server_v2v_p50_ms": float(live["peer_reported_v2v_ms"].median()),
            "server_error_p50_ms": float(live["peer_v2v_error_ms"].median()),
            "wire_delay_p50_ms": float(live["wire_delay_ms"].median())}


@matplotlib.rc_context({"font.size": 9})
def _figure(tables: dict[int, pd.DataFrame], run_v2v: pd.Series) -> Figure:
    fig = Figure(figsize=(7.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    xs = list(tables)
    for i, n in enumerate(xs):
        live = tables[n][~tables[n]["warmup"].astype(bool)]
        v = live["voice_to_voice_latency_ms"].dropna().to_numpy() / 1000
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=10, color="#1f77b4")
        if len(v):
            ax.plot([i - 0.25, i + 0.25], [np.median(v)] * 2, color="black")
    r = run_v2v.dropna().to_numpy() / 1000
    ax.scatter(-1 + rng.uniform(-0.15, 0.15, len(r)), r, s=10, color="#ff7f0e")
    ax.plot([-1.25, -0.75], [np.median(r)] * 2, color="black")
    ax.set_xticks([-1, *range(len(xs))], ["voicelab run\n(in process)", *[f"{n} client{'s' * (n > 1)}" for n in xs]])
    ax.set_ylabel("voice-to-voice (s), client-measured")
    ax.set_yscale("log")
    ax.grid(axis="y", which="both", alpha=0.3)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/serve_load"))
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    args = ap.parse_args()
    cfg = load_config(args.config)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    print("1/2 voicelab run (in process) ...", flush=True)
    run = run_experiment(cfg, out / "run", log=lambda m: None, keep_audio=False)
    run_live = run.turns[~run.turns["warmup"].astype(bool)]
    run_p50 = float(run_live["voice_to_voice_latency_ms"].median())

    print("2/2 voicelab serve + bench ...", flush=True)
    port = _free_port()
    proc = _serve(args.config, port)
    tables: dict[int, pd.DataFrame] = {}
    try:
        for n in args.clients:
            print(f"  {n} client(s) ...", flush=True)
            tables[n] = run_bench(f"ws://127.0.0.1:{port}", cfg.clips, out / f"bench-{n}", clients=n,
                                  warmup_turns=cfg.warmup_turns, report=False, log=lambda m: None)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    load = pd.DataFrame([_row(n, t) for n, t in tables.items()])
    load.to_csv(out / "load.csv", index=False)
    _figure(tables, run_live["voice_to_voice_latency_ms"]).savefig(out / "load.png", dpi=110)
    one = load.loc[load["clients"] == 1, "v2v_p50_ms"]
    summary = {"config": str(args.config), "node": node_info(), "run_v2v_p50_ms": run_p50,
               "run_turns": int(len(run_live)),
               "wire_cost_v2v_p50_ms": float(one.iloc[0]) - run_p50 if len(one) else None,
               "load": load.to_dict(orient="records"), "server_exit_code": proc.returncode}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(load.to_string(index=False))
    print(f"voicelab run V2V p50 {run_p50:.0f} ms; wire cost (1 client) {summary['wire_cost_v2v_p50_ms']:+.0f} ms")


if __name__ == "__main__":
    main()
