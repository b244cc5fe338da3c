"""A live microphone: audio pushed from outside (a WebSocket client, a widget) as it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from voicelab.audio.mic import FRAME_SAMPLES, MicFrame
from voicelab.units import INPUT_RATE


class StreamMicrophone:
    """Cuts pushed 16 kHz mono float32 audio into 512-sample frames, delivered as they complete.

    The sample clock is the session clock: frame ``k`` covers ``[32 k, 32 (k + 1))`` ms, and
    t = 0 is the capture of the first sample, taken as its arrival (:meth:`first_sample`) minus
    the first packet's duration (:attr:`first_push_ms`), so a client streaming in real time
    keeps both clocks together; a late frame is delivered late
    but keeps its sample time. Same interface as
    :class:`~voicelab.audio.mic.VirtualMicrophone` for the session's consumers
    (:meth:`frames`, :attr:`frame_ms`, :meth:`close`, :meth:`timeline`).
    """

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self._captured: list[np.ndarray] = []
        self._next_frame = 0
        self._data = asyncio.Event()
        self._started = asyncio.Event()
        self._closed = False
        self.first_push_ms = 0.0
        """Duration of the first pushed audio: its first sample was captured that long before it arrived."""
        self.first_push_at: float | None = None
        """Event-loop time at which the first audio arrived (None before; the session clock is
        anchored there, not at the later moment the session is set up)."""
        self.busy = False  # no scripted clip ever plays here

    @property
    def frame_ms(self) -> float:
        return FRAME_SAMPLES * 1000.0 / INPUT_RATE

    def push(self, samples: np.ndarray) -> None:
        """Append float32 mono samples at 16 kHz (any length).

        Raises:
            ValueError: not 1-D, or not finite.
            RuntimeError: the microphone is closed.
        """
        if self._closed:
            raise RuntimeError("the microphone is closed")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples of shape (n,), got {samples.shape}")
        if not np.isfinite(samples).all():
            raise ValueError("samples contain NaN or infinity")
        if len(samples):
            if not self._started.is_set():
                self.first_push_ms = len(samples) * 1000.0 / INPUT_RATE
                self.first_push_at = asyncio.get_running_loop().time()
            self._pending = np.concatenate([self._pending, samples])
            self._started.set()
            self._data.set()

    async def first_sample(self) -> None:
        """Return once the first sample has arrived (or the microphone was closed)."""
        await self._started.wait()

    def close(self) -> None:
        """End :meth:`frames` once the complete frames are delivered (a partial one is dropped)."""
        self._closed = True
        self._started.set()
        self._data.set()

    @property
    def samples_received(self) -> int:
        return len(self._pending) + self._next_frame * FRAME_SAMPLES

    async def frames(self) -> AsyncIterator[MicFrame]:
        """Yield each complete frame as soon as its last sample has arrived."""
        while True:
            while len(self._pending) < FRAME_SAMPLES:
                if self._closed:
                    return
                self._data.clear()
                await self._data.wait()
            frame, self._pending = self._pending[:FRAME_SAMPLES].copy(), self._pending[FRAME_SAMPLES:]
            k = self._next_frame
            self._next_frame += 1
            self._captured.append(frame)
            start = k * self.frame_ms
            yield MicFrame(k, start, start + self.frame_ms, frame, bool(np.any(frame)))

    def timeline(self) -> np.ndarray:
        """Every delivered frame: float32 at 16 kHz from t = 0."""
        return np.concatenate(self._captured) if self._captured else np.zeros(0, dtype=np.float32)
