"""Start TTS after every N words."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk, TriggerPolicy


class WordCountTrigger(TriggerPolicy):
    """Hands over a chunk each time ``words`` new complete words have accumulated.

    ``words=2`` (the default, from the project brief) starts speech as early as a
    word-level trigger can while giving the TTS some context; the rest of the reply
    also goes in ``words``-word chunks (the orchestrator may join chunks that queue
    up while TTS is busy, see ``tts.coalesce``).

    Args:
        words: chunk size, in complete words.

    Raises:
        ValueError: ``words < 1``.
    """

    name = "words"

    def __init__(self, words: int = 2) -> None:
        if words < 1:
            raise ValueError(f"words must be >= 1, got {words}")
        self.words = words
        super().__init__()

    def _after_push(self, now_ms: float) -> list[TextChunk]:
        out = []
        while len(self._words) - self._cut_word >= self.words:
            out.append(self._cut(self._cut_word + self.words - 1))
        return out
