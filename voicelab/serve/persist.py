"""What one server session writes to the conversation store, batched off the audio path."""

from __future__ import annotations

from voicelab.events import Event, StateChanged
from voicelab.store import ConversationStore

EVENT_BATCH = 256
"""Trace events handed to the store together (also at every turn end and at the close)."""


class SessionRecorder:
    """Persists one session: its trace (a trace listener), its turns (the publisher's
    ``on_turn``), its chat messages (the conversation's ``on_record``) and its end.

    Every method only queues work for the store's writer thread.
    """

    def __init__(self, store: ConversationStore, session_id: str, conversation_id: str) -> None:
        self.store = store
        self.session_id = session_id
        self.conversation_id = conversation_id
        self._events: list[tuple[int, dict]] = []
        self._seq = 0

    def on_event(self, e: Event) -> None:
        """Trace listener: every event, in order."""
        self._events.append((self._seq, e.to_dict()))
        self._seq += 1
        if len(self._events) >= EVENT_BATCH or (isinstance(e, StateChanged) and e.new == "idle"):
            self.flush_events()

    def flush_events(self) -> None:
        events, self._events = self._events, []
        self.store.add_events(self.session_id, events)

    def on_turn(self, turn: int, row: dict) -> None:
        self.store.add_turn(self.session_id, turn, row)

    def on_messages(self, turn: int, messages: list[dict[str, str]]) -> None:
        self.store.add_messages(self.conversation_id, self.session_id, turn, messages)

    def end(self, reason: str, duration_s: float) -> None:
        self.flush_events()
        self.store.end_session(self.session_id, reason, duration_s)
