"""Sweeps of end-of-turn policies: causal detector signals -> per-span fire offsets.

Each builder returns a :class:`~voicelab.measure.eot.Sweep` (knobs, fire offsets
``(P, S)``, policy timeouts) for :func:`~voicelab.measure.eot.sweep_curve`, computing
the expensive part once per item and span, not once per grid point. Running models is
not done here: arrays in, decisions out.

Policies (GitHub ``livekit/eot-bench``, ``eot_harness/metrics.py``, read from the mirror
``LaurentMazare/eot-bench`` at 39ab20e):

* :func:`threshold_delay_sweep`: ``_policy_sweep_rows`` / ``_first_crossing_times``: the
  model fires at the first scored time of the silence with ``p > threshold`` (strict),
  but not before ``action_delay``: ``fire = max(action_delay, crossing)``; the policy
  ends the turn anyway after ``timeout``; grid points with ``timeout < action_delay``
  are skipped. Grids ``DEFAULT_THRESHOLDS`` (0 to 1 by 0.01),
  ``DEFAULT_ACTION_DELAYS`` (0.2 to 1.0 s by 0.1), ``DEFAULT_TIMEOUTS`` (1.0 to 3.5 s by
  0.5). eot-bench's "score point" mode for batch models (one score per silence, at
  0.2 s for SmartTurn) is this with one (start + 200 ms, p) pair per silence.
* :func:`silence_timeout_sweep`: ``_vad_baseline_rows_from_scored_spans``: the VAD-only
  baseline on the labelled silences: end the turn ``d`` ms into every silence
  (``fire = timeout = d``), on the union of the action-delay and timeout grids, or on
  the report's fine grid (``comparison._fine_vad_baseline_from_span_set``: 200 ms to
  5000 ms by 10 ms, plus 300 and 600 ms).
* :func:`vad_timeout_sweep` / :func:`silence_timeout_decisions`: the same baseline from
  a real VAD's 32 ms frames (:data:`voicelab.vad.base.FRAME_SAMPLES` at 16 kHz), as
  voicelab's ``Endpointer`` decides (at the end of the frame on which the silence
  reaches the timeout), so it also pays for VAD lag and frame quantisation.
* :func:`decisions_sweep`: any detector given as decision times per operating point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from voicelab.measure.eot import EPS_MS, SpanTable, Sweep, fire_offsets

__all__ = ["DEFAULT_ACTION_DELAYS_MS", "DEFAULT_THRESHOLDS", "DEFAULT_TIMEOUTS_MS", "FRAME_MS",
           "decisions_sweep", "silence_timeout_decisions", "silence_timeout_sweep", "threshold_delay_sweep",
           "vad_baseline_grid_ms", "vad_timeout_sweep"]

DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.0, 1.01, 0.01), 2).tolist())
"""eot-bench ``metrics.DEFAULT_THRESHOLDS``: 0.00, 0.01, ..., 1.00."""
DEFAULT_ACTION_DELAYS_MS = tuple(float(x) for x in range(200, 1001, 100))
"""eot-bench ``metrics.DEFAULT_ACTION_DELAYS`` (0.2 to 1.0 s by 0.1), in ms."""
DEFAULT_TIMEOUTS_MS = tuple(float(x) for x in range(1000, 3501, 500))
"""eot-bench ``metrics.DEFAULT_TIMEOUTS`` (1.0 to 3.5 s by 0.5), in ms."""
FRAME_MS = 32.0
"""voicelab's VAD frame: 512 samples at 16 kHz (:mod:`voicelab.vad.base`)."""


def _grid(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.unique(np.asarray(values, dtype=float).ravel())
    if arr.size == 0 or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must be a non-empty list of finite values >= 0")
    return arr


def decisions_sweep(table: SpanTable, points: Sequence[tuple[Mapping[str, float],
                                                             Mapping[str, Sequence[float]], float | None]],
                    early: bool = False) -> Sweep:
    """A sweep from decision times: ``points`` are ``(knobs, decisions, timeout_ms)``,
    ``decisions`` as for :func:`~voicelab.measure.eot.fire_offsets` (one entry per item; ``early``
    as there), ``timeout_ms`` the policy timeout (None: none). Raises as ``fire_offsets``."""
    if not points:
        raise ValueError("no operating points")
    knobs = pd.DataFrame([dict(k) for k, _, _ in points])
    fire = np.stack([fire_offsets(table, d, early) for _, d, _ in points])
    timeout = np.array([math.inf if t is None else float(t) for _, _, t in points])
    return Sweep(knobs, fire, timeout)


def vad_baseline_grid_ms(fine: bool = True) -> np.ndarray:
    """eot-bench's VAD-baseline delays (ms): the report's fine grid (200..5000 by 10,
    plus 300 and 600), or the coarse union of the action-delay and timeout grids."""
    if fine:
        return np.unique(np.concatenate([np.arange(200.0, 5000.0 + 5.0, 10.0), [300.0, 600.0]]))
    return np.unique(np.concatenate([DEFAULT_ACTION_DELAYS_MS, DEFAULT_TIMEOUTS_MS]))


def silence_timeout_sweep(table: SpanTable, delays_ms: Sequence[float] | None = None) -> Sweep:
    """eot-bench's VAD-only baseline on the labelled silences: end the turn ``d`` ms
    into every silence (a hold is cut iff it is longer than ``d``; every eot is detected
    with latency ``d``). Knob ``timeout_ms``; default grid :func:`vad_baseline_grid_ms`."""
    delays = _grid(vad_baseline_grid_ms() if delays_ms is None else delays_ms, "delays_ms")
    fire = np.repeat(delays[:, None], len(table.start_ms), axis=1)
    return Sweep(pd.DataFrame({"timeout_ms": delays}), fire, delays.copy())


def _decision_matrix(speech: Sequence[bool] | np.ndarray, timeouts_ms: np.ndarray, frame_ms: float,
                     open_end: bool) -> np.ndarray:
    """``(R, K)``: decision time (ms) in each of the R silences after speech, per timeout
    (``inf``: the silence ends first). Rows ascend in time, and so does each column."""
    s = np.asarray(speech, dtype=bool)
    if s.ndim != 1 or frame_ms <= 0:
        raise ValueError(f"speech must be 1-D and frame_ms > 0, got shape {s.shape}, {frame_ms}")
    speech_idx = np.flatnonzero(s)
    if speech_idx.size == 0:
        return np.zeros((0, len(timeouts_ms)))
    step = np.diff(s[speech_idx[0]:].astype(np.int8))
    starts = np.flatnonzero(step == -1) + 1               # first silent frame of each run
    ends = np.flatnonzero(step == 1) + 1                  # first speech frame after it
    lengths = np.full(len(starts), math.inf)              # frames in each run
    lengths[:len(ends)] = ends - starts[:len(ends)]
    if len(starts) > len(ends) and not open_end:          # the run the recording ends in
        lengths[-1] = len(step) + 1 - starts[-1]
    need = np.maximum(1, np.ceil(timeouts_ms / frame_ms - 1e-9))
    at = (starts[:, None] + speech_idx[0] + need[None, :]) * frame_ms
    return np.where(lengths[:, None] >= need[None, :], at, math.inf)


def silence_timeout_decisions(speech: Sequence[bool] | np.ndarray, timeouts_ms: Sequence[float],
                              frame_ms: float = FRAME_MS, open_end: bool = True) -> list[np.ndarray]:
    """When a silence-timeout endpointer would end the turn, for each timeout on a grid.

    Frame ``i`` covers ``[i * frame_ms, (i + 1) * frame_ms)``. A silence starts at the
    first non-speech frame after speech (silence before the first speech ends nothing);
    with timeout ``T`` the decision falls at the end of the frame on which the silence
    reaches ``T``: ``(i0 + n) * frame_ms`` with ``n = max(1, ceil(T / frame_ms))``, if
    the silence lasts ``n`` frames. Causal: it uses frames up to the decision only.

    Args:
        speech: bool ``(n_frames,)``, True where the VAD says speech (e.g. ``p >= 0.5``).
        timeouts_ms: the grid (ms, >= 0).
        frame_ms: frame length (ms, > 0); voicelab's VAD frame by default.
        open_end: the final silence runs on past the end of the frames (the user has
            stopped; the recording merely ends), so it reaches every timeout.

    Returns:
        one float64 array of decision times (ms, ascending) per timeout, in grid order.

    Raises:
        ValueError: ``speech`` not 1-D, bad grid or ``frame_ms <= 0``.
    """
    grid = np.asarray(timeouts_ms, dtype=float).ravel()
    _grid(grid, "timeouts_ms")
    d = _decision_matrix(speech, grid, frame_ms, open_end)
    return [col[np.isfinite(col)] for col in d.T]


def vad_timeout_sweep(table: SpanTable, speech: Mapping[str, Sequence[bool] | np.ndarray],
                      timeouts_ms: Sequence[float] | None = None, frame_ms: float = FRAME_MS,
                      early: bool = False) -> Sweep:
    """The VAD-only baseline from per-item VAD frames (:func:`silence_timeout_decisions`,
    once per item for the whole grid). Knob ``silence_ms``; no policy timeout on top (the
    VAD's own silence clock is the timeout), so an eot the VAD never ends has infinite
    latency.

    Args:
        table: the spans.
        speech: per item id, bool ``(n_frames,)`` VAD frames from the item's audio start.
        timeouts_ms: the grid; default :func:`vad_baseline_grid_ms`.
        frame_ms: frame length (ms).
        early: as in :func:`~voicelab.measure.eot.fire_offsets` (a decision in the speech just
            before a span fires at its start), and a span that begins while the VAD is still in
            the silence of an earlier decision (it heard no speech since) fires at its start too.

    Raises:
        KeyError: ``speech`` misses an item or names an unknown one.
        ValueError: as :func:`silence_timeout_decisions`.
    """
    grid = _grid(vad_baseline_grid_ms() if timeouts_ms is None else timeouts_ms, "timeouts_ms")
    missing, extra = set(table.item_ids) - set(speech), set(speech) - set(table.item_ids)
    if missing or extra:
        raise KeyError(f"speech must cover exactly the items; missing {sorted(missing)[:5]}, "
                       f"unknown {sorted(extra)[:5]}")
    fire = np.full((len(grid), len(table.start_ms)), math.inf)
    for k, item_id in enumerate(table.item_ids):
        d = _decision_matrix(speech[item_id], grid, frame_ms, open_end=True)
        s = np.asarray(speech[item_id], dtype=bool)
        for span in np.flatnonzero(table.item == k):
            start = table.start_ms[span]
            lower = table.speech_from_ms[span] if early and table.speech_from_ms is not None else start
            first = np.where(d >= lower, d, math.inf).min(axis=0, initial=math.inf)
            fire[:, span] = np.maximum(first - start, 0.0)
            if early:   # ended earlier and the VAD has heard no speech since: still ended
                fire[:, span] = np.where(_silent_since(s, start, frame_ms, grid), 0.0, fire[:, span])
    return Sweep(pd.DataFrame({"silence_ms": grid}), fire, np.full(len(grid), math.inf))


def _silent_since(speech: np.ndarray, t_ms: float, frame_ms: float, timeouts_ms: np.ndarray) -> np.ndarray:
    """Per timeout: the VAD has been silent since a decision made at or before ``t_ms`` (the
    silence run containing ``t_ms`` began after speech and reached the timeout by then)."""
    f = min(int(t_ms // frame_ms), len(speech) - 1)
    on = np.flatnonzero(speech[:f + 1])
    if f < 0 or speech[f] or on.size == 0:
        return np.zeros(len(timeouts_ms), dtype=bool)
    run_start = on[-1] + 1
    need = np.maximum(1, np.ceil(timeouts_ms / frame_ms - 1e-9))
    return (run_start + need) * frame_ms <= t_ms + EPS_MS


def _crossings(table: SpanTable, scores: Mapping[str, tuple[Sequence[float], Sequence[float]]],
               thresholds: np.ndarray) -> np.ndarray:
    """``(K, S)``: ms from each span start to its first score ``> threshold`` (inf: none)."""
    missing = set(table.item_ids) - set(scores)
    if missing:
        raise KeyError(f"no scores for items {sorted(missing)[:5]}")
    out = np.full((len(thresholds), len(table.start_ms)), math.inf)
    for k, item_id in enumerate(table.item_ids):
        t, p = (np.asarray(a, dtype=float).ravel() for a in scores[item_id])
        if t.shape != p.shape or not (np.isfinite(t).all() and np.isfinite(p).all()):
            raise ValueError(f"{item_id}: times and probabilities must be finite and of equal length")
        order = np.argsort(t, kind="stable")
        t, p = t[order], p[order]
        for span in np.flatnonzero(table.item == k):
            start, end = table.start_ms[span], table.end_ms[span]
            inside = (t >= start - EPS_MS) & (table.is_eot[span] | (t <= end + EPS_MS))
            ts, running = t[inside], np.maximum.accumulate(p[inside])
            idx = np.searchsorted(running, thresholds, side="right")   # first running max > threshold
            hit = idx < len(ts)
            out[hit, span] = ts[idx[hit]] - start
    return out


def threshold_delay_sweep(table: SpanTable, scores: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                          thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                          action_delays_ms: Sequence[float] = DEFAULT_ACTION_DELAYS_MS,
                          timeouts_ms: Sequence[float] = DEFAULT_TIMEOUTS_MS) -> Sweep:
    """eot-bench's joint threshold x action-delay x timeout sweep of a turn detector.

    Args:
        table: the spans.
        scores: per item id, ``(times_ms, p_eot)``: the detector's causal end-of-turn
            probability at times (ms, item clock) inside its silences (as eot-bench's
            ``predictions.parquet`` rows, every 100 ms by default). A hold uses the
            scores in ``[start, end]``, an eot every score from its start on.
        thresholds: fire on ``p > threshold``.
        action_delays_ms, timeouts_ms: grids (ms).

    Returns:
        a :class:`Sweep` with knobs ``threshold``, ``action_delay_ms``, ``timeout_ms``,
        points ordered by threshold, then delay, then timeout.

    Raises:
        KeyError: an item without scores. ValueError: bad grids or scores.
    """
    th = _grid(thresholds, "thresholds")
    delays, timeouts = _grid(action_delays_ms, "action_delays_ms"), _grid(timeouts_ms, "timeouts_ms")
    pairs = [(d, t) for d in delays for t in timeouts if not t + EPS_MS < d]
    if not pairs:
        raise ValueError("no (action delay, timeout) pair with timeout >= action delay")
    d, t = (np.array(c) for c in zip(*pairs))
    cross = _crossings(table, scores, th)
    fire = np.maximum(cross[:, None, :], d[None, :, None]).reshape(len(th) * len(pairs), -1)
    knobs = pd.DataFrame({"threshold": np.repeat(th, len(pairs)), "action_delay_ms": np.tile(d, len(th)),
                          "timeout_ms": np.tile(t, len(th))})
    return Sweep(knobs, fire, knobs["timeout_ms"].to_numpy())
