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

from voicelab.config import ConfigError, ExperimentConfig, TriggerConfig, parse_config

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
    parts = path.split(".")
    node = data
    for depth, key in enumerate(parts):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(parts[:depth]) or "(top level)"
            options = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
            raise ConfigError(f"invalid sweep: sweep.grid.{path}: {where} has no field {key!r} "
                              f"(fields: {options})")
        if depth == len(parts) - 1:
            node[key] = value
        else:
            node = node[key]


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
    """The settings that decide which models :func:`voicelab.lab.runner.load_stages`
    loads: points that share them share one loaded model set."""
    return json.dumps([config.stt.model_dump(), config.llm.model_dump(), config.tts.model_dump(),
                       config.vad.turn_detector], sort_keys=True)


def run_sweep(config: ExperimentConfig, sweep_dir: Path, log: Callable[[str], None] = print,
              run_one: Callable | None = None, load: Callable | None = None) -> pd.DataFrame:
    """Run every (point, repetition) not finished yet, then build the results table.

    ``run_one`` / ``load`` default to :func:`voicelab.lab.runner.run_experiment` and
    :func:`voicelab.lab.runner.load_stages` (tests pass fakes). Models are loaded once
    per distinct STT/LLM/TTS setting and reused across points.

    Returns:
        the results table (also written to ``results.parquet``).
    """
    from voicelab.lab import runner

    run_one = run_one or runner.run_experiment
    real_models = load is None  # fakes bring their own endpointer
    load = load or runner.load_stages
    points = expand_grid(config)
    sweep_dir.mkdir(parents=True, exist_ok=True)
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
    })
    _write_json_atomic(meta_path, meta)

    order = run_order(points, config.sweep.repetitions)
    todo = [(p, r) for p, r in order if not is_finished(run_dir(sweep_dir, p, r))]
    if todo:
        log(f"{len(order) - len(todo)} of {len(order)} runs already finished; running {len(todo)}")
    loaded: dict[str, Any] = {}
    t0 = time.perf_counter()
    with tqdm(total=len(order), initial=len(order) - len(todo), unit="run", desc=config.name) as bar:
        for point, rep in todo:
            key = _stage_key(point.config)
            if key not in loaded:
                loaded.clear()  # free the previous models before loading others
                loaded[key] = load(point.config, log=lambda m: bar.write(m))
            final = run_dir(sweep_dir, point, rep)
            tmp = sweep_dir / "runs" / f".tmp-{point.point_id}-rep-{rep}"
            bar.set_postfix_str(f"{point.label} rep {rep}")
            stages = loaded[key]
            if real_models:
                stages = (runner.with_config_endpointer(stages[0], point.config), stages[1])
            result = run_one(point.config, tmp, stages=stages, log=lambda m: None,
                             report=False, keep_audio=config.sweep.keep_audio)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            if "environment" not in meta:
                s = result.summary
                meta["environment"] = {k: s.get(k) for k in ("created", "machine", "threads", "versions",
                                                              "models", "config_hash", "peak_rss_mib")}
                meta["environment"]["config_hash"] = runner.config_hash(config)
                _write_json_atomic(meta_path, meta)
            bar.update(1)
    if todo:
        meta["wall_s"] = meta.get("wall_s", 0.0) + (time.perf_counter() - t0)
        _write_json_atomic(meta_path, meta)
    return build_results(sweep_dir, points, config.sweep.repetitions)


def build_results(sweep_dir: Path, points: list[SweepPoint], repetitions: int) -> pd.DataFrame:
    """Collect every finished run into one tidy table; write ``results.parquet`` atomically."""
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
