"""The causal signals an end-of-turn evaluation needs, computed once per corpus item.

:mod:`voicelab.measure.eot` scores decisions; this module runs the detectors that make
them, on each item's audio (float32 mono 16 kHz), once:

- :func:`vad_probabilities`: a VAD's speech probability per 32 ms frame (a fresh
  detector per item, frames in order, as the session streams them);
- :func:`speech_frames`: those probabilities through voicelab's endpointer hysteresis
  (:class:`voicelab.vad.endpointing.Endpointer`: a frame with ``p < neg_threshold`` starts
  silence, ``p >= threshold`` ends it, frames between keep the state), so a silence run
  here is exactly the silence the endpointer's timer counts;
- :func:`silence_runs`: those runs as ``(first_frame, n_frames)``;
- :func:`smart_turn_at`: Smart Turn v3.2's P(complete) at given times, judged on the audio
  before each time only (causal).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from voicelab.units import INPUT_RATE
from voicelab.vad import make_vad
from voicelab.vad.base import FRAME_SAMPLES

__all__ = ["FRAME_MS", "silence_runs", "smart_turn_at", "speech_frames", "vad_probabilities"]

FRAME_MS = 1000.0 * FRAME_SAMPLES / INPUT_RATE
"""32 ms: one VAD frame."""


def vad_probabilities(audio: np.ndarray, kind: str, **params) -> np.ndarray:
    """Speech probability per 32 ms frame of ``audio`` (float32 ``(n_frames,)``).

    Args:
        audio: float32 mono 16 kHz, shape ``(n,)``; a partial last frame is dropped.
        kind: ``silero``, ``energy`` or ``webrtc`` (:func:`voicelab.vad.make_vad`).
        params: the VAD's constructor arguments (e.g. ``aggressiveness=2``).

    Raises:
        ValueError: unknown kind, or audio that is not 1-D float32.
    """
    if audio.dtype != np.float32 or audio.ndim != 1:
        raise ValueError(f"audio must be 1-D float32 at 16 kHz, got {audio.dtype} {audio.shape}")
    vad = make_vad(kind, **params)
    n = len(audio) // FRAME_SAMPLES
    return np.array([vad.speech_probability(audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]) for i in range(n)],
                    dtype=np.float32)


def speech_frames(probabilities: np.ndarray, threshold: float = 0.5, neg_threshold: float | None = None) -> np.ndarray:
    """Bool ``(n_frames,)``: True while the endpointer's silence timer is *not* running.

    The rule of :class:`voicelab.vad.endpointing.Endpointer` (Silero's hysteresis): state
    starts as silence; ``p >= threshold`` makes it speech; in speech, ``p < neg_threshold``
    makes it silence; frames in between keep the state. ``neg_threshold`` defaults to
    ``max(threshold - 0.15, 0.01)``, as there. (The endpointer's ``min_speech_ms`` onset
    rule is not applied: a silence of an item starts after speech the reference found,
    and a too-short blip inside it only restarts the timer, as it does in the session.)

    Raises:
        ValueError: thresholds outside [0, 1] or ``neg_threshold > threshold``.
    """
    neg = max(threshold - 0.15, 0.01) if neg_threshold is None else neg_threshold
    if not (0.0 <= neg <= threshold <= 1.0):
        raise ValueError(f"need 0 <= neg_threshold <= threshold <= 1, got {neg}, {threshold}")
    p = np.asarray(probabilities, dtype=float)
    out = np.zeros(len(p), dtype=bool)
    state = False
    for i, v in enumerate(p):
        if v >= threshold:
            state = True
        elif v < neg:
            state = False
        out[i] = state
    return out


def silence_runs(speech: np.ndarray) -> list[tuple[int, int]]:
    """``(first_frame, n_frames)`` of every silence after the first speech frame; the last
    run may reach the end of the frames (it is then as long as the frames left)."""
    s = np.asarray(speech, dtype=bool)
    idx = np.flatnonzero(s)
    if idx.size == 0:
        return []
    runs, i, n = [], int(idx[0]), len(s)
    while i < n:
        if s[i]:
            i += 1
            continue
        j = i
        while j < n and not s[j]:
            j += 1
        runs.append((i, j - i))
        i = j
    return runs


def smart_turn_at(audio: np.ndarray, times_ms: Sequence[float],
                  probability: Callable[[np.ndarray], float]) -> np.ndarray:
    """P(complete) at each time: ``probability(audio[:t])``, the audio before ``t`` only.

    Args:
        audio: float32 mono 16 kHz.
        times_ms: judgement times (ms from the audio's start), each within the audio.
        probability: e.g. :meth:`voicelab.vad.turn_detector.SmartTurnDetector.probability_complete`
            (it looks at the last 8 s).

    Returns:
        float64 ``(len(times_ms),)``.

    Raises:
        ValueError: a time outside ``(0, len(audio)]``.
    """
    dur = 1000.0 * len(audio) / INPUT_RATE
    out = np.empty(len(times_ms))
    for k, t in enumerate(times_ms):
        if not 0 < t <= dur + 1e-6 or math.isnan(t):
            raise ValueError(f"judgement time {t} ms is outside the {dur:.0f} ms of audio")
        out[k] = probability(audio[:int(round(t * INPUT_RATE / 1000.0))])
    return out
