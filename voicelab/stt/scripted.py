"""A scripted STT with a fixed delay, implementing the :class:`~voicelab.stt.base.STT` protocol.

Run on :class:`voicelab.clock.VirtualTimeLoop`, each ``await asyncio.sleep(delay)``
takes exactly ``delay`` of session time, so a session built from scripted stages has
known timestamps and every metric has a value computable by hand (the tests of the
session and of the metric maths use them).
"""

from __future__ import annotations

import asyncio

import numpy as np

from voicelab.stt.base import STT


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
