"""The text-to-speech stage protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class TTS(ABC):
    """Synthesizes one text chunk per request, off the event loop."""

    name: str = "tts"
    sample_rate: int = 24_000

    @abstractmethod
    async def synthesize(self, text: str) -> np.ndarray:
        """Speech for ``text``: float32 mono ``(samples,)`` at :attr:`sample_rate` Hz."""

    async def idle(self) -> None:
        """Return once no synthesis is running (after a cancelled request)."""

    def warmup(self) -> None:
        """Run one throw-away synthesis so the first real call is not a cold start."""
