"""First chunk after N words, then sentences."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk
from voicelab.trigger.sentence import SentenceTrigger


class HybridTrigger(SentenceTrigger):
    """Fast first audio, then natural prosody.

    1. The first ``words`` complete words go out at once, as in
       :class:`~voicelab.trigger.word_count.WordCountTrigger` (or fewer, if a
       sentence ends first: "Yes." goes out alone).
    2. After that, chunks end at sentence boundaries, as in
       :class:`~voicelab.trigger.sentence.SentenceTrigger` (``min_words=1``); the
       first sentence's remainder is the second chunk.
    3. :meth:`flush` hands over the rest.

    Args:
        words: size of the first chunk, in words.

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
