"""The published page of a duplex sweep: ``README.md``, ``items.csv``, ``aggregate.csv``,
``duplex.png`` (TOR and latency per category with 95 % CI whiskers) in ``docs/results/duplex/<agent>/``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from voicelab.lab.duplex_scenarios import CATEGORIES

LOWER_TOR_IS_BETTER = {"pause_handling", "user_backchannel", "background_speech"}
"""Categories where the agent should *not* take the turn / yield (FDB v1 pause handling;
v1.5 backchannel and background speech); higher TOR is better for the other two."""

TABLE = [("tor_rate", "TOR", "rate"), ("latency_ms_p50", "latency p50", "ms"),
         ("latency_ms_mean", "latency mean", "ms"), ("stop_latency_ms_p50", "stop latency p50", "ms"),
         ("response_latency_ms_p50", "response latency p50", "ms")]
"""(metric, column title, unit) of the README table."""


def _cell(agg: pd.DataFrame, cat: str, metric: str, unit: str) -> str:
    r = agg[(agg["category"] == cat) & (agg["metric"] == metric)]
    if r.empty:
        return "–"
    r = r.iloc[0]
    fmt = (lambda v: f"{v:.2f}") if unit == "rate" else (lambda v: f"{v:.0f}")
    ci = "" if math.isnan(r["ci_low"]) else f" [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"
    return f"{fmt(r['estimate'])}{ci} (n={int(r['n'])})"


def markdown_table(agg: pd.DataFrame) -> str:
    """Categories as rows, :data:`TABLE` metrics as columns: estimate [95 % CI] (n)."""
    cats = [c for c in CATEGORIES if c in set(agg["category"])]
    lines = ["| category | " + " | ".join(t for _, t, _ in TABLE) + " |", "|---" * (len(TABLE) + 1) + "|"]
    for c in cats:
        better = " (lower TOR better)" if c in LOWER_TOR_IS_BETTER else ""
        lines.append(f"| {c}{better} | " + " | ".join(_cell(agg, c, m, u) for m, _, u in TABLE) + " |")
    return "\n".join(lines)


def plot(agg: pd.DataFrame, path: Path, title: str) -> None:
    """Two panels: TOR rate and latency (``latency_ms_mean``; overlap categories also
    ``stop_latency_ms_mean``) per category, error bars the 95 % CI. Written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cats = [c for c in CATEGORIES if c in set(agg["category"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    series = [(axes[0], [("tor_rate", "TOR")]),
              (axes[1], [("latency_ms_mean", "latency (TOR 1)"), ("stop_latency_ms_mean", "stop latency")])]
    for ax, metrics in series:
        for j, (metric, label) in enumerate(metrics):
            xs, ys, lo, hi = [], [], [], []
            for i, c in enumerate(cats):
                r = agg[(agg["category"] == c) & (agg["metric"] == metric)]
                if r.empty:
                    continue
                r = r.iloc[0]
                est = r["estimate"]
                xs.append(i + 0.2 * j - 0.1 * (len(metrics) - 1))
                ys.append(est)
                lo.append(0.0 if math.isnan(r["ci_low"]) else est - r["ci_low"])
                hi.append(0.0 if math.isnan(r["ci_high"]) else r["ci_high"] - est)
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=4, label=label)
        ax.set_xticks(range(len(cats)), [c.replace("_", "\n") for c in cats], fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("turn-over rate")
    axes[0].set_ylim(-0.05, 1.05)
    axes[1].set_ylabel("ms")
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _environment(sweep_dir: Path) -> str:
    for p in [sweep_dir / "sweep.json", *sorted(sweep_dir.glob("runs/*/rep-*/summary.json"))[:1],
              sweep_dir / "summary.json"]:
        if p.is_file():
            d = json.loads(p.read_text())
            env = d.get("environment", d)
            node = env.get("node") or {}
            cpu = node.get("cpu_model") or (env.get("machine") or {}).get("processor", "?")
            return f"{cpu}, {node.get('cores', (env.get('machine') or {}).get('cpu_count', '?'))} CPUs"
    return "unknown machine"


def write_page(out_dir: Path, rows: pd.DataFrame, agg: pd.DataFrame, *, title: str, sweep_dir: Path,
               command: str = "") -> list[Path]:
    """Write ``README.md``, ``items.csv``, ``aggregate.csv`` and ``duplex.png`` into ``out_dir``
    (created); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / n for n in ("README.md", "items.csv", "aggregate.csv", "duplex.png")]
    rows.to_csv(paths[1], index=False)
    agg.to_csv(paths[2], index=False)
    plot(agg, paths[3], title)
    counts = rows.groupby("category").size().reindex([c for c in CATEGORIES if c in set(rows["category"])])
    text = [
        f"# {title}", "",
        f"Full-Duplex-Bench v1/v1.5 metrics (`voicelab/measure/duplex_bench.py`) on {len(rows)} items from "
        f"{rows['run_id'].nunique()} runs ({', '.join(f'{c}: {n}' for c, n in counts.items())}), "
        f"measured on {_environment(sweep_dir)}.", "",
        "Estimate [95 % CI] (n items with a value). CIs: percentile bootstrap resampling *source "
        "recordings* (`voicelab/measure/duplex_bench_agg.py`). TOR = turn-over rate (FDB's take-turn rule; "
        "for user backchannel and background speech: the agent yielded the floor, i.e. cut its own reply short "
        "during the event; a reply that was simply over then is not a yield). Latency: agent onset - "
        "user end (smooth turn-taking) or interruption end (user interruption), TOR 1 items only. Stop "
        "latency: overlap of the agent's speech with the overlap event (v1.5). Response latency: event end to "
        "the next agent onset (v1.5). Agent speech = played audio from the trace (TTS edge silence included).",
        "", markdown_table(agg), "", "![TOR and latency per category](duplex.png)", "",
        "Not an FDB metric: items where the agent talked over the user's own turn (`agent_over_user_ms` > 0; "
        "e.g. it endpointed in a pause but its audio came after the user resumed): "
        + ", ".join(f"{c} {int((g['agent_over_user_ms'] > 0).sum())}/{len(g)}"
                    for c, g in rows.groupby("category", sort=False)) + ".", "",
        "Replies that simply ended during an overlap event (`ended_in_event`, not counted as yielding): "
        + (", ".join(f"{c} {int(g['ended_in_event'].fillna(False).sum())}/{int(g['overlapped'].fillna(False).sum())}"
                     " overlapped" for c, g in rows.groupby("category", sort=False) if g["overlapped"].notna().any())
           or "none") + ".", "",
        "Files: `items.csv` (one row per item), `aggregate.csv` (every metric per category).",
    ]
    if command:
        text += ["", "Reproduce:", "", "```", command, "```"]
    paths[0].write_text("\n".join(text) + "\n")
    return paths
