"""Barge-in: is the user taking the turn while the agent speaks, and cutting the agent off."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from voicelab.config import BargeInConfig
from voicelab.events import BargeInDetected
from voicelab.session.context import SessionContext
from voicelab.session.response import Response
from voicelab.vad import make_vad


class BargeInDetector:
    """Fires once speech frames have lasted ``min_barge_in_ms`` while the agent speaks.

    Frame probabilities come from a VAD (32 ms frames). While agent audio is playing,
    ``echo_guard_threshold`` (if set) replaces ``threshold``: a raised bar against the
    agent's own echo. Any frame below the threshold restarts the count.
    """

    def __init__(self, config: BargeInConfig, frame_ms: float = 32.0) -> None:
        self.config = config
        self.frame_ms = frame_ms
        self.reset()

    def reset(self) -> None:
        """Forget the current speech run (call when the agent stops speaking)."""
        self._run_ms = 0.0

    def process(self, probability: float, agent_playing: bool) -> bool:
        """Feed one frame's speech probability; True when the detector fires."""
        c = self.config
        threshold = c.echo_guard_threshold if (agent_playing and c.echo_guard_threshold is not None) \
            else c.threshold
        if probability >= threshold:
            self._run_ms += self.frame_ms
        else:
            self._run_ms = 0.0
        return self._run_ms >= max(c.min_barge_in_ms, self.frame_ms)


class BargeInMonitor:
    """Watches every microphone frame for a barge-in and cuts the reply in flight.

    Responsibilities:

    1. score every frame with the detector's own VAD (``barge_in.vad_kind``; it sees
       every frame, so its state is current when needed) or, without one, reuse the
       endpointer's probability;
    2. while a reply is playing, feed the :class:`BargeInDetector`; otherwise reset it;
    3. when it fires: log :class:`~voicelab.events.BargeInDetected`, stop playback at
       the next output frame and cancel the reply (:meth:`Response.cancel`).
    """

    def __init__(self, ctx: SessionContext, current_response: Callable[[], Response | None]) -> None:
        cfg = ctx.config.barge_in
        self._ctx = ctx
        self._current = current_response
        self.detector = BargeInDetector(cfg, ctx.mic.frame_ms)
        self._vad = make_vad(cfg.vad_kind) if cfg.vad_kind else None

    def process(self, samples: np.ndarray, endpointer_probability: float) -> None:
        """Feed one 32 ms microphone frame (float32, 16 kHz)."""
        ctx = self._ctx
        if not ctx.config.barge_in.enabled:
            return
        p = self._vad.speech_probability(samples) if self._vad else endpointer_probability
        r = self._current()
        if r is None or not ctx.speaker.playing:
            self.detector.reset()
            return
        if self.detector.process(p, agent_playing=True):
            self.detector.reset()
            detected = ctx.clock.now_ms()
            ctx.trace.append(BargeInDetected(detected, r.turn, p))
            ctx.transition(r.turn, "speaking", "interrupted")
            ctx.speaker.stop(detected)  # within one output frame of the detection
            r.cancel()
