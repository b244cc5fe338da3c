"""End-of-turn detection on the corpus, scored with LiveKit eot-bench's metrics.

Every detector is turned into a sweep of operating points (:class:`voicelab.measure.eot.Sweep`)
over the same labelled silences, then scored by :mod:`voicelab.measure.eot` (false-cutoff
rate at a 300 / 600 ms latency budget, mean latency and detect rate at a 5 / 10 %
false-cutoff budget, bootstrap 95 % CIs resampled by source recording). The detectors
(:data:`DETECTORS`):

- ``silence (labelled)``: eot-bench's VAD-only baseline on the true silences (a perfect
  VAD ending the turn ``d`` ms into every silence);
- ``silence (Silero | energy | WebRTC VAD)``: the same baseline from a real VAD's 32 ms
  frames through voicelab's endpointer hysteresis (:mod:`voicelab.lab.eot_signals`), so
  VAD lag and frame steps are paid;
- ``Smart Turn v3.2 (eot-bench)``: eot-bench's protocol for a batch model: one score per
  labelled silence, 200 ms into it, on the audio before that time, swept over threshold x
  action delay x timeout (eot-bench's grids);
- ``Smart Turn after Silero silence (voicelab)``: voicelab's endpointer: Silero silence of
  ``min_silence_ms`` (200, 300 or 500 ms) asks Smart Turn; ``p > threshold`` ends the turn
  there, else it ends at ``max_silence_ms`` of silence (1000-3500 ms) unless speech resumes.
  The detector's own compute time is not added (eot-bench's latency is audio time).
- ``Pipecat stock turn stack``: Pipecat 1.14's own Silero VAD + Smart Turn v3.2 user-turn stack
  with stock settings (:mod:`voicelab.peers.pipecat.turn_stack`, the stack of voicelab's
  ``engine: pipecat``): the turn ends where Smart Turn says complete at the VAD stop, or after
  Smart Turn's ``stop_secs`` of silence; knob ``smart_turn_stop_secs`` (:data:`PIPECAT_STOP_SECS`;
  3 s is the stock value). The item's final silence is continued by :data:`PIPECAT_TAIL_S` so
  that timeout can fire (the recording's end is not the user's).

Latencies are audio time from the start of the true final silence (the reference speech
end); a decision inside a hold ends the turn early (a false cutoff). The detectors that decide on
their own frames (the VADs, voicelab's endpointer, Pipecat's stack) can end the turn a little
before the reference end (the VAD takes the last word's tail for silence): such a decision, in the
speech right before a silence, fires at that silence's start (``early`` in
:func:`voicelab.measure.eot.fire_offsets`): a hold is cut, an eot answered with latency 0.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm import tqdm

from voicelab.lab.eot_signals import FRAME_MS, silence_runs, smart_turn_at, speech_frames, vad_probabilities
from voicelab.measure.eot import EotItem, Silence, SpanTable, Sweep, sweep_curve
from voicelab.measure.eot_budget import budget_figures_ci
from voicelab.measure.eot_policy import (
    DEFAULT_THRESHOLDS,
    DEFAULT_TIMEOUTS_MS,
    decisions_sweep,
    silence_timeout_sweep,
    threshold_delay_sweep,
    vad_timeout_sweep,
)
from voicelab.units import INPUT_RATE

__all__ = ["DETECTORS", "MAX_SILENCES_MS", "MIN_SILENCES_MS", "PIPECAT", "PIPECAT_LEAD_S", "PIPECAT_STOP_SECS",
           "PIPECAT_TAIL_S",
           "SCORE_POINT_MS", "Signals", "VADS", "budget_table", "compute_signals", "eot_table", "pipecat_sweep",
           "sweeps", "voicelab_endpointer_sweep"]

VADS = {"silero": ("Silero", {}), "energy": ("energy", {}), "webrtc": ("WebRTC", {"aggressiveness": 2})}
"""VAD kind -> (label, constructor arguments): voicelab's defaults (:class:`voicelab.config.VADConfig`)."""

SCORE_POINT_MS = 200.0
"""eot-bench scores a batch model (SmartTurn) once per silence, 0.2 s into it (score-point mode)."""

MIN_SILENCES_MS = (200.0, 300.0, 500.0)
"""voicelab's endpointer: silence before Smart Turn is asked (500: the default; 200-300: fast settings)."""

MAX_SILENCES_MS = (1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0)
"""voicelab's endpointer: silence that ends a turn without Smart Turn (1000: the default)."""

PIPECAT = "Pipecat stock turn stack"

PIPECAT_STOP_SECS = (1.0, 2.0, 3.0)
"""Smart Turn ``stop_secs`` (s) run for Pipecat's stack (3: ``SmartTurnParams``' default)."""

PIPECAT_LEAD_S = 1.0
"""Digital silence fed to Pipecat's stack before each item: its VAD's volume gate is a rolling
400 ms BS.1770 loudness window (``pipecat.audio.volume.AudioVolumeTracker``), which in a live
stream is always full; fed cold, it misses speech that starts in an item's first 400 ms
(91 of 1139 items without it: "ten", "Added.", ...). Decisions are shifted back by it."""

PIPECAT_TAIL_S = 4.0
"""Digital silence (s) appended to an item for Pipecat's stack: its longest timeout (3 s after the
VAD stop, which comes ~0.2-0.3 s after the speech) then fits in every final silence."""

DETECTORS = ["silence (labelled)", "silence (Silero VAD)", "silence (energy VAD)", "silence (WebRTC VAD)",
             "Smart Turn v3.2 (eot-bench)", "Smart Turn after Silero silence (voicelab)", PIPECAT]


@dataclass
class Signals:
    """Per item id: VAD probabilities per kind (float32 per 32 ms frame), Smart Turn scores at
    each labelled silence's score point (eot-bench), Smart Turn at voicelab's pause
    times ``{(min_silence_ms, first_frame): p}``, and Pipecat's turn ends
    ``{smart_turn_stop_secs: [ms]}``."""

    vad: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    span_scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    pause_scores: dict[str, dict[tuple[float, int], float]] = field(default_factory=dict)
    pipecat: dict[str, dict[float, list[float]]] = field(default_factory=dict)

    def __setstate__(self, state: dict) -> None:
        """Unpickle, giving fields added since the pickle was written their defaults."""
        self.__init__()
        self.__dict__.update(state)


def eot_table(items: Sequence[EotItem]) -> SpanTable:
    """The spans eot-bench scores (holds of 200-5000 ms, every eot)."""
    return SpanTable.from_items(items)


def _pause_frames(speech: np.ndarray, min_silence_ms: float) -> list[int]:
    """First frames of the silence runs that reach ``min_silence_ms`` (the last run counts:
    the recording's end is not the user's)."""
    need = max(1, math.ceil(min_silence_ms / FRAME_MS - 1e-9))
    runs = silence_runs(speech)
    return [i for k, (i, n) in enumerate(runs) if n >= need or k == len(runs) - 1]


@functools.cache
def _stock_pipecat() -> Callable[[np.ndarray], dict[float, list[float]]] | None:
    try:
        from voicelab.peers.pipecat.turn_stack import PipecatTurnStack
    except ImportError as e:
        warnings.warn(f"{PIPECAT} left out: Pipecat is not installed (pip install 'voicelab[pipecat]'): {e}",
                      stacklevel=3)
        return None
    return PipecatTurnStack(stop_secs=PIPECAT_STOP_SECS).decisions


def compute_signals(items: Sequence[EotItem], audio: Callable[[str], np.ndarray],
                    probability: Callable[[np.ndarray], float], signals: Signals | None = None,
                    progress: bool = True,
                    pipecat: Callable[[np.ndarray], dict[float, list[float]]] | None = None) -> Signals:
    """Run every detector once per item (skipping what ``signals`` already holds).

    Args:
        items: the labelled turns.
        audio: item id -> its float32 16 kHz samples.
        probability: Smart Turn's P(complete) of an utterance (e.g.
            ``SmartTurnDetector().probability_complete``).
        signals: earlier results to extend (a resumed evaluation).
        progress: a tqdm bar on stderr.
        pipecat: audio (with :data:`PIPECAT_LEAD_S` of silence before it and :data:`PIPECAT_TAIL_S`
            after it) -> Pipecat's turn ends
            per Smart Turn ``stop_secs`` (default: the stock
            :class:`voicelab.peers.pipecat.turn_stack.PipecatTurnStack` over :data:`PIPECAT_STOP_SECS`,
            loaded when first needed; left out with a warning if Pipecat is not installed).
    """
    out = signals or Signals()
    todo = [it for it in items if it.item_id not in out.pause_scores or it.item_id not in out.pipecat]
    loaded = pipecat is not None
    for it in tqdm(todo, desc="eot signals", unit="item", disable=not progress):
        x = audio(it.item_id)
        if it.item_id not in out.pipecat:
            if not loaded:
                pipecat, loaded = _stock_pipecat(), True
            if pipecat is not None:
                lead = np.zeros(int(PIPECAT_LEAD_S * INPUT_RATE), dtype=np.float32)
                tail = np.zeros(int(PIPECAT_TAIL_S * INPUT_RATE), dtype=np.float32)
                ends = pipecat(np.concatenate([lead, x, tail]).astype(np.float32, copy=False))
                shift = 1000.0 * PIPECAT_LEAD_S
                out.pipecat[it.item_id] = {k: [t - shift for t in v if t >= shift] for k, v in ends.items()}
        if it.item_id in out.pause_scores:
            continue
        vads = {kind: vad_probabilities(x, kind, **params) for kind, (_, params) in VADS.items()}
        dur = 1000.0 * len(x) / INPUT_RATE
        times = np.array([min(s.start_ms + SCORE_POINT_MS, dur) for s in it.silences])
        span = (times, smart_turn_at(x, times, probability))
        speech = speech_frames(vads["silero"])
        asks = sorted({(m, i) for m in MIN_SILENCES_MS for i in _pause_frames(speech, m)})
        at = [min((i + max(1, math.ceil(m / FRAME_MS - 1e-9))) * FRAME_MS, dur) for m, i in asks]
        pauses = dict(zip(asks, smart_turn_at(x, at, probability).tolist())) if asks else {}
        out.vad[it.item_id], out.span_scores[it.item_id], out.pause_scores[it.item_id] = vads, span, pauses
    return out


def voicelab_endpointer_sweep(table: SpanTable, signals: Signals, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                              min_silences_ms: Sequence[float] = MIN_SILENCES_MS,
                              max_silences_ms: Sequence[float] = MAX_SILENCES_MS) -> Sweep:
    """voicelab's endpointer with Smart Turn, swept over threshold x min x max silence.

    Per Silero silence run ``(i0, n)`` (frames): with ``a = ceil(min/32)`` and
    ``b = ceil(max/32)``, if ``n >= a`` Smart Turn is asked at frame end ``(i0 + a) * 32``;
    ``p > threshold`` decides there, else the turn ends at ``(i0 + b) * 32`` if ``n >= b``
    (the final run never ends). As :class:`voicelab.vad.endpointing.Endpointer` with
    ``max_silence_ms`` set decides (``tests/test_eot_eval.py`` checks it against the
    endpointer itself). A span that begins later in a silence whose decision is already made
    (the VAD heard no speech since) gets a decision at its start: the turn is still ended.
    """
    points = []
    runs = {k: silence_runs(speech_frames(signals.vad[k]["silero"])) for k in table.item_ids}
    starts = {k: table.start_ms[table.item == j].tolist() for j, k in enumerate(table.item_ids)}
    for m in min_silences_ms:
        a = max(1, math.ceil(m / FRAME_MS - 1e-9))
        for mx in max_silences_ms:
            if mx < m:
                continue
            b = max(1, math.ceil(mx / FRAME_MS - 1e-9))
            per_item = {}
            for k in table.item_ids:
                r = runs[k]
                asked = [(i, n, j == len(r) - 1, signals.pause_scores[k].get((m, i), math.nan))
                         for j, (i, n) in enumerate(r) if n >= a or j == len(r) - 1]
                per_item[k] = asked
            for th in thresholds:
                decisions = {}
                for k, asked in per_item.items():
                    d = []
                    for i, n, last, p in asked:
                        if p > th:
                            d.append((i + a) * FRAME_MS)
                        elif last or n >= b:
                            d.append((i + b) * FRAME_MS)
                        else:
                            continue
                        # a span that begins later in this same silence finds the turn already ended
                        end = math.inf if last else (i + n) * FRAME_MS
                        d += [t for t in starts[k] if d[-1] < t < end]
                    decisions[k] = d
                points.append(({"min_silence_ms": m, "max_silence_ms": mx, "threshold": float(th)}, decisions, None))
    return decisions_sweep(table, points, early=True)


def pipecat_sweep(table: SpanTable, signals: Signals,
                  policy_timeouts_ms: Sequence[float] = (math.inf, *DEFAULT_TIMEOUTS_MS)) -> Sweep:
    """Pipecat's stock turn stack: one point per Smart Turn ``stop_secs`` it was run with (knob
    ``smart_turn_stop_secs``) and per eot-bench policy timeout (knob ``policy_timeout_ms``; inf:
    none, the stack alone). Pipecat's stack never ends a turn its VAD never started (a short or
    quiet word under ``start_secs`` / ``min_volume``); eot-bench's policy timeout then answers,
    as it does for every detector it scores."""
    values = sorted(set.intersection(*(set(signals.pipecat[k]) for k in table.item_ids)))
    return decisions_sweep(table, [({"smart_turn_stop_secs": s, "policy_timeout_ms": float(t)},
                                    {k: signals.pipecat[k][s] for k in table.item_ids},
                                    None if math.isinf(t) else float(t))
                                   for s in values for t in policy_timeouts_ms], early=True)


def sweeps(table: SpanTable, signals: Signals) -> dict[str, Sweep]:
    """Every detector of :data:`DETECTORS` as a sweep over the same spans (Pipecat's stack only
    if ``signals`` hold it for every item)."""
    out = {"silence (labelled)": silence_timeout_sweep(table)}
    for kind, (label, _) in VADS.items():
        speech = {k: speech_frames(signals.vad[k][kind]) for k in table.item_ids}
        out[f"silence ({label} VAD)"] = vad_timeout_sweep(table, speech, early=True)
    out["Smart Turn v3.2 (eot-bench)"] = threshold_delay_sweep(table, signals.span_scores)
    out["Smart Turn after Silero silence (voicelab)"] = voicelab_endpointer_sweep(table, signals)
    if all(k in signals.pipecat for k in table.item_ids):
        out[PIPECAT] = pipecat_sweep(table, signals)
    return out


def budget_table(table: SpanTable, all_sweeps: dict[str, Sweep], n_boot: int = 2000,
                 seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(budgets, curves)``: eot-bench's budget figures with CIs per detector, and every
    detector's operating-point curve (one row per point, ``detector`` first)."""
    budgets, curves = [], []
    for name, sweep in all_sweeps.items():
        b = budget_figures_ci(table, sweep, n_boot=n_boot, seed=seed)
        b.insert(0, "detector", name)
        budgets.append(b)
        c = sweep_curve(table, sweep)
        c.insert(0, "detector", name)
        curves.append(c)
    return pd.concat(budgets, ignore_index=True), pd.concat(curves, ignore_index=True)


def as_eot_item(item_id: str, silences: Sequence[tuple[float, float, str]], group: str) -> EotItem:
    """An :class:`EotItem` from a corpus item's labelled silences ``(start_ms, end_ms, label)``."""
    return EotItem(item_id, tuple(Silence(float(a), float(b), lab) for a, b, lab in silences), group)
