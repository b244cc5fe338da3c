"""The conversation store's schema (SQLAlchemy 2 ORM), the same on SQLite and PostgreSQL.

A **conversation** is what a user continues across connections; each connection is a
**session** of it (resumed with any of its session ids). A session's **turns** carry the
transcript, the reply and every metric the server measured; its **messages** are the chat
history the LLM is given (user and assistant, in order, what was actually said before a
barge-in); **trace_events** are its whole trace (``events.jsonl``, one row per event).

Times: ``*_at`` columns are wall-clock UTC; ``t_ms`` is the session clock (ms since the
session's first audio sample), as in every trace.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from voicelab.measure.metrics import LATENCY_COLUMNS

SCHEMA_VERSION = 1
"""Bumped with every schema change. A database of another version is refused
(:class:`~voicelab.store.database.StoreError`), never altered: the first change to this
schema brings its migration (Alembic) with it."""

TURN_METRICS = (*LATENCY_COLUMNS, "interruption_latency_ms", "stt_wer", "tts_roundtrip_wer")
"""Metric columns of ``turns`` (ms, or a ratio for WER; NULL where the turn has none): the
latency columns of ``turns.csv`` (:data:`voicelab.measure.metrics.LATENCY_COLUMNS`), the
interruption latency and the WERs. Every other column of the turn's row is in ``metrics``."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON, datetime: DateTime(timezone=True)}


class Meta(Base):
    """One row: the schema version of this database."""

    __tablename__ = "voicelab_meta"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))


class ConversationRow(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionRow(Base):
    """One connection. ``end_reason``: ``stop`` (the client asked), ``disconnect``,
    ``send_failed`` (a send to the client failed), ``shutdown`` (the server stopped),
    or NULL while it runs (or if the server died)."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    resumed_from: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(16))
    config: Mapped[dict] = mapped_column(default=dict)


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("session_id", "turn"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    transcript: Mapped[str] = mapped_column(Text, default="")
    reply: Mapped[str] = mapped_column(Text, default="")
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    metrics: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the TURN_METRICS, one nullable column each (tests/test_store.py checks the two agree)
    endpoint_delay_ms: Mapped[float | None] = mapped_column(Float)
    stt_latency_ms: Mapped[float | None] = mapped_column(Float)
    llm_ttft_ms: Mapped[float | None] = mapped_column(Float)
    first_word_latency_ms: Mapped[float | None] = mapped_column(Float)
    trigger_wait_ms: Mapped[float | None] = mapped_column(Float)
    tts_ttfb_ms: Mapped[float | None] = mapped_column(Float)
    word_to_audio_latency_ms: Mapped[float | None] = mapped_column(Float)
    voice_to_voice_latency_ms: Mapped[float | None] = mapped_column(Float)
    playback_stall_ms: Mapped[float | None] = mapped_column(Float)
    framework_overhead_ms: Mapped[float | None] = mapped_column(Float)
    interruption_latency_ms: Mapped[float | None] = mapped_column(Float)
    stt_wer: Mapped[float | None] = mapped_column(Float)
    tts_roundtrip_wer: Mapped[float | None] = mapped_column(Float)


class MessageRow(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    turn: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TraceEventRow(Base):
    __tablename__ = "trace_events"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    t_ms: Mapped[float] = mapped_column(Float)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict]
