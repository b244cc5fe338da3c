"""Start TTS once the LLM has been quiet for a while."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk, TriggerPolicy


class DebounceTrigger(TriggerPolicy):
    """Hands over all complete pending words once no text has arrived for ``ms``.

    The quiet period is measured from the ``now_ms`` of the last :meth:`push`;
    :meth:`next_deadline_ms` is ``last_push_ms + ms`` while complete words are
    pending, and :meth:`poll` fires at or after it. A word still being streamed
    (no whitespace after it yet) waits for the next chunk or for :meth:`flush`.
    With a steady token stream the quiet period only comes at generation hiccups
    or at the end, so this policy mostly measures the stream's burstiness.

    Args:
        ms: the quiet period, milliseconds. The 200 ms default is the issue's spec.

    Raises:
        ValueError: ``ms <= 0``.
    """

    name = "debounce"

    def __init__(self, ms: float = 200.0) -> None:
        if ms <= 0:
            raise ValueError(f"ms must be > 0, got {ms}")
        self.ms = ms
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self._last_push_ms: float | None = None

    def _after_push(self, now_ms: float) -> list[TextChunk]:
        self._last_push_ms = now_ms
        return []

    def next_deadline_ms(self) -> float | None:
        """``last_push_ms + ms`` while complete words are pending, else None."""
        if self._last_push_ms is None or not self.pending_words:
            return None
        return self._last_push_ms + self.ms

    def poll(self, now_ms: float) -> list[TextChunk]:
        """All complete pending words as one chunk if ``now_ms`` (ms) reached the deadline."""
        deadline = self.next_deadline_ms()
        if deadline is None or now_ms < deadline:
            return []
        return [self._cut(len(self._words) - 1)]
