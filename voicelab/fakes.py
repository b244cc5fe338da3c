"""Fake stages with scripted delays, implementing the real stage protocols.

Run on :class:`voicelab.clock.VirtualTimeLoop`, each ``await asyncio.sleep(delay)``
takes exactly ``delay`` of session time, so a session built from these fakes has
known timestamps and every metric has a value computable by hand. Used by the
tests of the orchestrator and of the metric maths, and handy in notebooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from voicelab.clock import SessionClock
from voicelab.llm.base import LLM, Token, TokenStream
from voicelab.stt.base import STT
from voicelab.tts.base import TTS
from voicelab.vad.base import VAD


class OracleVAD(VAD):
    """Speech probability 1.0 for any frame with a non-zero sample, else 0.0.

    On a clip of exact digital silence around a speech-like signal it marks speech
    exactly, so endpointing times are known in advance.
    """

    name = "oracle"

    def speech_probability(self, frame: np.ndarray) -> float:
        self._check_frame(frame)
        return 1.0 if np.any(frame != 0) else 0.0

    def reset(self) -> None:
        pass


class ScriptedSTT(STT):
    """Returns ``text`` after ``delay_ms`` of session time."""

    name = "scripted-stt"

    def __init__(self, text: str, delay_ms: float) -> None:
        self.text, self.delay_ms = text, delay_ms
        self.calls: list[int] = []

    async def transcribe(self, audio: np.ndarray) -> str:
        self.calls.append(len(audio))
        await asyncio.sleep(self.delay_ms / 1000.0)
        return self.text


class _ScriptedStream(TokenStream):
    def __init__(self, llm: "ScriptedLLM", clock: SessionClock) -> None:
        self._llm, self._clock = llm, clock
        self._i = 0
        self._cancel = False
        self.started_ms = clock.now_ms()

    async def started(self) -> float:
        return self.started_ms

    async def __anext__(self) -> Token:
        if self._cancel or self._i >= len(self._llm.tokens):
            if self.finished_ms is None:
                await asyncio.sleep(self._llm.end_ms / 1000.0)
                self.finished_ms = self._clock.now_ms()
            self.cancelled = self._cancel
            raise StopAsyncIteration
        delay = self._llm.ttft_ms if self._i == 0 else self._llm.token_ms
        await asyncio.sleep(delay / 1000.0)
        tok = Token(self._clock.now_ms(), self._llm.tokens[self._i])
        self._i += 1
        return tok

    def cancel(self) -> None:
        self._cancel = True


class ScriptedLLM(LLM):
    """Streams ``tokens``: the first after ``ttft_ms``, then one every ``token_ms``;
    the stream ends ``end_ms`` after the last token (the end-of-sequence step)."""

    name = "scripted-llm"

    def __init__(self, tokens: Sequence[str], ttft_ms: float, token_ms: float, end_ms: float = 0.0) -> None:
        self.tokens = list(tokens)
        self.ttft_ms, self.token_ms, self.end_ms = ttft_ms, token_ms, end_ms
        self.requests: list[tuple[list[dict[str, str]], int]] = []

    def stream(self, messages, *, seed: int, clock: SessionClock) -> TokenStream:
        self.requests.append((list(messages), seed))
        return _ScriptedStream(self, clock)


class ScriptedTTS(TTS):
    """Synthesizes in ``base_ms + per_char_ms * len(text)`` ms; returns ``audio_ms_per_char``
    of constant 0.1 audio per character (at 24 kHz)."""

    name = "scripted-tts"
    sample_rate = 24_000

    def __init__(self, base_ms: float, per_char_ms: float = 0.0, audio_ms_per_char: float = 60.0) -> None:
        self.base_ms, self.per_char_ms, self.audio_ms_per_char = base_ms, per_char_ms, audio_ms_per_char
        self.requests: list[str] = []

    def samples_for(self, text: str) -> int:
        return round(len(text) * self.audio_ms_per_char * self.sample_rate / 1000.0)

    async def synthesize(self, text: str) -> np.ndarray:
        self.requests.append(text)
        await asyncio.sleep((self.base_ms + self.per_char_ms * len(text)) / 1000.0)
        return np.full(self.samples_for(text), 0.1, dtype=np.float32)
