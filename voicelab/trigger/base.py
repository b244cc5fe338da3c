"""The trigger-policy protocol: when streamed LLM text is handed to TTS."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from voicelab.trigger.words import Word, WordTracker


@dataclass(frozen=True)
class TextChunk:
    """A piece of the reply handed to TTS.

    ``text == reply[start:end]`` (not stripped: the whitespace before a chunk's first
    word belongs to it), so the chunks of a reply concatenate back to the reply
    (less trailing whitespace).
    ``first_word``/``last_word`` are inclusive :class:`~voicelab.trigger.words.Word` indices.
    """

    text: str
    start: int
    end: int
    first_word: int
    last_word: int


class TriggerPolicy(ABC):
    """Decides, from a stream of text deltas, when to hand text to TTS.

    Call :meth:`push` for every LLM delta, :meth:`poll` when :meth:`next_deadline_ms`
    passes (time-based policies), and :meth:`flush` at the end of the stream.
    Chunks only ever contain complete words. Times are session-clock milliseconds.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new reply starts."""
        self._tracker = WordTracker()
        self._words: list[Word] = []
        self._cut_char = 0      # reply text before this offset was handed over
        self._cut_word = 0      # index of the first word not handed over

    @property
    def text(self) -> str:
        """The reply text pushed so far."""
        return self._tracker.text

    @property
    def pending_words(self) -> list[Word]:
        """Complete words not yet handed over."""
        return self._words[self._cut_word:]

    def push(self, delta: str, now_ms: float) -> list[TextChunk]:
        """Feed one text delta; return the chunks that became ready."""
        self._words.extend(self._tracker.push(delta))
        return self._after_push(now_ms)

    def poll(self, now_ms: float) -> list[TextChunk]:
        """Time-based check; only time-based policies return chunks here."""
        return []

    def next_deadline_ms(self) -> float | None:
        """When :meth:`poll` may next fire, or None."""
        return None

    def flush(self, now_ms: float) -> list[TextChunk]:
        """End of the stream: every word not handed over yet, as one chunk."""
        self._words.extend(self._tracker.flush())
        if self._cut_word >= len(self._words):
            return []
        return [self._cut(len(self._words) - 1)]

    @abstractmethod
    def _after_push(self, now_ms: float) -> list[TextChunk]:
        """Chunks ready after new text arrived."""

    def _cut(self, last_word: int) -> TextChunk:
        """Hand over words up to ``last_word`` (inclusive)."""
        end = self._words[last_word].end
        chunk = TextChunk(self.text[self._cut_char:end], self._cut_char, end, self._cut_word, last_word)
        self._cut_char, self._cut_word = end, last_word + 1
        return chunk
