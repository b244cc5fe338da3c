"""The conversation store: what a server persists of each session, and resuming a conversation."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from voicelab.store.database import open_engine
from voicelab.store.schema import TURN_METRICS, ConversationRow, MessageRow, SessionRow, TraceEventRow, TurnRow
from voicelab.store.writer import StoreWriter


class UnknownSession(KeyError):
    """No stored session has this id."""


@dataclass(frozen=True)
class Resumed:
    """A stored conversation to continue: its id, and its chat history in order
    (``[{"role": "user" | "assistant", "content": str}, ...]``)."""

    conversation_id: str
    history: list[dict[str, str]]
    turns: int
    """answered user turns so far (the user messages in ``history``)"""


class ConversationStore:
    """Persists sessions, turns, messages and traces through a :class:`StoreWriter`.

    Every write method returns at once (the audio path calls them); :meth:`resume` and the
    read methods go through the same writer thread, after every write queued before them.

    Args:
        url: a SQLAlchemy database URL (default: SQLite under ``$VOICELAB_HOME``, see
            :func:`voicelab.store.database.default_url`).

    Raises:
        voicelab.store.database.StoreError: the database cannot be opened (constructor).
    """

    def __init__(self, url: str | None = None, log: Callable[[str], None] = print) -> None:
        self.engine = open_engine(url)
        self.url = self.engine.url.render_as_string(hide_password=True)
        self.writer = StoreWriter(self.engine, log)

    # --- writes (non-blocking) ----------------------------------------------------------------
    def begin_session(self, session_id: str, conversation_id: str | None, config: dict[str, Any],
                      resumed_from: str | None = None) -> str:
        """Record a new session (of a new conversation unless ``conversation_id``); returns
        the conversation id."""
        new = conversation_id is None
        conversation_id = conversation_id or uuid.uuid4().hex[:12]

        def op(s: Session) -> None:
            if new:
                s.add(ConversationRow(id=conversation_id))
                s.flush()
            s.add(SessionRow(id=session_id, conversation_id=conversation_id, config=config,
                             resumed_from=resumed_from))
        self.writer.submit(op)
        return conversation_id

    def add_events(self, session_id: str, events: list[tuple[int, dict]]) -> None:
        """Append trace events ``(seq, Event.to_dict())`` of a session."""
        rows = [{"session_id": session_id, "seq": seq, "t_ms": d["t_ms"], "type": d["type"],
                 "data": {k: v for k, v in d.items() if k not in ("type", "t_ms")}} for seq, d in events]
        if rows:
            self.writer.submit(lambda s: s.execute(insert(TraceEventRow), rows) and None)

    def add_turn(self, session_id: str, turn: int, row: dict[str, Any]) -> None:
        """A finished turn: ``row`` is its ``turns.csv`` row as a dict (NaN -> NULL)."""
        clean = {k: _json_value(v) for k, v in row.items()}
        metrics = {k: clean.get(k) for k in TURN_METRICS}
        values = dict(session_id=session_id, turn=turn, transcript=str(clean.get("transcript") or ""),
                      reply=str(clean.get("response_text") or ""), interrupted=bool(clean.get("interrupted")),
                      metrics=clean, **metrics)
        self.writer.submit(lambda s: s.add(TurnRow(**values)))

    def add_messages(self, conversation_id: str, session_id: str, turn: int, messages: list[dict[str, str]]) -> None:
        """Append chat messages (the history the LLM is given) of ``turn``."""
        rows = [dict(conversation_id=conversation_id, session_id=session_id, turn=turn, role=m["role"],
                     content=m["content"]) for m in messages]
        self.writer.submit(lambda s: s.execute(insert(MessageRow), rows) and None)

    def end_session(self, session_id: str, reason: str, duration_s: float) -> None:
        """Mark a session ended (``reason``: stop, disconnect, send_failed, shutdown)."""
        now = datetime.now(UTC)
        self.writer.submit(lambda s: s.execute(update(SessionRow).where(SessionRow.id == session_id).values(
            ended_at=now, end_reason=reason, duration_s=duration_s)) and None)

    # --- reads (after the writes queued before them) ------------------------------------------
    def resume(self, session_id: str) -> Future:
        """Future of the :class:`Resumed` conversation that ``session_id`` belongs to
        (its exception: :class:`UnknownSession`)."""
        def op(s: Session) -> Resumed:
            conversation_id = s.scalar(select(SessionRow.conversation_id).where(SessionRow.id == session_id))
            if conversation_id is None:
                raise UnknownSession(session_id)
            rows = s.execute(select(MessageRow.role, MessageRow.content)
                             .where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id)).all()
            return Resumed(conversation_id, [{"role": r, "content": c} for r, c in rows],
                           sum(1 for r, _ in rows if r == "user"))
        return self.writer.call(op)

    def read(self, fn: Callable[[Session], Any], timeout: float | None = 30.0) -> Any:
        """Run ``fn(session)`` after every queued write and return its result (blocking: tests, CLI)."""
        return self.writer.call(fn).result(timeout)

    def close(self) -> None:
        """Write everything queued, then release the database."""
        self.writer.close()


def _json_value(v: Any) -> Any:
    """A JSON-safe value: NaN -> None, numpy scalars -> Python."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v
