"""Stage wrappers that inject the ``faults:`` config's failures into STT, LLM and TTS."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from voicelab.clock import SessionClock
from voicelab.faults.plan import FaultPlan, InjectedFault
from voicelab.llm.base import LLM, Token, TokenStream
from voicelab.stt.base import STT
from voicelab.tts.base import TTS


async def _hang(plan: FaultPlan, request: int):
    await asyncio.sleep(plan.spec.hang_ms / 1000.0)
    raise InjectedFault(f"injected: {plan.stage} request {request} hung for {plan.spec.hang_ms:g} ms")


async def _slowly(plan: FaultPlan, work):
    """Run ``work`` (an awaitable), then wait ``slow_factor - 1`` times as long again."""
    t0 = time.perf_counter()
    result = await work
    await asyncio.sleep((time.perf_counter() - t0) * (plan.spec.slow_factor - 1.0))
    return result


async def faulty_request(plan: FaultPlan, work, empty):
    """One request of a stage: ``work()`` (a coroutine factory), or the planned fault:
    raise, hang then raise, ``empty``, or ``work()`` slowed down."""
    k, hit = plan.next()
    if not hit:
        return await work()
    kind = plan.spec.kind
    if kind == "raise":
        raise InjectedFault(f"injected: {plan.stage} request {k} failed")
    if kind == "hang":
        return await _hang(plan, k)
    if kind == "empty":
        return empty
    return await _slowly(plan, work())


class FaultySTT(STT):
    """``inner`` with ``plan``'s failures: raise, hang then raise, an empty transcript, or slow."""

    def __init__(self, inner: STT, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan
        self.name = inner.name

    def __getattr__(self, name: str):  # model_path, info, ... of the real engine
        return getattr(self.inner, name)

    async def transcribe(self, audio: np.ndarray) -> str:
        return await faulty_request(self.plan, lambda: self.inner.transcribe(audio), "")

    async def transcribe_reference(self, audio: np.ndarray) -> str:
        return await self.inner.transcribe_reference(audio)  # the measuring pass is not the agent's

    def warmup(self) -> None:
        self.inner.warmup()


class FaultyTTS(TTS):
    """``inner`` with ``plan``'s failures: raise, hang then raise, no audio, or slow.
    ``owns_inner``: :meth:`close` closes ``inner`` too (False for an engine others share)."""

    def __init__(self, inner: TTS, plan: FaultPlan, owns_inner: bool = True) -> None:
        self.inner, self.plan, self.owns_inner = inner, plan, owns_inner
        self.name, self.sample_rate = inner.name, inner.sample_rate

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    async def synthesize(self, text: str) -> np.ndarray:
        return await faulty_request(self.plan, lambda: self.inner.synthesize(text), np.zeros(0, dtype=np.float32))

    async def idle(self) -> None:
        await self.inner.idle()

    def warmup(self) -> None:
        self.inner.warmup()

    def close(self) -> None:
        close = getattr(self.inner, "close", None) if self.owns_inner else None
        if close is not None:
            close()


class _FaultyStream(TokenStream):
    """A reply stream failing as ``kind`` says: before its first token (raise, hang), with
    no tokens (empty), or with each token delayed (slow)."""

    def __init__(self, inner: TokenStream, plan: FaultPlan, request: int, clock: SessionClock) -> None:
        self.inner, self.plan, self.request, self.clock = inner, plan, request, clock
        self._last: float | None = None

    async def started(self) -> float:
        self.started_ms = await self.inner.started()
        return self.started_ms

    async def __anext__(self) -> Token:
        kind = self.plan.spec.kind
        if kind in ("raise", "hang", "empty"):
            self.inner.cancel()
            await self.inner.join()
            self.finished_ms = self.clock.now_ms()
            if kind == "raise":
                raise InjectedFault(f"injected: llm request {self.request} failed")
            if kind == "hang":
                await _hang(self.plan, self.request)
            raise StopAsyncIteration
        t0 = self.clock.now_ms()
        try:
            tok = await self.inner.__anext__()
        except StopAsyncIteration:
            self.finished_ms, self.cancelled = self.inner.finished_ms, self.inner.cancelled
            raise
        await asyncio.sleep((self.clock.now_ms() - t0) * (self.plan.spec.slow_factor - 1.0) / 1000.0)
        return Token(self.clock.now_ms(), tok.text)

    def cancel(self) -> None:
        self.inner.cancel()

    async def join(self) -> None:
        await self.inner.join()


class FaultyLLM(LLM):
    """``inner`` with ``plan``'s failures (see :class:`_FaultyStream`)."""

    def __init__(self, inner: LLM, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan
        self.name = inner.name

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def stream(self, messages, *, seed: int, clock: SessionClock) -> TokenStream:
        stream = self.inner.stream(messages, seed=seed, clock=clock)
        k, hit = self.plan.next()
        return _FaultyStream(stream, self.plan, k, clock) if hit else stream

    def warmup(self) -> None:
        self.inner.warmup()
