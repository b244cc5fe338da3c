"""A scripted token stream with fixed delays, implementing the :class:`~voicelab.llm.base.LLM` protocol.

Run on :class:`voicelab.clock.VirtualTimeLoop`, each ``await asyncio.sleep(delay)``
takes exactly ``delay`` of session time, so a session built from scripted stages has
known timestamps and every metric has a value computable by hand (the tests of the
session and of the metric maths use them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from voicelab.clock import SessionClock
from voicelab.llm.base import LLM, Token, TokenStream


class _ScriptedStream(TokenStream):
    def __init__(self, llm: ScriptedLLM, clock: SessionClock) -> None:
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
