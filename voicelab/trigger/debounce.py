"""Start TTS once the LLM has been quiet for a while."""

from __future__ import annotations

from voicelab.trigger.base import TextChunk, TriggerPolicy


class DebounceTrigger(TriggerPolicy):
    """Hands over all complete pending words once no text has arrived for ``ms``.

    The 200 ms default is the project brief's. With a steady token stream
    (SmolLM2-135M: ~35 ms per token on 2 cores) the quiet period only comes at
    generation hiccups or at the end, so this policy mostly measures the stream's
    burstiness.

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
        if self._last_push_ms is None or not self.pending_words:
            return None
        return self._last_push_ms + self.ms

    def poll(self, now_ms: float) -> list[TextChunk]:
        deadline = self.next_deadline_ms()
        if deadline is None or now_ms < deadline:
            return []
        return [self._cut(len(self._words) - 1)]
