"""Per-turn metrics while a live session runs: each turn measured from its own events."""

from __future__ import annotations

from voicelab.events import Event, Trace
from voicelab.measure.metrics import turns_table


class LiveTurnMeter:
    """Collects a live trace's events by turn (:meth:`add`, a trace listener) and measures a
    turn when it is over (:meth:`finish`).

    A turn's row comes from its own events and the next turn's (a barge-in on it), in trace
    order: never the whole trace, because this runs on the event loop that paces every
    session's audio, at every turn end (a whole-trace ``turns_table`` took 465 ms at 76 turns).
    Turns more than one before a finished one are dropped.
    """

    def __init__(self, min_barge_in_ms: float) -> None:
        """``min_barge_in_ms``: the session config's ``barge_in.min_barge_in_ms`` (ms; see
        :func:`turns_table`)."""
        self._min_barge_in_ms = min_barge_in_ms
        self._by_turn: dict[int, list[tuple[int, Event]]] = {}
        self._seq = 0

    def add(self, e: Event) -> None:
        self._seq += 1
        turn = getattr(e, "turn", None)
        if isinstance(turn, int):
            self._by_turn.setdefault(turn, []).append((self._seq, e))

    def events(self, turn: int) -> list[Event]:
        """``turn``'s events and the next turn's, in trace order."""
        pairs = sorted(self._by_turn.get(turn, []) + self._by_turn.get(turn + 1, []), key=lambda x: x[0])
        return [e for _, e in pairs]

    def finish(self, turn: int) -> dict | None:
        """``turn``'s ``turns.csv`` row as a dict (None if it has none: no user turn was planned)."""
        events = self.events(turn)
        for old in [t for t in self._by_turn if t < turn - 1]:
            del self._by_turn[old]
        rows = turns_table(Trace(events), self._min_barge_in_ms)
        row = rows[rows["turn"] == turn] if len(rows) else rows
        return None if row.empty else row.iloc[0].to_dict()
