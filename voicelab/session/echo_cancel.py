"""Echo cancellation in a session: every microphone frame, cleaned against what the agent played."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from voicelab.aec import EchoCanceller
from voicelab.audio.mic import MicFrame
from voicelab.events import AECWindow
from voicelab.session.context import SessionContext
from voicelab.units import INPUT_RATE

WINDOW_FRAMES = 10
"""Microphone frames (32 ms each) per :class:`~voicelab.events.AECWindow` record: 320 ms,
fine enough to follow the filter's convergence over a reply."""

REFERENCE_ACTIVE_RMS = 1e-3
"""A frame is an echo frame when the played reference over it has at least this RMS
(-60 dBFS): the agent was audibly playing."""


class AECFrontEnd:
    """Sits between the microphone and its consumers (endpointer, barge-in detector, STT).

    Responsibilities:

    1. run each frame through the session's :class:`~voicelab.aec.EchoCanceller`, with the
       speaker's played audio over the same 32 ms as the reference (the played timeline is
       written ahead of the clock, so it is complete when the frame arrives);
    2. time each call (thread CPU time, ms) and sum, over echo-only frames (reference active,
       no user clip: :attr:`~voicelab.audio.mic.MicFrame.user_audio`), the energies of the
       microphone signal and the output: logged every :data:`WINDOW_FRAMES` frames as an
       :class:`~voicelab.events.AECWindow` (and once more at :meth:`close`).
    """

    def __init__(self, ctx: SessionContext, canceller: EchoCanceller) -> None:
        self._ctx, self._aec = ctx, canceller
        self._out: list[np.ndarray] = []
        self._reset(0.0)

    def _reset(self, start_ms: float) -> None:
        self._start_ms, self._frames, self._cpu_ms = start_ms, 0, 0.0
        self._echo_frames, self._mic_energy, self._out_energy = 0, 0.0, 0.0

    def process(self, frame: MicFrame) -> MicFrame:
        """``frame`` with its samples echo-cancelled (a new frame; the microphone's is kept)."""
        reference = self._ctx.speaker.excerpt(frame.start_ms, len(frame.samples), INPUT_RATE)
        t0 = time.thread_time()
        out = self._aec.process(frame.samples, reference)
        self._cpu_ms += (time.thread_time() - t0) * 1000.0
        self._frames += 1
        if not frame.user_audio and np.sqrt(np.mean(np.square(reference))) >= REFERENCE_ACTIVE_RMS:
            self._echo_frames += 1
            self._mic_energy += float(np.sum(np.square(frame.samples, dtype=np.float64)))
            self._out_energy += float(np.sum(np.square(out, dtype=np.float64)))
        if self._frames == WINDOW_FRAMES:
            self._log(frame.end_ms)
        self._out.append(out)
        return dataclasses.replace(frame, samples=out)

    def timeline(self) -> np.ndarray:
        """Everything the canceller output so far: float32 at 16 kHz from t = 0."""
        return np.concatenate(self._out) if self._out else np.zeros(0, dtype=np.float32)

    def _log(self, end_ms: float) -> None:
        self._ctx.trace.append(AECWindow(end_ms, self._start_ms, self._frames, self._cpu_ms, self._echo_frames,
                                         self._mic_energy, self._out_energy))
        self._reset(end_ms)

    def close(self, end_ms: float) -> None:
        """Log the last, partial window (if any frame is in it) and free the canceller."""
        if self._frames:
            self._log(end_ms)
        self._aec.close()
