"""The trigger-policy protocol: when streamed LLM text is handed to TTS."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from voicelab.trigger.words import Word, WordTracker


@dataclass(frozen=True)
class TextChunk:
    """A piece of the reply handed to TTS.

    Attributes:
        text: exactly ``reply[start:end]``, not stripped: the whitespace before a
            chunk's first word belongs to it, so a reply's chunks concatenate back to
            the reply (see :class:`TriggerPolicy` for the one exception).
        start: character offset of ``text`` in the reply.
        end: character offset just past ``text``.
        first_word: index of the chunk's first :class:`~voicelab.trigger.words.Word`.
        last_word: index of its last word (inclusive).
    """

    text: str
    start: int
    end: int
    first_word: int
    last_word: int


class TriggerPolicy(ABC):
    """Decides, from a stream of text deltas, when to hand text to TTS.

    Call :meth:`push` for every LLM delta, :meth:`poll` when :meth:`next_deadline_ms`
    passes (time-based policies), :meth:`flush` at the end of the stream and
    :meth:`reset` before the next reply. Times are session-clock milliseconds.

    Guarantees, for every policy:

    1. chunks hold only complete words (as counted by
       :class:`~voicelab.trigger.words.WordTracker`) and never only whitespace;
    2. a chunk before the last ends right after a word; the whitespace after it opens
       the next chunk; :meth:`flush` hands over everything left, trailing whitespace
       included, so the chunks tile the reply, except for whitespace that arrives
       after the last word was already handed over with nothing following it;
    3. chunks come out in order and cover consecutive word indices.

    Subclasses implement :meth:`_after_push` and call :meth:`_cut`.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new reply starts (word indices restart at 0)."""
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
        """Feed one text delta.

        Args:
            delta: the text the LLM produced since the previous call (may be empty,
                whitespace, part of a word or several words).
            now_ms: session-clock time of the delta, milliseconds.

        Returns:
            The chunks that became ready, in order (usually none or one).
        """
        self._words.extend(self._tracker.push(delta))
        return self._after_push(now_ms)

    def poll(self, now_ms: float) -> list[TextChunk]:
        """Time-based check; only time-based policies ever return chunks here.

        Args:
            now_ms: session-clock time, milliseconds.
        """
        return []

    def next_deadline_ms(self) -> float | None:
        """Session-clock time (ms) at which :meth:`poll` may next fire, or None."""
        return None

    def flush(self, now_ms: float) -> list[TextChunk]:
        """End of the stream: everything not handed over yet, as one chunk.

        Args:
            now_ms: session-clock time of the end of the stream, milliseconds.

        Returns:
            ``[chunk]`` ending at the end of the reply, or ``[]`` if what is left
            is empty or only whitespace.
        """
        self._words.extend(self._tracker.flush())
        if self._cut_word >= len(self._words):
            return []
        chunk = self._cut(len(self._words) - 1)
        rest = self.text[chunk.end:]            # trailing whitespace only
        self._cut_char = len(self.text)
        return [TextChunk(chunk.text + rest, chunk.start, self._cut_char,
                          chunk.first_word, chunk.last_word)]

    @abstractmethod
    def _after_push(self, now_ms: float) -> list[TextChunk]:
        """Chunks ready after new text arrived at ``now_ms`` (session-clock ms)."""

    def _cut(self, last_word: int) -> TextChunk:
        """Hand over the pending words up to ``last_word`` (inclusive) as a chunk."""
        end = self._words[last_word].end
        chunk = TextChunk(self.text[self._cut_char:end], self._cut_char, end, self._cut_word, last_word)
        self._cut_char, self._cut_word = end, last_word + 1
        return chunk
