"""A scripted TTS with fixed delays, implementing the :class:`~voicelab.tts.base.TTS` protocol.

Run on :class:`voicelab.clock.VirtualTimeLoop`, each ``await asyncio.sleep(delay)``
takes exactly ``delay`` of session time, so a session built from scripted stages has
known timestamps and every metric has a value computable by hand (the tests of the
session and of the metric maths use them).
"""

from __future__ import annotations

import asyncio

import numpy as np

from voicelab.tts.base import TTS


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
