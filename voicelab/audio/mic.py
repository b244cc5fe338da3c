"""A virtual microphone: plays audio at real-time pace in fixed frames on the session clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from voicelab.clock import SessionClock
from voicelab.units import INPUT_RATE

FRAME_SAMPLES = 512
"""32 ms at 16 kHz: Silero VAD's window, so one mic frame is one VAD decision."""


@dataclass(frozen=True)
class MicFrame:
    """``samples``: float32 ``(512,)`` at 16 kHz covering ``[start_ms, end_ms)`` on the session clock.

    ``user_audio``: ground truth of the virtual microphone, True when a user clip put
    non-zero samples into this frame (echo-only frames, for the ERLE, are the others)."""

    index: int
    start_ms: float
    end_ms: float
    samples: np.ndarray
    user_audio: bool = False


class VirtualMicrophone:
    """Streams silence, and clips when asked, as 512-sample frames at real-time pace.

    Frame ``k`` holds samples ``[512 k, 512 (k + 1))`` and is delivered when its last
    sample has been "captured", at session time ``32 (k + 1)`` ms. Responsibilities:

    1. pace frames on the session clock (t = 0 is the first captured sample);
    2. place each clip passed to :meth:`play` at the next frame boundary;
    3. optionally mix in the agent's echo and background noise (full-duplex studies);
    4. keep what it captured, so the input timeline can be written out.
    """

    def __init__(self, clock: SessionClock, echo: Callable[[float, int], np.ndarray] | None = None,
                 noise_rms: float = 0.0, seed: int = 0) -> None:
        """``echo``: a callable ``(start_ms, n) -> float32 (n,)`` giving the agent's echo in
        the frame that starts at ``start_ms`` (an :class:`~voicelab.audio.echo_path.EchoPath`),
        added to it; ``noise_rms``: white noise (seeded by ``seed``) added to every frame."""
        self._clock = clock
        self._echo = echo
        self._noise_rms = noise_rms
        self._rng = np.random.default_rng(seed)
        self._captured: list[np.ndarray] = []
        self._next_frame = 0
        self._source: np.ndarray | None = None
        self._source_start = 0  # sample index of the source's first sample
        self._closed = False
        self.placements: list[tuple[int, np.ndarray]] = []

    @property
    def frame_ms(self) -> float:
        return FRAME_SAMPLES * 1000.0 / INPUT_RATE

    def play(self, audio: np.ndarray) -> float:
        """Start ``audio`` (16 kHz mono float32) at the next frame; return its start in ms.

        Raises:
            RuntimeError: a clip is still playing.
        """
        if self.busy:
            raise RuntimeError("the microphone is still playing the previous clip")
        self._source = audio
        self._source_start = self._next_frame * FRAME_SAMPLES
        self.placements.append((self._source_start, audio))
        return self._source_start * 1000.0 / INPUT_RATE

    @property
    def busy(self) -> bool:
        """True while a clip has samples not yet delivered."""
        return self._source is not None and (
            self._next_frame * FRAME_SAMPLES < self._source_start + len(self._source)
        )

    def close(self) -> None:
        """Stop :meth:`frames` after the frame in progress."""
        self._closed = True

    async def frames(self) -> AsyncIterator[MicFrame]:
        """Yield frames at real-time pace until :meth:`close` is called."""
        while not self._closed:
            k = self._next_frame
            start = k * FRAME_SAMPLES
            end_ms = (start + FRAME_SAMPLES) * 1000.0 / INPUT_RATE
            await self._clock.sleep_until(end_ms)
            frame = np.zeros(FRAME_SAMPLES, dtype=np.float32)
            user_audio = False
            if self._source is not None:
                lo = start - self._source_start
                part = self._source[max(lo, 0): lo + FRAME_SAMPLES]
                if len(part):
                    frame[max(-lo, 0): max(-lo, 0) + len(part)] = part
                    user_audio = bool(np.any(part))
            if self._echo is not None:
                frame += self._echo(start * 1000.0 / INPUT_RATE, FRAME_SAMPLES)
            if self._noise_rms:
                frame += (self._noise_rms * self._rng.standard_normal(FRAME_SAMPLES)).astype(np.float32)
            np.clip(frame, -1.0, 1.0, out=frame)
            self._captured.append(frame)
            self._next_frame = k + 1
            yield MicFrame(k, start * 1000.0 / INPUT_RATE, end_ms, frame, user_audio)

    def timeline(self) -> np.ndarray:
        """Everything captured so far (clips, echo and noise as the agent heard them):
        float32 at 16 kHz, from t = 0 to the last frame."""
        if not self._captured:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._captured)
