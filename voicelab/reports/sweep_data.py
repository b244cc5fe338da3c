"""A sweep directory read back, and which grid value each of its rows has.

:func:`load_sweep` reads ``results.parquet`` (one row per point, repetition, clip and
turn), ``sweep.json`` (grid, points, environment) into a :class:`SweepData`, which
also locates each run's ``runs/<point_id>/rep-<k>/events.jsonl``.
:func:`parameter_groups` maps rows to the values of one swept parameter (for the
box plots); :func:`value_label` is how a grid value is written in the reports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from voicelab.reports.frames import unique_in_order

__all__ = ["SweepData", "load_sweep", "parameter_groups", "value_label"]


@dataclass
class SweepData:
    """A sweep directory read back.

    Attributes:
        sweep_dir: the directory.
        results: ``results.parquet`` with rows sorted by point in the order of
            ``sweep.json`` ``points`` (stable: rows within a point keep their order);
            warm-up rows included.
        meta: ``sweep.json`` (empty dict when absent).
    """

    sweep_dir: Path
    results: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def grid(self) -> dict[str, list]:
        return dict(self.meta.get("grid") or {})

    @property
    def points(self) -> list[str]:
        """Point labels in sweep order (those present in the results)."""
        return unique_in_order(self.results, "point")

    def references(self) -> dict[str, dict]:
        """The reference speech boundaries of every clip (clip -> reference dict), from the
        runs' ``summary.json`` (the first run that has a clip wins: all runs of a sweep
        play the same clips)."""
        out: dict[str, dict] = {}
        for path in sorted((self.sweep_dir / "runs").glob("*/rep-*/summary.json")):
            try:
                refs = json.loads(path.read_text(encoding="utf-8")).get("references") or {}
            except (OSError, ValueError):
                continue
            for clip, ref in refs.items():
                out.setdefault(clip, ref)
        return out

    def events_path(self, point_id: str, repetition: int) -> Path:
        return self.sweep_dir / "runs" / str(point_id) / f"rep-{int(repetition)}" / "events.jsonl"


def load_sweep(sweep_dir: Path) -> SweepData:
    """Read ``results.parquet`` and ``sweep.json`` of ``sweep_dir``.

    Raises:
        FileNotFoundError: there is no ``results.parquet``.
        ValueError: the table has no ``point`` column.
    """
    sweep_dir = Path(sweep_dir)
    results = pd.read_parquet(sweep_dir / "results.parquet")
    if len(results.columns) and "point" not in results:
        raise ValueError(f"{sweep_dir / 'results.parquet'}: no `point` column")
    meta_path = sweep_dir / "sweep.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    order = {str(p.get("label")): i for i, p in enumerate(meta.get("points") or [])}
    if order and "point" in results:
        rank = results["point"].map(lambda p: order.get(str(p), len(order)))
        results = results.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    return SweepData(sweep_dir, results, meta)


def _value_key(v: Any) -> str:
    """A comparable key for a grid value: numpy scalars unwrapped, 2.0 == 2, dicts sorted."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "null"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return json.dumps(v, sort_keys=True, default=str)


def value_label(v: Any) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def parameter_groups(results: pd.DataFrame, param: str, values: Sequence[Any] | None = None,
                     points: Sequence[dict] | None = None) -> tuple[list[str], pd.Series]:
    """Which value of ``param`` each row has, as an index into the value labels.

    Args:
        results: the results table.
        param: a swept dotted path (e.g. ``vad.kind``).
        values: the grid values in grid order (None: order of first appearance).
        points: ``sweep.json`` points (``point_id``, ``overrides``); rows are matched
            through their point's overrides first (robust to values that the table
            stores formatted, such as a whole ``trigger`` section), then through the
            ``param`` column.

    Returns:
        ``(labels, index)``: display labels in order, and per row of ``results`` the
        position of its value in ``labels`` (``-1``: unknown; such rows are left out
        of the plots).
    """
    keys = [_value_key(v) for v in values] if values is not None else []
    labels = [value_label(v) for v in values] if values is not None else []
    index = pd.Series(-1, index=results.index, dtype=int)
    by_point = {}
    for p in points or []:
        ov = p.get("overrides") or {}
        if param in ov and _value_key(ov[param]) in keys:
            by_point[str(p.get("point_id"))] = keys.index(_value_key(ov[param]))
    if by_point and "point_id" in results:
        index = results["point_id"].astype(str).map(by_point).fillna(-1).astype(int)
    if param in results:
        col = results[param]
        for i in np.flatnonzero(index.to_numpy() < 0):
            v = col.iloc[i]
            k = _value_key(v)
            if k == "null":
                continue
            if k not in keys:
                keys.append(k)
                labels.append(value_label(v))
            index.iloc[i] = keys.index(k)
        # show the table's own spelling of matched values (e.g. a trigger label)
        for j in range(len(labels)):
            hit = col[(index == j).to_numpy()].dropna()
            if len(hit) and not isinstance(hit.iloc[0], (dict, list)):
                labels[j] = value_label(hit.iloc[0])
    return labels, index
