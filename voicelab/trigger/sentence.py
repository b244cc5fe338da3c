"""Start TTS at sentence boundaries."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk, TriggerPolicy
from voicelab.trigger.sentences import ends_with_terminal, is_boundary, is_list_marker


class SentenceTrigger(TriggerPolicy):
    """Hands over each sentence as soon as its boundary is certain.

    The boundary after a word ending in ., !, ? or … is decided when the next word
    starts (see :func:`voicelab.trigger.sentences.is_boundary`): "Mr. Smith",
    "U.S.A.", "e.g. this", "$100.00", "3.14", "Wait... what?" do not split.
    A sentence shorter than ``min_words`` is held and joined with the next one.

    Raises:
        ValueError: ``min_words < 1``.
    """

    name = "sentence"

    def __init__(self, min_words: int = 1) -> None:
        if min_words < 1:
            raise ValueError(f"min_words must be >= 1, got {min_words}")
        self.min_words = min_words
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self._checked = 0  # words whose boundary question is settled
        self._in_list = False  # a numbered list marker has been seen in this reply
        self._sentence_start = 0  # index of the current sentence's first word

    def _boundaries(self) -> list[int]:
        """Indices of words newly found to end a sentence."""
        found = []
        text = self.text
        while self._checked < len(self._words):
            w = self._words[self._checked]
            at_start = w.index == self._sentence_start
            if at_start and is_list_marker(w.text):
                self._in_list = True
                if not any(ch.isdigit() for ch in w.text):
                    self._sentence_start += 1  # a lone bullet: its number comes next
            if not ends_with_terminal(w.text):
                if self._checked + 1 >= len(self._words):
                    break  # is the next word a list marker? undecided until it is complete
                if (self._in_list and not is_list_marker(w.text)
                        and is_list_marker(self._words[self._checked + 1].text)):
                    found.append(w.index)  # a new list item starts a new sentence
                    self._sentence_start = w.index + 1
                self._checked += 1
                continue
            rest = text[w.end:].lstrip()
            if not rest:
                break  # the next word has not started: undecided
            if is_boundary(w.text, rest.split(None, 1)[0], starts_sentence=at_start):
                found.append(w.index)
                self._sentence_start = w.index + 1
            self._checked += 1
        return found

    def _after_push(self, now_ms: float) -> list[TextChunk]:
        out = []
        for last in self._boundaries():
            if last >= self._cut_word and last - self._cut_word + 1 >= self.min_words:
                out.append(self._cut(last))
        return out
