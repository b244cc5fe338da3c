"""The speech-to-text stage protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class STT(ABC):
    """Transcribes one endpointed utterance.

    Implementations run their model off the event loop (a worker thread) so the
    loop keeps pacing audio while they work.
    """

    name: str = "stt"

    @abstractmethod
    async def transcribe(self, audio: np.ndarray) -> str:
        """Transcribe 16 kHz mono float32 audio of shape ``(samples,)``; return plain text."""

    async def transcribe_reference(self, audio: np.ndarray) -> str:
        """The measuring transcription (round-trip WER of the played replies): the same
        model in its most accurate setting, whatever speed options the agent uses, so a
        quality column does not move with the setting it judges. Default: :meth:`transcribe`."""
        return await self.transcribe(audio)

    def warmup(self) -> None:
        """Run one throw-away inference so the first real call is not a cold start."""
