"""Scoring duplex runs: each run's trace and scenario -> Full-Duplex-Bench items -> rows.

A run (``voicelab run`` / one sweep run: ``summary.json`` holding the config's ``scenario``,
``events.jsonl``) is cut into items by :func:`voicelab.lab.duplex_scenarios.items_of_scenario`.
On the session clock, from the trace's own user-clip events (:class:`~voicelab.events.TurnPlanned`:
``t_ms`` is the clip's first sample on the microphone; warm-up turns skipped), each turn's
clip-relative segments (the clip sidecar's ``segments``, :mod:`voicelab.lab.duplex_clips`) are
placed at its clip's start; the second turn of an overlap item becomes its ``interruption`` /
``backchannel`` segment. An item runs from its first clip's start to the next item's (the last
one to the trace's last event); the agent's speech in it is the played audio
(:func:`voicelab.measure.duplex_bench.agent_segments_from_trace`, which counts the edge silence
of TTS requests as speech) cut to that window, with the times the agent cut its own speech
(:func:`~voicelab.measure.duplex_bench.agent_cuts_from_trace`), so that a reply that was simply
over during an overlap event is not scored as yielding to it. Item times are shifted to the window's start, as
FDB's per-item ``output.wav`` starts at 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from voicelab.events import Trace, TurnPlanned
from voicelab.lab.duplex_clips import clip_meta, clip_stem
from voicelab.lab.duplex_scenarios import items_of_scenario
from voicelab.lab.sweep import is_finished
from voicelab.measure.duplex_bench import (
    DuplexItem,
    UserSegment,
    agent_cuts_from_trace,
    agent_segments_from_trace,
    item_rows,
)
from voicelab.measure.duplex_bench_agg import aggregate

SECOND_ROLE = {"user_interruption": "interruption", "user_backchannel": "backchannel"}
"""The role of an overlap item's second turn."""

META_COLUMNS = ["run_id", "index", "clips", "offset_ms", "start_ms", "agent_over_user_ms"]
"""Columns added to :func:`voicelab.measure.duplex_bench.item_rows`: the run, the item's index
in it, its clip names (``" ; "``-joined), the second turn's ``offset_ms`` (NaN for one-turn
items), its start on the run's session clock (ms), and ``agent_over_user_ms``: agent speech
overlapping the user's own ``turn`` segments (ms; not an FDB metric: FDB's pause handling
counts the whole output, :mod:`voicelab.measure.duplex_bench` only the pause, so an agent that
endpoints in the pause but starts talking after the user resumed shows here)."""


class DuplexScoreError(ValueError):
    """A run whose trace does not match its scenario."""


def _clip(c: list[float], lo: float, hi: float) -> tuple[float, float] | None:
    s, e = max(c[0], lo), min(c[1], hi)
    return (s, e) if e > s else None


def run_items(run_dir: Path, meta_of: Callable[[str], dict] = clip_meta,
              run_id: str | None = None) -> tuple[list[DuplexItem], list[dict]]:
    """The FDB items of one finished run and one metadata dict each (:data:`META_COLUMNS`).

    ``meta_of``: clip name -> sidecar dict (default :func:`~voicelab.lab.duplex_clips.clip_meta`,
    which needs the built corpus for clips not made yet). Item ids are ``<run_id>#<index>``
    (``run_id`` default: the directory's name).

    Raises:
        DuplexScoreError: no ``scenario`` in the run's config; the trace's non-warm-up clips
            are not the scenario's, in number or name (``clip_stem``).
        ValueError: see :func:`~voicelab.lab.duplex_scenarios.items_of_scenario` and
            :func:`~voicelab.measure.duplex_bench.agent_segments_from_trace`.
    """
    run_id = run_id or run_dir.name
    scenario = json.loads((run_dir / "summary.json").read_text())["config"].get("scenario")
    if not scenario:
        raise DuplexScoreError(f"{run_dir}: the run's config has no scenario")
    trace = Trace.load_jsonl(run_dir / "events.jsonl")
    planned = sorted((e for e in trace.of(TurnPlanned) if not e.warmup), key=lambda e: e.turn)
    if len(planned) != len(scenario):
        raise DuplexScoreError(f"{run_dir}: {len(planned)} scenario clips played, the scenario has {len(scenario)}")
    for i, (p, t) in enumerate(zip(planned, scenario)):
        if p.clip != clip_stem(t["clip"]):
            raise DuplexScoreError(f"{run_dir}: turn {i} played {p.clip!r}, the scenario says {t['clip']!r}")
    metas = {t["clip"]: meta_of(t["clip"]) for t in scenario}
    groups = items_of_scenario(scenario, lambda c: metas[c]["kind"])
    agent = agent_segments_from_trace(trace)
    cuts = agent_cuts_from_trace(trace)
    end = max(e.t_ms for e in trace)
    items, rows = [], []
    for k, (cat, idx) in enumerate(groups):
        w0 = planned[idx[0]].t_ms
        w1 = planned[groups[k + 1][1][0]].t_ms if k + 1 < len(groups) else end
        user = []
        for j, i in enumerate(idx):
            for s, e, role in metas[scenario[i]["clip"]]["segments"]:
                role = SECOND_ROLE[cat] if j == 1 else role
                user.append(UserSegment(planned[i].t_ms + s - w0, planned[i].t_ms + e - w0, role))
        segs = [c for c in (_clip(list(a), w0, w1) for a in agent) if c is not None]
        over = sum(max(0.0, min(e, u.end_ms + w0) - max(s, u.start_ms + w0))
                   for s, e in segs for u in user if u.role == "turn")
        items.append(DuplexItem(f"{run_id}#{k:02d}", cat, tuple(user), tuple((s - w0, e - w0) for s, e in segs),
                                end_ms=max(w1 - w0, *(u.end_ms for u in user)),
                                group=metas[scenario[idx[0]]["clip"]]["group"],
                                cuts=tuple(c - w0 for c in cuts if w0 <= c <= w1)))
        rows.append({"run_id": run_id, "index": k, "clips": " ; ".join(scenario[i]["clip"] for i in idx),
                     "offset_ms": float(scenario[idx[1]]["offset_ms"]) if len(idx) > 1 else float("nan"),
                     "start_ms": w0, "agent_over_user_ms": over})
    return items, rows


def finished_runs(sweep_dir: Path) -> list[tuple[str, Path]]:
    """``(run_id, path)`` of every finished run of a sweep directory (``runs/<point>/rep-<k>``),
    sorted; a single run directory (``summary.json`` in it) is one run named after it."""
    if (sweep_dir / "summary.json").is_file():
        return [(sweep_dir.name, sweep_dir)]
    runs = sorted(p for p in (sweep_dir / "runs").glob("*/rep-*") if p.is_dir() and is_finished(p))
    return [(f"{p.parent.name}/{p.name}", p) for p in runs]


def score_runs(sweep_dir: Path, meta_of: Callable[[str], dict] = clip_meta, *, n_boot: int = 2000,
               seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Item rows (:func:`~voicelab.measure.duplex_bench.item_rows` + :data:`META_COLUMNS`) of every
    finished run of ``sweep_dir`` (finished or partly finished sweep, or one run directory),
    and the per-category aggregates with 95 % cluster-bootstrap CIs resampling source recordings
    (:func:`voicelab.measure.duplex_bench_agg.aggregate`, ``n_boot`` resamples, ``seed``).

    Raises:
        DuplexScoreError: no finished run; see :func:`run_items`.
    """
    runs = finished_runs(sweep_dir)
    if not runs:
        raise DuplexScoreError(f"{sweep_dir}: no finished run (runs/<point>/rep-<k>/ with turns.csv, events.jsonl, "
                               "summary.json)")
    items, meta = [], []
    for run_id, path in runs:
        its, rows = run_items(path, meta_of, run_id)
        items += its
        meta += rows
    rows = pd.concat([item_rows(items), pd.DataFrame(meta, columns=META_COLUMNS)], axis=1)
    return rows, aggregate(rows, n_boot=n_boot, seed=seed)
