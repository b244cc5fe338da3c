"""The conversation memory: one chat history and one seed sequence per variant."""

from __future__ import annotations

from voicelab.config import LLMConfig


class Conversation:
    """Chat histories and sampling seeds, kept per variant name.

    Variants answering the same clips get the same seeds (``llm.seed`` plus the number
    of earlier non-warm-up turns of that variant), so their replies match and a
    comparison of variants measures only what differs between them. Warm-up turns
    neither advance the seed nor enter the history; with ``llm.history`` off, every
    turn is answered from the system prompt alone.
    """

    def __init__(self, config: LLMConfig) -> None:
        self._config = config
        self._histories: dict[str, list[dict[str, str]]] = {}
        self._turns: dict[str, int] = {}

    def messages(self, variant: str, user_text: str) -> list[dict[str, str]]:
        """The chat messages answering ``user_text``: system prompt, history, user turn."""
        return [{"role": "system", "content": self._config.system_prompt},
                *self._histories.get(variant, []), {"role": "user", "content": user_text}]

    def seed(self, variant: str) -> int:
        """The sampling seed of ``variant``'s next turn (advanced by :meth:`record` of a
        live turn, so a discarded speculative reply does not advance it)."""
        return self._config.seed + self._turns.get(variant, 0)

    def record(self, variant: str, user_text: str, said: str, warmup: bool) -> None:
        """Remember a finished live turn: what the user said and what the agent said
        (the whole reply, or what played before a barge-in); advance the seed."""
        if warmup:
            return
        self._turns[variant] = self._turns.get(variant, 0) + 1
        if self._config.history:
            self._histories.setdefault(variant, []).extend(
                [{"role": "user", "content": user_text}, {"role": "assistant", "content": said}])
