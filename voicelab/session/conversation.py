"""The conversation memory: one chat history and one seed sequence per variant."""

from __future__ import annotations

from collections.abc import Callable

from voicelab.config import LLMConfig

OnRecord = Callable[[int, list[dict[str, str]]], None]
"""Called with ``(turn, messages)`` for every turn entering the history (a store persists them)."""


class Conversation:
    """Chat histories and sampling seeds, kept per variant name.

    Variants answering the same clips get the same seeds (``llm.seed`` plus the number
    of earlier non-warm-up turns of that variant), so their replies match and a
    comparison of variants measures only what differs between them. Warm-up turns
    neither advance the seed nor enter the history; with ``llm.history`` off, every
    turn is answered from the system prompt alone.

    A live session (``single=True``) keeps one history whatever variant answers (its
    client may change the trigger mid-session), can continue a stored one
    (:meth:`restore`) and reports each recorded turn to ``on_record``.
    """

    def __init__(self, config: LLMConfig, single: bool = False, on_record: OnRecord | None = None) -> None:
        self._config = config
        self._single = single
        self._on_record = on_record
        self._histories: dict[str, list[dict[str, str]]] = {}
        self._turns: dict[str, int] = {}

    def _key(self, variant: str) -> str:
        return "" if self._single else variant

    def restore(self, history: list[dict[str, str]], turns: int, variant: str = "") -> None:
        """Continue a stored conversation: its ``history`` (user/assistant messages in order)
        and the number of ``turns`` answered, which advances the seed as if they had just
        been answered."""
        key = self._key(variant)
        self._histories[key] = [dict(m) for m in history]
        self._turns[key] = turns

    def messages(self, variant: str, user_text: str) -> list[dict[str, str]]:
        """The chat messages answering ``user_text``: system prompt and example exchanges
        (:meth:`voicelab.config.LLMConfig.prompt_prefix`), history (its last
        ``llm.max_history_turns`` exchanges when set), user turn."""
        history = self._histories.get(self._key(variant), []) if self._config.history else []
        limit = self._config.max_history_turns
        if limit is not None:
            history = history[len(history) - 2 * limit:] if limit else []
        return [*self._config.prompt_prefix(), *history, {"role": "user", "content": user_text}]

    def seed(self, variant: str) -> int:
        """The sampling seed of ``variant``'s next turn (advanced by :meth:`record` of a
        live turn, so a discarded speculative reply does not advance it)."""
        return self._config.seed + self._turns.get(self._key(variant), 0)

    def record(self, variant: str, user_text: str, said: str, warmup: bool, turn: int = -1) -> None:
        """Remember a finished live turn: what the user said and what the agent said
        (the whole reply, or what played before a barge-in); advance the seed."""
        if warmup:
            return
        key = self._key(variant)
        self._turns[key] = self._turns.get(key, 0) + 1
        added = [{"role": "user", "content": user_text}, {"role": "assistant", "content": said}]
        self._histories.setdefault(key, []).extend(added)
        if self._on_record is not None:
            self._on_record(turn, added)
