"""A Pipecat LLM service over voicelab's in-process transformers LLM.

Pipecat 1.14 has no in-process transformers LLM service; :class:`VoicelabLLMService` is
the smallest one, built like Pipecat's own (``OpenAILLMService``): on each
``LLMContextFrame`` it streams the reply as ``LLMFullResponseStartFrame``, one
``LLMTextFrame`` per token, ``LLMFullResponseEndFrame``, with TTFB and processing
metrics. It calls the very :class:`~voicelab.llm.base.LLM` object voicelab's own agent
uses (same weights, sampling settings, threads and niceness); an interruption cancels
the generation thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings

from voicelab.clock import SessionClock
from voicelab.llm.base import LLM


def _settings(model: str) -> LLMSettings:
    """LLM settings with every field given (Pipecat warns about fields left NOT_GIVEN)."""
    given = {f.name: None for f in dataclasses.fields(LLMSettings)
             if f.init and f.name not in ("extra", "use_provider_thinking_default")}
    return LLMSettings(**{**given, "model": model})


def chat_messages(messages: list) -> list[dict[str, str]]:
    """Pipecat context messages -> ``[{"role", "content"}]`` with text content only
    (a list of content parts is joined; other message kinds are dropped)."""
    out = []
    for m in messages:
        if not isinstance(m, dict) or "role" not in m:
            continue
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
    return out


def without_history(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The first system message and the last user message of ``messages`` (in that order)."""
    system = [m for m in messages if m["role"] == "system"][:1]
    user = [m for m in messages if m["role"] == "user"][-1:]
    return system + user


class VoicelabLLMService(LLMService):
    """Streams replies from a voicelab :class:`~voicelab.llm.base.LLM` into a Pipecat pipeline.

    ``seed()``: the sampling seed of the next reply (the engine keeps voicelab's seed
    sequence, so both engines draw the same samples for the same turn). ``history=False``
    (``llm.history`` off): answer from the system prompt and the last user message only,
    whatever Pipecat's context aggregators have collected.
    """

    def __init__(self, llm: LLM, clock: SessionClock, seed: Callable[[], int], model_name: str,
                 history: bool = True, **kwargs) -> None:
        super().__init__(settings=_settings(model_name), **kwargs)
        self._llm, self._clock, self._seed, self._history = llm, clock, seed, history

    def can_generate_metrics(self) -> bool:
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            messages = chat_messages(frame.context.get_messages())
            if not self._history:
                messages = without_history(messages)
            await self._respond(messages)
        else:
            await self.push_frame(frame, direction)

    async def _respond(self, messages: list[dict[str, str]]) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_processing_metrics()
        await self.start_ttfb_metrics()
        stream = self._llm.stream(messages, seed=self._seed(), clock=self._clock)
        first = True
        try:
            async for token in stream:
                if first:
                    await self.stop_ttfb_metrics()
                    first = False
                await self.push_frame(LLMTextFrame(token.text))
        except asyncio.CancelledError:
            stream.cancel()  # the generation thread stops at its next token
            raise
        finally:
            await self.stop_processing_metrics()
            await self.push_frame(LLMFullResponseEndFrame())
