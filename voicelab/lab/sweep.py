"""Experiment sweeps: a base config plus a grid of overrides, run fairly and resumably.

Layout of a sweep directory::

    DIR/sweep.json                       grid, repetitions, points, environment, wall time
    DIR/runs/<point_id>/rep-<k>/         one finished run: turns.csv, events.jsonl, summary.json
    DIR/results.parquet                  the tidy table: one row per (point, clip, repetition, turn)
    DIR/report.html, DIR/report.md       written by :mod:`voicelab.reports.sweep_report`

Every run is written to a temporary directory and renamed into place when complete,
so a sweep killed at any moment keeps every finished run and never leaves a partial
one; started again, it skips the finished runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from voicelab.config import ConfigError, ExperimentConfig, TriggerConfig, parse_config, set_path
from voicelab.lab.node import node_kind
from voicelab.lab.outputs import check_output_dir

RUN_FILES = ("turns.csv", "events.jsonl", "summary.json")


@dataclass(frozen=True)
class SweepPoint:
    """One combination of grid values and the validated config it gives."""

    point_id: str
    label: str
    overrides: dict[str, Any]
    config: ExperimentConfig


def _format_value(path: str, value: Any) -> str:
    if path == "trigger" and isinstance(value, dict):
        return TriggerConfig.model_validate(value).label()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _set_path(data: dict, path: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``path`` "a.b.c"; every key must exist."""
    set_path(data, path, value, "invalid sweep: sweep.grid.")


def expand_grid(config: ExperimentConfig) -> list[SweepPoint]:
    """All points of ``config.sweep.grid`` and ``presets`` (cartesian product of
    :meth:`~voicelab.config.SweepConfig.axes`, in order), validated.

    Raises:
        ConfigError: no sweep section, ``variants`` set (a sweep point is one
            variant), a grid path that names no field, or a value that fails
            validation (the message names the grid path and the point).
    """
    if config.sweep is None:
        raise ConfigError("invalid sweep: the config has no `sweep:` section")
    if config.variants:
        raise ConfigError("invalid sweep: `variants` cannot be combined with `sweep` "
                          "(sweep the `trigger` section instead)")
    base = config.model_dump(mode="json", exclude={"sweep"})
    axes = config.sweep.axes()
    points = []
    for index, combo in enumerate(itertools.product(*axes.values())):
        data = copy.deepcopy(base)
        overrides = dict(zip(axes, combo))
        for path, value in overrides.items():
            if path == "preset":
                for p, v in config.sweep.presets[value].items():
                    _set_path(data, p, v)
            else:
                _set_path(data, path, value)
        label = ", ".join(f"{p}={_format_value(p, v)}" for p, v in overrides.items())
        try:
            point_config = parse_config(data, f"(sweep point {label})")
        except ConfigError as err:
            raise ConfigError(f"{err}\n  (from sweep.grid values {overrides})") from None
        digest = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        points.append(SweepPoint(f"p{index:02d}-{digest}", label, overrides, point_config))
    return points


def run_order(points: list[SweepPoint], repetitions: int) -> list[tuple[SweepPoint, int]]:
    """Repetition-major order, rotating the points by one per repetition.

    Every point runs once per round, and each point takes every position in the
    round across repetitions, so slow drift of the machine (thermal, background
    load) does not systematically favour the points that run first.
    """
    n = len(points)
    return [(points[(i + rep) % n], rep) for rep in range(repetitions) for i in range(n)]


def run_dir(sweep_dir: Path, point: SweepPoint, rep: int) -> Path:
    return sweep_dir / "runs" / point.point_id / f"rep-{rep}"


def is_finished(path: Path) -> bool:
    """A run directory exists only once complete (it is renamed into place)."""
    return all((path / f).is_file() for f in RUN_FILES)


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _stage_key(config: ExperimentConfig) -> str:
    """The settings that decide which models :func:`voicelab.stages.load_stages`
    loads: points that share them share one loaded model set."""
    return json.dumps([config.stt.model_dump(), config.llm.model_dump(), config.tts.model_dump(),
                       config.vad.turn_detector], sort_keys=True)


class ModelCache:
    """The model set of the last stage key, loaded once and reused while points share it
    (the previous set is freed before another loads). ``load`` is
    :func:`voicelab.stages.load_stages` unless a test passes a fake; real models get
    each point's own endpointer settings (:func:`voicelab.stages.with_config_endpointer`)."""

    def __init__(self, load: Callable | None = None) -> None:
        from voicelab.stages import load_stages

        self._real = load is None
        self._load = load or load_stages
        self._loaded: dict[str, Any] = {}

    def stages_for(self, config: ExperimentConfig, log: Callable[[str], None]) -> Any:
        from voicelab.stages import with_config_endpointer

        key = _stage_key(config)
        if key not in self._loaded:
            self._loaded.clear()
            self._loaded[key] = self._load(config, log=log)
        stages = self._loaded[key]
        return (with_config_endpointer(stages[0], config), stages[1]) if self._real else stages


def run_point(config: ExperimentConfig, out_dir: Path, cache: ModelCache, run_one: Callable | None,
              keep_audio: bool, log: Callable[[str], None]) -> dict:
    """One run of one point into ``out_dir`` (created); returns its summary."""
    from voicelab.lab import runner

    run_one = run_one or runner.run_experiment
    result = run_one(config, out_dir, stages=cache.stages_for(config, log), log=lambda m: None,
                     report=False, keep_audio=keep_audio)
    return result.summary


Job = tuple[SweepPoint, int]


class InProcessExecutor:
    """Runs the jobs one after another in this process (the default). An exception
    propagates: the sweep stops, keeping every finished run."""

    def __init__(self, run_one: Callable | None = None, load: Callable | None = None) -> None:
        self._run_one, self._cache = run_one, ModelCache(load)
        self.timings: list[dict] = []
        """Per finished run: its run time (model loading included) and when it was written, ms
        since :meth:`run` started (the same fields as :class:`~voicelab.lab.cluster.RayExecutor`'s)."""

    def run(self, jobs: list[Job], tmp_dir: Callable[[SweepPoint, int], Path],
            finished: Callable[[SweepPoint, int, dict], None], failed: Callable[[SweepPoint, int, str], None],
            keep_audio: bool, log: Callable[[str], None], status: Callable[[str], None]) -> None:
        t0 = time.perf_counter()
        for point, rep in jobs:
            status(f"{point.label} rep {rep}")
            t1 = time.perf_counter()
            summary = run_point(point.config, tmp_dir(point, rep), self._cache, self._run_one, keep_audio, log)
            run_ms = (time.perf_counter() - t1) * 1000.0
            finished(point, rep, summary)
            self.timings.append({"run_id": f"{point.point_id}/rep-{rep}", "worker_run_ms": run_ms,
                                 "written_ms": (time.perf_counter() - t0) * 1000.0})


def run_sweep(config: ExperimentConfig, sweep_dir: Path, log: Callable[[str], None] = print,
              run_one: Callable | None = None, load: Callable | None = None,
              executor: Any | None = None) -> pd.DataFrame:
    """Run every (point, repetition) not finished yet, then build the results table.

    ``run_one`` / ``load`` default to :func:`voicelab.lab.runner.run_experiment` and
    :func:`voicelab.stages.load_stages` (tests pass fakes). Models are loaded once
    per distinct STT/LLM/TTS setting and reused across points. ``executor``: where runs
    execute, :class:`InProcessExecutor` (built from ``run_one``/``load``) by default, or a
    :class:`voicelab.lab.cluster.RayExecutor`. Each finished run lands atomically under
    ``runs/<point>/rep-<k>/`` as it completes; runs an executor gives up on are listed in
    ``sweep.json`` (``failed``) and left for the next invocation.

    Returns:
        the results table (also written to ``results.parquet``).

    Raises:
        voicelab.lab.outputs.OutputError: ``sweep_dir`` cannot be written or its disk is full.
    """
    executor = executor or InProcessExecutor(run_one, load)
    points = expand_grid(config)
    check_output_dir(sweep_dir)  # before any model loads
    (sweep_dir / "runs").mkdir(exist_ok=True)
    for stale in (sweep_dir / "runs").glob(".tmp-*"):
        shutil.rmtree(stale)  # a run interrupted mid-way: it is redone
    meta_path = sweep_dir / "sweep.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta.update({
        "name": config.name,
        "grid": config.sweep.axes(),
        "presets": config.sweep.presets,
        "repetitions": config.sweep.repetitions,
        "points": [{"point_id": p.point_id, "label": p.label, "overrides": p.overrides} for p in points],
        "base_config": config.model_dump(mode="json"),
        "executor": type(executor).__name__,
    })
    meta.pop("failed", None)
    _write_json_atomic(meta_path, meta)

    order = run_order(points, config.sweep.repetitions)
    todo = [(p, r) for p, r in order if not is_finished(run_dir(sweep_dir, p, r))]
    if todo:
        log(f"{len(order) - len(todo)} of {len(order)} runs already finished; running {len(todo)}")
    failures: list[dict] = []
    t0 = time.perf_counter()
    with tqdm(total=len(order), initial=len(order) - len(todo), unit="run", desc=config.name) as bar:
        def tmp_dir(point: SweepPoint, rep: int) -> Path:
            return sweep_dir / "runs" / f".tmp-{point.point_id}-rep-{rep}"

        def finished(point: SweepPoint, rep: int, summary: dict) -> None:
            final = run_dir(sweep_dir, point, rep)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_dir(point, rep), final)
            if "environment" not in meta:
                meta["environment"] = {k: summary.get(k) for k in ("created", "machine", "node", "threads",
                                                                    "versions", "models", "peak_rss_mib")}
                from voicelab.lab.runner import config_hash

                meta["environment"]["config_hash"] = config_hash(config)
                _write_json_atomic(meta_path, meta)
            bar.update(1)

        def failed(point: SweepPoint, rep: int, error: str) -> None:
            failures.append({"point_id": point.point_id, "label": point.label, "repetition": rep, "error": error})
            bar.write(f"run failed for good: {point.label} rep {rep}: {error}")

        executor.run(todo, tmp_dir, finished, failed, config.sweep.keep_audio,
                     lambda m: bar.write(m), bar.set_postfix_str)
    if todo:
        meta["wall_s"] = meta.get("wall_s", 0.0) + (time.perf_counter() - t0)
        meta["last_invocation"] = {"executor": type(executor).__name__, "runs": len(todo),
                                   "wall_s": time.perf_counter() - t0,
                                   "timings": getattr(executor, "timings", [])}
    if failures:
        meta["failed"] = failures
        log(f"{len(failures)} run(s) failed after retries (listed in {meta_path}); run the sweep again to retry them")
    _write_json_atomic(meta_path, meta)
    return build_results(sweep_dir, points, config.sweep.repetitions)


def _run_node(path: Path) -> dict:
    try:
        return json.loads((path / "summary.json").read_text()).get("node") or {}
    except (OSError, ValueError):
        return {}


def build_results(sweep_dir: Path, points: list[SweepPoint], repetitions: int) -> pd.DataFrame:
    """Collect every finished run into one tidy table; write ``results.parquet`` atomically.

    ``node`` (hostname) and ``node_kind`` (CPU model and core count,
    :func:`voicelab.lab.node.node_kind`) say where each run ran ("" for runs whose summary
    predates them)."""
    frames = []
    for point in points:
        for rep in range(repetitions):
            path = run_dir(sweep_dir, point, rep)
            if not is_finished(path):
                continue
            df = pd.read_csv(path / "turns.csv", keep_default_na=True)
            df.insert(0, "point", point.label)
            df.insert(1, "point_id", point.point_id)
            df.insert(2, "repetition", rep)
            df.insert(3, "run_id", f"{point.point_id}/rep-{rep}")
            node = _run_node(path)
            df["node"], df["node_kind"] = node.get("hostname", ""), node_kind(node) if node else ""
            for i, (param, value) in enumerate(point.overrides.items()):
                df.insert(4 + i, param, _format_value(param, value) if isinstance(value, (dict, list)) else value)
            frames.append(df)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for col in ("transcript", "response_text", "reference_text"):
        if col in table:
            table[col] = table[col].fillna("").astype(str)
    tmp = sweep_dir / "results.parquet.tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, sweep_dir / "results.parquet")
    return table
