"""Word completion in a token stream: the unit every trigger policy counts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """A complete word: ``text == full_text[start:end]``; ``index`` counts from 0 per reply."""

    index: int
    text: str
    start: int
    end: int


class WordTracker:
    """Splits streamed text into whitespace-separated words as they complete.

    A word is complete once whitespace follows it, or when the stream ends
    (:meth:`flush`). Punctuation attached to a word is part of it ("there," is
    one word). The orchestrator uses the same tracker to timestamp words, so a
    policy's word counts and the trace's ``WordEmitted`` events always agree.
    """

    def __init__(self) -> None:
        self.text = ""
        self._scan = 0
        self._count = 0

    def push(self, delta: str) -> list[Word]:
        """Append a text delta; return the words it completed."""
        self.text += delta
        return self._complete(final=False)

    def flush(self) -> list[Word]:
        """End of stream: return the last word if one was in progress."""
        return self._complete(final=True)

    def _complete(self, final: bool) -> list[Word]:
        text, n, i = self.text, len(self.text), self._scan
        out: list[Word] = []
        while True:
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                break
            j = i
            while j < n and not text[j].isspace():
                j += 1
            if j == n and not final:
                break
            out.append(Word(self._count, text[i:j], i, j))
            self._count += 1
            i = j
        self._scan = i
        return out
