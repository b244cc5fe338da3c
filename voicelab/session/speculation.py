"""Speculative replies: answering on a short silence, held until the endpoint confirms it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from voicelab.events import (
    LLMStarted,
    LLMToken,
    SpeculationCommitted,
    SpeculationDiscarded,
    SpeculationStarted,
    TTSAudio,
)
from voicelab.session.context import ConversationState, SessionContext
from voicelab.session.response import Response
from voicelab.units import samples_to_ms


@dataclass
class Speculation:
    """One speculative reply to ``turn``: its task runs the whole answer (STT -> LLM ->
    TTS) with playback held; :attr:`committed` resolves when the endpoint confirms it."""

    turn: int
    started_ms: float
    trace_index: int
    task: asyncio.Task | None = None
    committed: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    discarded: bool = False


class Speculator:
    """Starts, commits and discards speculative replies (``speculate:`` config).

    Responsibilities:

    1. :meth:`start` a reply on the utterance so far when the endpointer reports a
       tentative end and nothing else is in flight, logging
       :class:`~voicelab.events.SpeculationStarted`; the answer runs with the speaker
       holding its audio;
    2. :meth:`commit` it at the endpoint: log :class:`~voicelab.events.SpeculationCommitted`,
       release the held audio (it plays from now) and hand the reply to the agent loop;
    3. :meth:`discard` it when speech resumes: cancel it the way a barge-in does (the
       LLM stops at its next token, pending TTS is dropped, held audio never plays), or
       cancel the STT call it waits on, then log
       :class:`~voicelab.events.SpeculationDiscarded` with the compute it wasted once it
       has wound down. A discarded reply leaves no audio, no history and no running work;
       :meth:`settled` waits for that, and no new speculation starts before it.

    ``answer(turn, audio, speculation)`` is the agent's answer coroutine;
    ``current_response()`` the reply being streamed (None outside one).
    """

    def __init__(self, ctx: SessionContext,
                 answer: Callable[[int, np.ndarray, Speculation], Awaitable[None]],
                 current_response: Callable[[], Response | None]) -> None:
        self._ctx = ctx
        self._answer = answer
        self._current_response = current_response
        self.enabled = ctx.config.speculate.enabled
        self.live: Speculation | None = None
        self._winding: asyncio.Task | None = None

    def can_start(self) -> bool:
        """No speculation is live or winding down."""
        return self.enabled and self.live is None and (self._winding is None or self._winding.done())

    def start(self, turn: int, audio: np.ndarray) -> Speculation:
        """Start answering ``turn`` on ``audio`` (float32, 16 kHz mono) with playback held."""
        ctx = self._ctx
        now = ctx.clock.now_ms()
        ctx.trace.append(SpeculationStarted(now, turn, samples_to_ms(len(audio))))
        spec = self.live = Speculation(turn, now, len(ctx.trace) - 1)
        spec.task = asyncio.create_task(self._answer(turn, audio, spec), name=f"speculate-{turn}")
        return spec

    def commit(self, turn: int) -> Speculation | None:
        """The endpoint confirmed ``turn``: release its speculative reply, if one is live.

        Returns the committed speculation (None if none was live for ``turn``).
        """
        spec = self.live
        if spec is None:
            return None
        if spec.turn != turn:  # a stale one (its turn ended without an endpoint)
            self.discard()
            return None
        ctx = self._ctx
        self.live = None
        ctx.trace.append(SpeculationCommitted(ctx.clock.now_ms(), turn, spec.started_ms))
        ctx.transition(turn, ConversationState.LISTENING, ConversationState.PROCESSING)
        r = self._current_response()
        if r is not None and r.turn == turn:
            ctx.speaker.release()
            if ctx.speaker.has_audio:
                ctx.transition(turn, ConversationState.PROCESSING, ConversationState.SPEAKING)
        spec.committed.set_result(ctx.clock.now_ms())
        return spec

    def discard(self) -> None:
        """Speech resumed: cancel the live speculation (if any) and log it once wound down."""
        spec = self.live
        if spec is None:
            return
        self.live = None
        spec.discarded = True
        r = self._current_response()
        if r is not None and r.turn == spec.turn:
            stage = "held" if self._ctx.speaker.has_audio else "llm"
            self._ctx.speaker.stop()
            r.cancel()
        else:
            stage = "stt"
            spec.task.cancel()
        self._winding = asyncio.create_task(self._log_discard(spec, stage), name=f"discard-{spec.turn}")

    async def _log_discard(self, spec: Speculation, stage: str) -> None:
        await asyncio.gather(spec.task, return_exceptions=True)
        ctx = self._ctx
        attempt = [e for e in list(ctx.trace)[spec.trace_index:] if getattr(e, "turn", None) == spec.turn]
        tokens = sum(isinstance(e, LLMToken) for e in attempt)
        if stage == "llm" and not any(isinstance(e, LLMStarted) for e in attempt):
            stage = "stt"  # cancelled between the transcript and the first token
        audio_ms = sum(1000.0 * e.samples / e.sample_rate for e in attempt if isinstance(e, TTSAudio))
        ctx.trace.append(SpeculationDiscarded(ctx.clock.now_ms(), spec.turn, spec.started_ms, stage,
                                              tokens, audio_ms))

    async def settled(self) -> None:
        """Return once no discarded speculation is still winding down."""
        if self._winding is not None:
            await asyncio.gather(self._winding, return_exceptions=True)

    async def close(self) -> None:
        """End of session: discard a speculation nobody committed, wait for it to wind down."""
        self.discard()
        await self.settled()
