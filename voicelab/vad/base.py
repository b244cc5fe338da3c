"""The VAD protocol: one speech probability per 32 ms frame at 16 kHz."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from voicelab.units import INPUT_RATE

FRAME_SAMPLES = 512
"""32 ms at 16 kHz: the window Silero VAD v5/v6 accepts at 16 kHz, and the
microphone frame (:data:`voicelab.audio.mic.FRAME_SAMPLES`)."""


class VAD(ABC):
    """Voice activity detector on 512-sample (32 ms) float32 frames at 16 kHz.

    Every detector takes the same frame so they can be swapped under one
    :class:`~voicelab.vad.endpointing.Endpointer`. Responsibilities:

    1. validate each frame (:meth:`check_frame`): float32, shape ``(512,)``;
    2. return a speech probability in [0, 1] for it (:meth:`speech_probability`);
    3. carry any streaming state between consecutive frames, until :meth:`reset`.
    """

    name: ClassVar[str]
    sample_rate: ClassVar[int] = INPUT_RATE
    frame_samples: ClassVar[int] = FRAME_SAMPLES

    @abstractmethod
    def speech_probability(self, frame: np.ndarray) -> float:
        """Probability (0..1) that ``frame`` is speech.

        Args:
            frame: float32, shape ``(512,)``, 16 kHz mono, samples in [-1, 1]; the frame
                following the previous call's frame in the same stream.

        Raises:
            ValueError: wrong dtype or shape (see :meth:`check_frame`).
        """

    def reset(self) -> None:
        """Forget any state carried between frames (a new stream starts)."""

    def check_frame(self, frame: np.ndarray) -> None:
        """Raise ``ValueError`` unless ``frame`` is float32 of shape ``(512,)``.

        A frame carries no sample rate: audio at another rate shows up as a wrong
        length (32 ms at 44.1 kHz is 1411 samples), and the message says to resample.
        """
        if not isinstance(frame, np.ndarray) or frame.dtype != np.float32:
            got = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
            raise ValueError(
                f"{self.name} VAD expects float32 numpy frames in [-1, 1], got {got}; "
                "convert int16 PCM with x.astype(np.float32) / 32768"
            )
        if frame.shape != (self.frame_samples,):
            raise ValueError(
                f"{self.name} VAD expects mono frames of shape ({self.frame_samples},) "
                f"= 32 ms at {self.sample_rate} Hz, got shape {frame.shape}; "
                f"resample to {self.sample_rate} Hz and cut {self.frame_samples}-sample frames"
            )

