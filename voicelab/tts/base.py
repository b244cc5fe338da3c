"""The text-to-speech stage protocol."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SENTENCE_PAUSE_S = 0.25
CLAUSE_PAUSE_S = 0.1
"""Silence appended after a chunk ending a sentence / clause: kokoro-onnx's own
``create()`` defaults for the joins between its batches, applied at our chunk joins."""


def trailing_pause_s(text: str) -> float:
    """The pause after ``text``, seconds: :data:`SENTENCE_PAUSE_S` after ``.!?``,
    :data:`CLAUSE_PAUSE_S` after ``,;:``, else 0 (closing quotes/brackets skipped)."""
    end = text.rstrip().rstrip("\"')]”’")[-1:]
    return SENTENCE_PAUSE_S if end and end in ".!?" else CLAUSE_PAUSE_S if end and end in ",;:" else 0.0


def with_trailing_pause(audio: np.ndarray, text: str, rate: int) -> np.ndarray:
    """``audio`` (float32 ``(n,)`` at ``rate`` Hz) followed by :func:`trailing_pause_s` of silence."""
    pause = trailing_pause_s(text)
    if pause:
        audio = np.concatenate([audio, np.zeros(int(pause * rate), dtype=np.float32)])
    return np.ascontiguousarray(audio, dtype=np.float32)


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


class ThreadedTTS(TTS):
    """A TTS engine whose blocking :meth:`synthesize_sync` runs in one dedicated worker
    thread, so synthesis overlaps LLM generation and requests run one at a time."""

    def __init__(self, thread_name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)

    @abstractmethod
    def synthesize_sync(self, text: str) -> np.ndarray:
        """Blocking synthesis: float32 ``(samples,)`` at :attr:`sample_rate` Hz."""

    async def synthesize(self, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.synthesize_sync, text)

    async def idle(self) -> None:
        # one worker thread: a no-op queued behind the running job finishes after it
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    def warmup(self) -> None:
        self.synthesize_sync("Hello there.")


def request_timeout_s(text: str, timeout_s: float | None, per_word_s: float) -> float | None:
    """The time limit of one request for ``text``: ``timeout_s + per_word_s * words`` (words split
    on whitespace); None (no limit) when ``timeout_s`` is None."""
    return None if timeout_s is None else timeout_s + per_word_s * len(text.split())
