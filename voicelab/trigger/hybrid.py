"""First chunk after N words, then sentences."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk
from voicelab.trigger.sentence import SentenceTrigger


class HybridTrigger(SentenceTrigger):
    """Hands over the first ``words`` words at once (fast first audio), then whole
    sentences (natural prosody, fewer TTS requests).

    Raises:
        ValueError: ``words < 1``.
    """

    name = "hybrid"

    def __init__(self, words: int = 2) -> None:
        if words < 1:
            raise ValueError(f"words must be >= 1, got {words}")
        self.words = words
        super().__init__(min_words=1)

    def _after_push(self, now_ms: float) -> list[TextChunk]:
        out = []
        if self._cut_word == 0 and len(self._words) >= self.words:
            out.append(self._cut(self.words - 1))
        return out + super()._after_push(now_ms)
