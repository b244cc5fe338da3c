"""End-of-turn (EoT) detection metrics, as defined by LiveKit's eot-bench.

Source: GitHub ``livekit/eot-bench``, package ``eot_harness``. Its ``metrics.py`` and
``comparison.py`` were read in the public fork ``LaurentMazare/eot-bench`` (commit
39ab20e); the fork's committed ``output/`` agrees with livekit's published tables, e.g.
SmartTurn v3.2, English, 5 % cutoff budget: 1.05075 s mean latency, 84.75 % detect,
4.82 % cutoffs (34 of 705 holds; 400 eots) -- livekit's README: 1051 ms, 84.8 %.

* ``io.build_span_set`` / ``io.iter_transformed_row``: every silence of a user turn of
  at least 100 ms (``DEFAULT_MIN_SILENCE``) is a span; the *last* silence of the turn is
  labelled ``eot``, every earlier one ``hold``. Scores are causal: the prediction at
  time ``t`` sees only audio (and transcript) before ``t``.
* ``metrics.span_table_from_predictions``: at metric time, holds shorter than 200 ms
  or longer than 5000 ms are dropped (``DEFAULT_MIN/MAX_HOLD_SPAN_DURATION``); eots are
  always kept.
* ``metrics._policy_sweep_rows`` (the policy and the metrics, per span, pooled over
  turns): a detector fires at ``f`` ms after the span starts (``inf``: never) and the
  policy has a timeout ``T``:

  - **false cutoff** (a hold): ``(f finite and dur > f + eps) or dur > T + eps`` -- the
    agent would have taken the floor before speech resumed. *Cutoff rate* = cut holds /
    holds, per hold span (a turn with two cut holds counts twice).
  - **detected** (an eot): ``f finite and f <= T + eps``; **latency** = ``f`` if detected
    else ``T`` (the timeout answers). *Mean latency* is over all eots, timeouts
    included; *detect rate* = detected / eots; ``timeout_rate = 1 - detect_rate``.
    The eot span's own length is never used: the user has finished, the silence lasts
    until the agent answers.
* ``metrics.get_pareto_operating_points`` (used by ``comparison.write_comparison_report``
  for the published tables; here :mod:`voicelab.measure.eot_budget`): at a budget, keep
  the sweep points whose budget column is ``<= budget + eps`` and take the one
  minimising the other column; ties by the budget column, then threshold *descending*,
  action delay, timeout. No interpolation; no feasible point gives "-" (NaN here).
  Budgets: ``LATENCY_BUDGET_COMPARISON = (0.3, 0.6)`` s and ``CUTOFF_BUDGET_COMPARISON =
  (0.05, 0.10)`` (``comparison.py``). (The per-run ``summary.json`` uses
  ``metrics._best_operating_point`` instead, with other ties: latency, cutoff rate,
  timeout rate, timeout, action delay, threshold ascending; it does not feed the tables.)
* ``metrics.pareto_mask``: the frontier, by latency then cutoff rate.

Everything here is in milliseconds (eot-bench works in seconds; ``eps`` = 1e-9 s).
The detector side (how fire times arise from a threshold, action delay or VAD timeout)
is in :mod:`voicelab.measure.eot_policy`; budget figures and their bootstrap intervals
in :mod:`voicelab.measure.eot_budget`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["CUTOFF_BUDGETS", "LATENCY_BUDGETS_MS", "MAX_HOLD_MS", "MIN_HOLD_MS", "MIN_SILENCE_MS",
           "METRIC_COLUMNS", "EotItem", "EotScore", "Silence", "SpanTable", "Sweep", "fire_offsets", "outcomes",
           "score_operating_point", "sweep_curve", "tie_break_keys"]

MIN_SILENCE_MS = 100.0
"""Shortest silence that is a span (eot-bench ``io.DEFAULT_MIN_SILENCE`` = 0.1 s)."""
MIN_HOLD_MS = 200.0
"""Shorter holds are not scored (``metrics.DEFAULT_MIN_HOLD_SPAN_DURATION`` = 0.2 s)."""
MAX_HOLD_MS = 5000.0
"""Longer holds are not scored (``metrics.DEFAULT_MAX_HOLD_SPAN_DURATION`` = 5.0 s)."""
LATENCY_BUDGETS_MS = (300.0, 600.0)
"""``comparison.LATENCY_BUDGET_COMPARISON`` = (0.3, 0.6) s."""
CUTOFF_BUDGETS = (0.05, 0.10)
"""``comparison.CUTOFF_BUDGET_COMPARISON``."""
EPS_MS = 1e-6
"""eot-bench's ``EPS`` = 1e-9 s, in ms: slack of every time comparison."""
EPS_RATE = 1e-9
"""eot-bench's ``EPS`` on rates (``cutoff_rate <= budget + EPS``)."""
_SPAN_EPS_MS = 1e-3
"""``io._EPS`` = 1e-6 s, in ms: slack of the 100 ms span rule."""
TIE_BREAK = (("threshold", False), ("action_delay_ms", True), ("timeout_ms", True))
"""Knob tie-break of ``get_pareto_operating_points``: (column, ascending)."""

METRIC_COLUMNS = ("cutoff_rate", "mean_latency_ms", "p50_latency_ms", "p90_latency_ms", "detect_rate",
                  "timeout_rate", "n_holds", "n_cutoffs", "n_eots", "n_detected", "is_pareto")
"""The columns :func:`sweep_curve` adds after the knobs."""

Label = Literal["hold", "eot"]


@dataclass(frozen=True)
class Silence:
    """One labelled silence of a user turn, ms from the start of the item's audio."""

    start_ms: float
    end_ms: float
    label: Label

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class EotItem:
    """A user turn: its silences in time order (holds, then at most one final eot).

    Args:
        item_id: unique id of the turn.
        silences: non-overlapping, sorted by start; ``end_ms > start_ms >= 0``.
        group: the resampling unit of :mod:`~voicelab.measure.eot_budget` (e.g. the source
            recording); default: ``item_id``.

    Raises:
        ValueError: empty id, bad label, unsorted/overlapping/empty silences, or an eot
            that is not the last silence.
    """

    item_id: str
    silences: tuple[Silence, ...]
    group: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.item_id, str) or not self.item_id:
            raise ValueError(f"item_id must be a non-empty string, got {self.item_id!r}")
        object.__setattr__(self, "silences", tuple(self.silences))
        if self.group is None:
            object.__setattr__(self, "group", self.item_id)
        prev_end = -math.inf
        for i, s in enumerate(self.silences):
            if s.label not in ("hold", "eot"):
                raise ValueError(f"{self.item_id}: label must be 'hold' or 'eot', got {s.label!r}")
            if not (math.isfinite(s.start_ms) and math.isfinite(s.end_ms) and 0 <= s.start_ms < s.end_ms):
                raise ValueError(f"{self.item_id}: silence {i} needs 0 <= start_ms < end_ms, got {s}")
            if s.start_ms < prev_end:
                raise ValueError(f"{self.item_id}: silence {i} starts before the previous one ends")
            if s.label == "eot" and i != len(self.silences) - 1:
                raise ValueError(f"{self.item_id}: the eot must be the last silence (got it at {i})")
            prev_end = s.end_ms

    @classmethod
    def from_spans(cls, item_id: str, spans: Sequence[tuple[float, float]], group: str | None = None,
                   min_silence_ms: float = MIN_SILENCE_MS) -> EotItem:
        """Label a turn's silences as eot-bench does (``io.build_span_set``).

        ``spans`` are all (start_ms, end_ms) silences of the turn in order; those shorter
        than ``min_silence_ms`` are dropped; the last of ``spans`` is the eot (so if it
        is too short, the item has no eot), the others are holds.
        """
        out = []
        for i, (start, end) in enumerate(spans):
            if end - start < min_silence_ms - _SPAN_EPS_MS:
                continue
            out.append(Silence(float(start), float(end), "eot" if i == len(spans) - 1 else "hold"))
        return cls(item_id, tuple(out), group)


@dataclass(frozen=True)
class SpanTable:
    """The scored spans of many items, as flat arrays (shape ``(S,)`` each).

    Build with :meth:`from_items`. ``item`` indexes ``item_ids``/``groups``; spans are in
    item order, then time order.
    """

    item_ids: tuple[str, ...]
    groups: tuple[str, ...]
    item: np.ndarray        # int64, item index of each span
    start_ms: np.ndarray    # float64
    end_ms: np.ndarray      # float64
    is_eot: np.ndarray      # bool
    speech_from_ms: np.ndarray | None = None
    """float64: where the speech right before each span begins (the end of the item's previous
    silence of any length, scored or not; 0 for the first): see ``early`` in :func:`fire_offsets`."""

    @property
    def duration_ms(self) -> np.ndarray:
        return self.end_ms - self.start_ms

    @property
    def n_holds(self) -> int:
        return int((~self.is_eot).sum())

    @property
    def n_eots(self) -> int:
        return int(self.is_eot.sum())

    @classmethod
    def from_items(cls, items: Iterable[EotItem], min_hold_ms: float = MIN_HOLD_MS,
                   max_hold_ms: float = MAX_HOLD_MS) -> SpanTable:
        """Flatten items, dropping holds outside ``[min_hold_ms, max_hold_ms]`` (+- eps).

        Raises:
            ValueError: no items, duplicate ids, ``max_hold_ms < min_hold_ms`` or no span left.
        """
        items = list(items)
        if not items:
            raise ValueError("no items")
        if max_hold_ms < min_hold_ms or min_hold_ms < 0:
            raise ValueError(f"need 0 <= min_hold_ms <= max_hold_ms, got {min_hold_ms}, {max_hold_ms}")
        ids = [it.item_id for it in items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate item ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        rows = [(k, s.start_ms, s.end_ms, s.label == "eot", it.silences[i - 1].end_ms if i else 0.0)
                for k, it in enumerate(items) for i, s in enumerate(it.silences)
                if s.label == "eot" or min_hold_ms - EPS_MS <= s.duration_ms <= max_hold_ms + EPS_MS]
        if not rows:
            raise ValueError("no spans remain after hold-duration filtering")
        k, start, end, eot, speech_from = (np.asarray(c) for c in zip(*rows))
        return cls(tuple(ids), tuple(str(it.group) for it in items), k.astype(np.int64),
                   start.astype(float), end.astype(float), eot.astype(bool), speech_from.astype(float))


def fire_offsets(table: SpanTable, decisions: Mapping[str, Sequence[float] | np.ndarray],
                 early: bool = False) -> np.ndarray:
    """Per span, ms from its start to the detector's first decision at or after it.

    Args:
        table: the spans.
        decisions: for *every* item id, the times (ms, item clock) at which the detector
            would end the turn at one operating point (empty: never). A decision during
            speech before a span is not that span's; decisions inside holds dropped by
            the duration filter are not scored (as in eot-bench, which scores silences).
        early: a voicelab extension for detectors that decide on their own audio frames
            (a VAD's silence, a streaming turn stack), which can end the turn a little before
            the reference says the speech ended (the VAD heard the last word's tail as
            silence): a decision in the speech right before a span (from
            :attr:`SpanTable.speech_from_ms` to its start) fires at the span's start, offset
            0 (a hold is then cut; an eot answered at once). eot-bench's models are asked
            inside silences only, so it has no such case; with ``early=False`` (default) such a
            decision is ignored and the span waits for a later one.

    Returns:
        float64 ``(S,)``; ``inf`` where no decision follows the span start.

    Raises:
        KeyError: an item of the table has no entry, or an entry names no item.
        ValueError: a non-finite decision time.
    """
    missing = set(table.item_ids) - set(decisions)
    extra = set(decisions) - set(table.item_ids)
    if missing or extra:
        raise KeyError(f"decisions must cover exactly the items; missing {sorted(missing)[:5]}, "
                       f"unknown {sorted(extra)[:5]}")
    out = np.full(len(table.start_ms), math.inf)
    for k, item_id in enumerate(table.item_ids):
        times = np.sort(np.asarray(decisions[item_id], dtype=float).ravel())
        if not np.isfinite(times).all():
            raise ValueError(f"{item_id}: decision times must be finite")
        spans = np.flatnonzero(table.item == k)
        lower = table.speech_from_ms if early and table.speech_from_ms is not None else table.start_ms
        idx = np.searchsorted(times, lower[spans], side="left")
        ok = idx < len(times)
        out[spans[ok]] = np.maximum(times[idx[ok]] - table.start_ms[spans[ok]], 0.0)
    return out


@dataclass(frozen=True)
class Sweep:
    """P operating points of one detector: knob values and per-span fire offsets.

    Args:
        knobs: P rows, one column per knob (e.g. ``threshold``, ``action_delay_ms``,
            ``timeout_ms``); copied into the curve.
        fire_ms: float64 ``(P, S)``, ms from span start to the firing (``inf``: never),
            for the spans of the table it is scored on.
        timeout_ms: float64 ``(P,)``, the policy's timeout (``inf``: none; then an
            undetected eot has infinite latency).
    """

    knobs: pd.DataFrame
    fire_ms: np.ndarray
    timeout_ms: np.ndarray

    def __post_init__(self) -> None:
        fire = np.atleast_2d(np.asarray(self.fire_ms, dtype=float))
        timeout = np.asarray(self.timeout_ms, dtype=float).ravel()
        if len(self.knobs) != fire.shape[0] or timeout.shape != (fire.shape[0],):
            raise ValueError(f"knobs ({len(self.knobs)} rows), fire_ms {fire.shape} and timeout_ms "
                             f"{timeout.shape} must agree on the number of points")
        if fire.shape[0] == 0:
            raise ValueError("a sweep needs at least one operating point")
        if np.isnan(fire).any() or np.isnan(timeout).any() or (timeout < 0).any():
            raise ValueError("fire_ms must not be NaN; timeout_ms must be >= 0 (inf: none)")
        object.__setattr__(self, "fire_ms", fire)
        object.__setattr__(self, "timeout_ms", timeout)
        object.__setattr__(self, "knobs", self.knobs.reset_index(drop=True))


def outcomes(table: SpanTable, sweep: Sweep) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point and span: cut holds ``(P, H)`` bool, eot latency ``(P, E)`` float64 (ms,
    ``inf``: never answered) and detected eots ``(P, E)`` bool (``_policy_sweep_rows``).

    Raises:
        ValueError: ``sweep.fire_ms`` does not have one column per span of ``table``.
    """
    if sweep.fire_ms.shape[1] != len(table.start_ms):
        raise ValueError(f"fire_ms has {sweep.fire_ms.shape[1]} spans, the table {len(table.start_ms)}")
    timeout = sweep.timeout_ms[:, None]
    hold, eot = ~table.is_eot, table.is_eot
    f_h, dur = sweep.fire_ms[:, hold], table.duration_ms[hold][None, :]
    cut = (np.isfinite(f_h) & (dur > f_h + EPS_MS)) | (dur > timeout + EPS_MS)
    f_e = sweep.fire_ms[:, eot]
    detected = np.isfinite(f_e) & (f_e <= timeout + EPS_MS)
    latency = np.where(detected, f_e, timeout)
    return cut, latency, detected


def _percentile_rows(x: np.ndarray, q: float) -> np.ndarray:
    """Row-wise linear percentile (numpy's default) that tolerates ``inf`` values."""
    s = np.sort(x, axis=1)
    pos = q / 100.0 * (s.shape[1] - 1)
    lo, hi = int(math.floor(pos)), int(math.ceil(pos))
    a, b = s[:, lo], s[:, hi]
    with np.errstate(invalid="ignore"):
        mid = a + (b - a) * (pos - lo)
    return np.where(lo == hi, a, np.where(np.isinf(b), b, mid))


def sweep_curve(table: SpanTable, sweep: Sweep) -> pd.DataFrame:
    """The operating-point curve: one row per sweep point, eot-bench's ``tradeoff`` columns.

    Columns: the knobs, ``cutoff_rate``, ``mean_latency_ms``, ``p50_latency_ms``,
    ``p90_latency_ms`` (over all eots, timeouts included, linear percentiles),
    ``detect_rate``, ``timeout_rate``, ``n_holds``, ``n_cutoffs``, ``n_eots``,
    ``n_detected`` and ``is_pareto`` (``metrics.pareto_mask``: sorted by latency, cutoff
    rate, threshold descending, action delay, timeout, a point is on the frontier if its
    cutoff rate is below every earlier one's by more than eps).

    Raises:
        ValueError: the table has no hold or no eot (``"need both hold and eot spans"``).
    """
    if table.n_holds == 0 or table.n_eots == 0:
        raise ValueError(f"need both hold and eot spans, got {table.n_holds} holds, {table.n_eots} eots")
    cut, latency, detected = outcomes(table, sweep)
    n_h, n_e = cut.shape[1], latency.shape[1]
    curve = sweep.knobs.copy()
    curve["cutoff_rate"] = cut.sum(axis=1) / n_h
    curve["mean_latency_ms"] = np.where(np.isinf(latency).any(axis=1), math.inf,
                                        np.where(np.isfinite(latency), latency, 0.0).sum(axis=1) / n_e)
    curve["p50_latency_ms"] = _percentile_rows(latency, 50)
    curve["p90_latency_ms"] = _percentile_rows(latency, 90)
    curve["detect_rate"] = detected.sum(axis=1) / n_e
    curve["timeout_rate"] = 1.0 - curve["detect_rate"]
    curve["n_holds"], curve["n_cutoffs"] = n_h, cut.sum(axis=1)
    curve["n_eots"], curve["n_detected"] = n_e, detected.sum(axis=1)
    curve["is_pareto"] = _pareto_mask(curve)
    return curve


def tie_break_keys(curve: pd.DataFrame) -> tuple[list[str], list[bool]]:
    """The :data:`TIE_BREAK` columns present in ``curve``, and whether each sorts ascending."""
    cols = [(c, asc) for c, asc in TIE_BREAK if c in curve.columns]
    return [c for c, _ in cols], [a for _, a in cols]


def _pareto_mask(curve: pd.DataFrame) -> np.ndarray:
    keys, asc = tie_break_keys(curve)
    order = curve.sort_values(["mean_latency_ms", "cutoff_rate", *keys], ascending=[True, True, *asc],
                              kind="stable").index
    cutoff = curve["cutoff_rate"].to_numpy(dtype=float)
    mask, best = np.zeros(len(curve), dtype=bool), math.inf
    for i in np.asarray(order).tolist():
        if cutoff[i] < best - EPS_RATE:
            mask[i], best = True, cutoff[i]
    return mask


@dataclass(frozen=True)
class EotScore:
    """Metrics of one operating point (see the module docstring for definitions)."""

    cutoff_rate: float
    mean_latency_ms: float
    p50_latency_ms: float
    p90_latency_ms: float
    detect_rate: float
    timeout_rate: float
    n_holds: int
    n_cutoffs: int
    n_eots: int
    n_detected: int


def score_operating_point(table: SpanTable, fire_ms: np.ndarray | Sequence[float],
                          timeout_ms: float | None = None) -> EotScore:
    """Score one operating point: ``fire_ms`` ``(S,)`` from :func:`fire_offsets`, the
    policy timeout in ms (None: none). Raises ``ValueError`` as :func:`sweep_curve`."""
    sweep = Sweep(pd.DataFrame(index=[0]), np.asarray(fire_ms, dtype=float)[None, :],
                  np.array([math.inf if timeout_ms is None else float(timeout_ms)]))
    row = sweep_curve(table, sweep).iloc[0]
    return EotScore(**{f: (int(row[f]) if f.startswith("n_") else float(row[f]))
                       for f in EotScore.__dataclass_fields__})
