"""The non-streaming baseline: TTS starts on the whole reply."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk, TriggerPolicy


class WholeResponseTrigger(TriggerPolicy):
    """Hands over nothing until the LLM has finished, then the whole reply as one chunk."""

    name = "whole"

    def _after_push(self, now_ms: float) -> list[TextChunk]:
        return []
