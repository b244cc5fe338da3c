"""The conversation store on SQLite and on a real PostgreSQL server (no mocks of the database)."""

import math

import pytest
from sqlalchemy import select, update

from voicelab.store import ConversationStore, StoreError, UnknownSession
from voicelab.store.schema import TURN_METRICS, MessageRow, Meta, SessionRow, TraceEventRow, TurnRow


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'voicelab.db'}"
    return request.getfixturevalue("pg_url")


def test_turn_metric_columns_match_the_schema():
    cols = set(TurnRow.__table__.columns.keys())
    assert set(TURN_METRICS) <= cols
    assert "voice_to_voice_latency_ms" in TURN_METRICS and "interruption_latency_ms" in TURN_METRICS


def test_round_trip_and_resume(store_url):
    store = ConversationStore(store_url, log=lambda m: None)
    try:
        cid = store.begin_session("sA", None, {"trigger.words": 2})
        store.add_events("sA", [(0, {"type": "SpeechStarted", "t_ms": 320.0, "turn": 0}),
                                (1, {"type": "SpeechEnded", "t_ms": 1856.0, "turn": 0})])
        store.add_turn("sA", 0, {"transcript": "hello agent", "response_text": "Hello there.", "interrupted": False,
                                 "voice_to_voice_latency_ms": 1196.0, "interruption_latency_ms": math.nan,
                                 "llm_tokens": 7, "clip": "live"})
        store.add_messages(cid, "sA", 0, [{"role": "user", "content": "hello agent"},
                                          {"role": "assistant", "content": "Hello there."}])
        store.end_session("sA", "stop", 2.5)
        resumed = store.resume("sA").result(30)
        assert resumed.conversation_id == cid and resumed.turns == 1
        assert resumed.history == [{"role": "user", "content": "hello agent"},
                                   {"role": "assistant", "content": "Hello there."}]
        # a second session of the same conversation; resuming from either id gives both
        assert store.begin_session("sB", cid, {}, resumed_from="sA") == cid
        store.add_messages(cid, "sB", 0, [{"role": "user", "content": "again"},
                                          {"role": "assistant", "content": "Yes."}])
        assert [m["content"] for m in store.resume("sA").result(30).history] == ["hello agent", "Hello there.",
                                                                                "again", "Yes."]
        with pytest.raises(UnknownSession):
            store.resume("nope").result(30)

        def rows(s):
            t = s.scalars(select(TurnRow)).one()
            sess = s.get(SessionRow, "sA")
            ev = s.execute(select(TraceEventRow.seq, TraceEventRow.type, TraceEventRow.t_ms, TraceEventRow.data)
                           .order_by(TraceEventRow.seq)).all()
            n_msg = len(s.scalars(select(MessageRow)).all())
            return ((t.transcript, t.reply, t.interrupted, t.voice_to_voice_latency_ms, t.interruption_latency_ms,
                     t.metrics["llm_tokens"], t.metrics["interruption_latency_ms"]),
                    (sess.end_reason, sess.duration_s, sess.config, sess.ended_at is not None),
                    [tuple(e) for e in ev], n_msg)
        turn, sess, events, n_msg = store.read(rows)
        assert turn == ("hello agent", "Hello there.", False, 1196.0, None, 7, None)   # NaN stored as NULL
        assert sess == ("stop", 2.5, {"trigger.words": 2}, True)
        assert events == [(0, "SpeechStarted", 320.0, {"turn": 0}), (1, "SpeechEnded", 1856.0, {"turn": 0})]
        assert n_msg == 4 and store.writer.errors == []
    finally:
        store.close()


def test_a_failed_write_loses_nothing_else(tmp_path):
    store = ConversationStore(f"sqlite:///{tmp_path / 'v.db'}", log=lambda m: None)
    try:
        store.begin_session("s1", None, {})
        store.add_turn("s1", 0, {"transcript": "a"})
        store.add_turn("s1", 0, {"transcript": "duplicate"})     # violates (session_id, turn): fails alone
        store.add_turn("s1", 1, {"transcript": "b"})
        got = store.read(lambda s: s.scalars(select(TurnRow.transcript).order_by(TurnRow.turn)).all())
        assert got == ["a", "b"]
        assert len(store.writer.errors) == 1 and "IntegrityError" in store.writer.errors[0]
    finally:
        store.close()


def test_bad_url_and_other_schema_version_are_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="not a database URL"):
        ConversationStore("not a url")
    with pytest.raises(StoreError, match="cannot open"):
        ConversationStore("postgresql://nobody@127.0.0.1:1/none")
    url = f"sqlite:///{tmp_path / 'v.db'}"
    ConversationStore(url).close()
    store = ConversationStore(url)
    store.read(lambda s: s.execute(update(Meta).values(value="99")))
    store.close()
    with pytest.raises(StoreError, match="schema version 99; this voicelab writes version 1"):
        ConversationStore(url)


def test_writer_batches_in_order_and_flushes_on_close(tmp_path):
    store = ConversationStore(f"sqlite:///{tmp_path / 'v.db'}", log=lambda m: None)
    store.begin_session("s1", None, {})
    store.add_events("s1", [(i, {"type": "E", "t_ms": float(i)}) for i in range(1200)])
    store.end_session("s1", "shutdown", 1.0)
    store.close()                                           # everything queued lands
    again = ConversationStore(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        n, reason = again.read(lambda s: (len(s.scalars(select(TraceEventRow.id)).all()),
                                          s.get(SessionRow, "s1").end_reason))
        assert (n, reason) == (1200, "shutdown")
    finally:
        again.close()
