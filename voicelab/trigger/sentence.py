"""Start TTS at sentence boundaries."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk, TriggerPolicy
from voicelab.trigger.sentences import BULLETS, OPENERS, ends_with_terminal, is_boundary, is_list_marker

_CONTEXT_WORDS = 3
"""Words before a candidate boundary handed to :func:`is_boundary` (it reads at most three)."""


class SentenceTrigger(TriggerPolicy):
    """Hands over each sentence as soon as its boundary is certain.

    1. After a word ending in ., !, ? or … the boundary is decided when the next word
       starts (see :func:`voicelab.trigger.sentences.is_boundary`): "Mr. Smith",
       "U.S.A. is", "e.g. this", "Wait... what?" do not split; "$100.00" and "3.14"
       are single words, so never split.
    2. Once a reply starts a sentence with a list marker ("1.", "2)", "a.", "•"), a
       later list marker starts a new sentence even without terminal punctuation
       ("1. The first item 2. The second item").
    3. A sentence shorter than ``min_words`` words is held and joined with the next one.

    Args:
        min_words: the fewest words a chunk may hold (flush excepted).

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
        self._checked = 0           # words whose boundary question is settled
        self._in_list = False       # a sentence of this reply opened with a list marker
        self._sentence_start = 0    # index of the current sentence's first word

    def _boundaries(self) -> list[int]:
        """Indices of the words newly found to end a sentence."""
        found = []
        while self._checked < len(self._words):
            w = self._words[self._checked]
            at_start = w.index == self._sentence_start
            if at_start and is_list_marker(w.text):
                self._in_list = True
                if w.text in BULLETS:
                    self._sentence_start += 1   # "• 9.": the item's number comes next
            if ends_with_terminal(w.text):
                next_start = self.text[w.end:].lstrip()
                if not next_start.lstrip(OPENERS):
                    break                       # no letter of the next word yet: undecided
                previous = [p.text for p in self._words[max(0, w.index - _CONTEXT_WORDS):w.index]]
                ends = is_boundary(w.text, next_start, previous, starts_sentence=at_start)
            else:
                if self._checked + 1 >= len(self._words):
                    break                       # is the next word a list marker? not yet known
                ends = (self._in_list and not is_list_marker(w.text)
                        and is_list_marker(self._words[self._checked + 1].text))
            if ends:
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
