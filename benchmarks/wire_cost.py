"""The wire's own cost: one client over ``voicelab serve`` against ``voicelab run``, paired by clip.

Usage::

    .venv/bin/python benchmarks/wire_cost.py experiments/serve_load.yaml --rounds 4 --out docs/results/wire_cost

One ``voicelab serve CONFIG`` subprocess (its own models, loaded once) and this process's own
models (loaded once). Each round runs the config's clips twice on the same config: in process
(``voicelab run``: virtual microphone and speaker) and as one ``voicelab bench`` client over
loopback, in alternating order (run first in even rounds) so that a drift of the machine
falls on both sides. Voice-to-voice is the true speech end (the clip's annotation) to the first
reply sample: played on the virtual speaker for the run, received by the client for the bench.

The cost is the median of the per-clip paired differences (wire - run, same round and clip),
with a 95 % bootstrap interval of that median (:func:`scipy.stats.bootstrap`, percentile
method, 10,000 resamples, seed 0); beside it the difference of the two p50s, as
``benchmarks/serve_load.py`` reports it.

Writes ``OUT/round-<r>/run/`` and ``OUT/round-<r>/bench/`` (each run's tables),
``OUT/pairs.csv`` (round, clip, both V2Vs, the difference, the bench's wire delay),
``OUT/pairs.png`` (the differences per round) and ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import bootstrap

from voicelab.bench.run import run_bench
from voicelab.config import load_config
from voicelab.lab.node import node_info
from voicelab.lab.runner import run_experiment
from voicelab.stages import load_stages

from serve_load import _free_port, _serve

V2V = "voice_to_voice_latency_ms"


def _measured(table: pd.DataFrame, side: str) -> pd.DataFrame:
    """One row per measured (non-warm-up) clip: ``clip``, ``<side>_v2v_ms`` (+ ``wire_delay_ms``)."""
    live = table[~table["warmup"].astype(bool)]
    cols = {"clip": live["clip"].to_numpy(), f"{side}_v2v_ms": live[V2V].to_numpy()}
    if "wire_delay_ms" in live:
        cols["wire_delay_ms"] = live["wire_delay_ms"].to_numpy()
    return pd.DataFrame(cols)


def paired(run: pd.DataFrame, wire: pd.DataFrame) -> pd.DataFrame:
    """Join one round's run and bench tables by clip; ``diff_ms`` = wire - run (NaN if either
    turn went unanswered). Raises ValueError if the two did not say the same clips."""
    a, b = _measured(run, "run"), _measured(wire, "wire")
    if sorted(a["clip"]) != sorted(b["clip"]):
        raise ValueError(f"run and bench said different clips: {sorted(a['clip'])} vs {sorted(b['clip'])}")
    out = a.merge(b, on="clip", validate="one_to_one")
    out["diff_ms"] = out["wire_v2v_ms"] - out["run_v2v_ms"]
    return out


def median_ci(x: np.ndarray) -> tuple[float, float, float]:
    """Median of ``x`` (NaNs dropped) and its 95 % percentile-bootstrap interval."""
    x = x[np.isfinite(x)]
    ci = bootstrap((x,), np.median, confidence_level=0.95, n_resamples=10_000, method="percentile",
                   random_state=np.random.default_rng(0)).confidence_interval
    return float(np.median(x)), float(ci.low), float(ci.high)


@matplotlib.rc_context({"font.size": 9})
def _figure(pairs: pd.DataFrame, median: float, goal_ms: float) -> Figure:
    fig = Figure(figsize=(7.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for r, g in pairs.groupby("round"):
        ax.scatter(r + rng.uniform(-0.12, 0.12, len(g)), g["diff_ms"], s=14, color="#1f77b4")
    ax.axhline(median, color="black", label=f"median of pairs {median:+.0f} ms")
    ax.axhline(goal_ms, color="#d62728", linestyle="--", label=f"goal +{goal_ms:.0f} ms")
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xticks(sorted(pairs["round"].unique()))
    ax.set_xlabel("round")
    ax.set_ylabel("V2V over the wire - in process (ms)")
    ax.legend(loc="best")
    ax.grid(axis="y", alpha=0.3)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/wire_cost"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--goal-ms", type=float, default=20.0)
    args = ap.parse_args()
    cfg = load_config(args.config)
    args.out.mkdir(parents=True, exist_ok=True)

    stages = load_stages(cfg, log=lambda m: None)
    port = _free_port()
    proc = _serve(args.config, port)
    rounds = []
    try:
        for r in range(args.rounds):
            out = args.out / f"round-{r}"
            tables = {}
            for side in (("run", "bench") if r % 2 == 0 else ("bench", "run")):
                print(f"round {r + 1}/{args.rounds}: {side} ...", flush=True)
                if side == "run":
                    tables[side] = run_experiment(cfg, out / "run", stages=stages, log=lambda m: None, report=False,
                                                  keep_audio=False).turns
                else:
                    tables[side] = run_bench(f"ws://127.0.0.1:{port}", cfg.clips, out / "bench", clients=1,
                                             warmup_turns=cfg.warmup_turns, report=False, log=lambda m: None)
            rounds.append(paired(tables["run"], tables["bench"]).assign(round=r))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    pairs = pd.concat(rounds, ignore_index=True)
    pairs.to_csv(args.out / "pairs.csv", index=False)
    med, lo, hi = median_ci(pairs["diff_ms"].to_numpy())
    run_p50, wire_p50 = float(pairs["run_v2v_ms"].median()), float(pairs["wire_v2v_ms"].median())
    _figure(pairs, med, args.goal_ms).savefig(args.out / "pairs.png", dpi=110)
    summary = {"config": str(args.config), "node": node_info(), "rounds": args.rounds, "pairs": int(len(pairs)),
               "answered_both": int(pairs["diff_ms"].notna().sum()),
               "paired_diff_median_ms": med, "paired_diff_ci95_ms": [lo, hi],
               "run_v2v_p50_ms": run_p50, "wire_v2v_p50_ms": wire_p50, "p50_diff_ms": wire_p50 - run_p50,
               "wire_delay_p50_ms": float(pairs["wire_delay_ms"].median()), "goal_ms": args.goal_ms,
               "server_exit_code": proc.returncode}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(pairs.groupby("round")[["run_v2v_ms", "wire_v2v_ms", "diff_ms"]].median().round(0).to_string())
    print(f"paired difference median {med:+.0f} ms (95 % CI {lo:+.0f} .. {hi:+.0f}); "
          f"p50 {wire_p50:.0f} over the wire vs {run_p50:.0f} in process ({wire_p50 - run_p50:+.0f})")


if __name__ == "__main__":
    main()
