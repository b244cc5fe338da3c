"""The session trace: an append-only list of events, saved as JSON lines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from voicelab.events.base import Event
from voicelab.events.duplex import ResponseCancelled
from voicelab.events.pipeline import (
    ChunkTriggered,
    LLMFinished,
    LLMStarted,
    LLMToken,
    STTStarted,
    TranscriptFinal,
    TTSAudio,
    TTSStarted,
    WordEmitted,
)
from voicelab.events.session import SpeculationCommitted, SpeculationDiscarded, SpeculationStarted

E = TypeVar("E", bound=Event)

SPECULATIVE_PIPELINE_EVENTS: tuple[type[Event], ...] = (
    STTStarted, TranscriptFinal, LLMStarted, LLMToken, WordEmitted, LLMFinished, ChunkTriggered,
    TTSStarted, TTSAudio, ResponseCancelled)
"""The events a speculative reply logs before it is committed or discarded."""


class Trace:
    """Append-only list of events for one session. Not thread-safe: append from the loop."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self._events: list[Event] = []
        self._by_turn: dict[int | None, list[Event]] = {}
        """The same events by their ``turn`` (None: no turn), so a turn's lookups cost that
        turn's events, not the session's: a long session stays linear (issue 17's soak)."""
        for e in events:
            self._add(e)
        self.listeners: list[Callable[[Event], None]] = []
        """Called with every event appended from now on (a server streams them to its client)."""

    def _add(self, event: Event) -> None:
        self._events.append(event)
        self._by_turn.setdefault(getattr(event, "turn", None), []).append(event)

    def append(self, event: Event) -> Event:
        self._add(event)
        for listener in self.listeners:
            listener(event)
        return event

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def of(self, kind: type[E], turn: int | None = None) -> list[E]:
        """Events of one class (optionally of one turn), in trace order."""
        events = self._events if turn is None else self._by_turn.get(turn, ())
        return [e for e in events if isinstance(e, kind)]

    def of_turn(self, turn: int) -> list[Event]:
        """Every event of ``turn``, in trace order (costs that turn's events, not the session's)."""
        return list(self._by_turn.get(turn, ()))

    def without_discarded(self) -> Trace:
        """This trace without the pipeline events of discarded speculative replies: a discarded
        attempt's events (:data:`SPECULATIVE_PIPELINE_EVENTS` of its turn, in trace order between
        :class:`SpeculationStarted` and its :class:`SpeculationDiscarded`) describe work nobody
        heard. Attempts of one turn never overlap, so the ranges are exact. ``self`` if none."""
        if not any(isinstance(e, SpeculationDiscarded) for e in self._events):
            return self
        drop: set[int] = set()
        open_at: dict[int, int] = {}
        for i, e in enumerate(self._events):
            if isinstance(e, SpeculationStarted):
                open_at[e.turn] = i
            elif isinstance(e, SpeculationCommitted):
                open_at.pop(e.turn, None)
            elif isinstance(e, SpeculationDiscarded) and e.turn in open_at:
                lo = open_at.pop(e.turn)
                drop.update(j for j in range(lo, i) if isinstance(self._events[j], SPECULATIVE_PIPELINE_EVENTS)
                            and self._events[j].turn == e.turn)
        return Trace(e for i, e in enumerate(self._events) if i not in drop)

    def save_jsonl(self, path: str | Path) -> None:
        """Write one JSON object per line (see :meth:`Event.to_dict`)."""
        with open(path, "w") as f:
            for e in self._events:
                f.write(json.dumps(e.to_dict()) + "\n")

    @classmethod
    def load_jsonl(cls, path: str | Path) -> Trace:
        """Read a trace written by :meth:`save_jsonl`. Raises ``ValueError`` on a bad line."""
        events = []
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    if "chunks" in d:
                        d["chunks"] = tuple(d["chunks"])
                    events.append(Event.from_dict(d))
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise ValueError(f"{path}:{n}: not a voicelab event ({err})") from None
        return cls(events)
