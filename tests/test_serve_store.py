"""``voicelab serve`` with its conversation store, on scripted stages in virtual time: what a
session persists (exactly what the client was told), resuming a conversation by
``session_id`` (the LLM gets the stored history), and how sessions end. SQLite and a real
PostgreSQL server."""

import asyncio
import json

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from voicelab.clock import run_virtual
from voicelab.serve.app import VoiceServer
from voicelab.store import ConversationStore
from voicelab.store.schema import MessageRow, SessionRow, TraceEventRow, TurnRow

from scripted_stages import after_prompt
from test_serve import _collect, _manager, _of, _speech, _stream


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'voicelab.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    st = ConversationStore(url, log=lambda m: None)
    yield st
    st.close()


def _serve(store, client):
    manager = _manager()
    async def main():
        server = VoiceServer(manager, log=lambda m: None, store=store)
        port = await server.start("127.0.0.1", 0)
        try:
            return await client(f"ws://127.0.0.1:{port}", server)
        finally:
            await server.shutdown()
    return run_virtual(main()), manager


async def _conversation(url, start, *, speech=None, text=None, stop=True):
    frames = []
    ws = await connect(url)
    reader = asyncio.create_task(_collect(ws, frames))
    await ws.send(json.dumps({"type": "start", "data": start}))
    while not _of(frames, "session_started") and not _of(frames, "error"):
        await asyncio.sleep(0.01)
    if speech is not None:
        await _stream(ws, speech)
    if text is not None:
        await ws.send(json.dumps({"type": "text", "data": {"text": text}}))
        await _stream(ws, _speech(2.0, ()))
    if stop:
        await ws.send(json.dumps({"type": "stop"}))
    else:
        await ws.close()
    await reader
    return frames


def test_session_is_persisted_and_resumed(store):
    async def client(url, server):
        first = await _conversation(url, {}, speech=_speech(5.0))
        sid = _of(first, "session_started")[0]["session_id"]
        second = await _conversation(url, {"session_id": sid}, text="and now?")
        return first, second, server
    (first, second, server), manager = _serve(store, client)
    s1, s2 = _of(first, "session_started")[0], _of(second, "session_started")[0]
    assert s1["resumed_turns"] == 0 and s2["resumed_turns"] == 1
    assert s2["conversation_id"] == s1["conversation_id"] and s2["session_id"] != s1["session_id"]
    # the resumed session's LLM answered from the stored history, with the next seed
    messages, seed = manager.stages.llm.requests[-1]
    reply = "Hello there, how are you?"
    assert [(m["role"], m["content"]) for m in after_prompt(messages)] == [
        ("user", "hello agent"), ("assistant", reply), ("user", "and now?")]
    assert seed == manager.config.llm.seed + 1
    # the store holds what the client was told
    done = _of(first, "response_complete")[0]
    result = server.finished[0].result

    def rows(s):
        turn = s.scalars(select(TurnRow).where(TurnRow.session_id == s1["session_id"])).one()
        sessions = {r.id: (r.conversation_id, r.end_reason, r.resumed_from) for r in s.scalars(select(SessionRow))
                    if r.conversation_id == s1["conversation_id"]}
        msgs = s.execute(select(MessageRow.session_id, MessageRow.role, MessageRow.content)
                         .where(MessageRow.conversation_id == s1["conversation_id"]).order_by(MessageRow.id)).all()
        types = s.scalars(select(TraceEventRow.type).where(TraceEventRow.session_id == s1["session_id"])
                          .order_by(TraceEventRow.seq)).all()
        return turn, sessions, [tuple(m) for m in msgs], types
    turn, sessions, msgs, types = store.read(rows)
    assert (turn.transcript, turn.reply, turn.interrupted) == ("hello agent", reply, False)
    assert turn.voice_to_voice_latency_ms == done["metrics"]["voice_to_voice_latency_ms"] == pytest.approx(1196.0)
    assert turn.llm_ttft_ms == pytest.approx(100.0) and turn.metrics["stt_latency_ms"] == pytest.approx(300.0)
    assert sessions == {s1["session_id"]: (s1["conversation_id"], "stop", None),
                        s2["session_id"]: (s1["conversation_id"], "stop", s1["session_id"])}
    assert msgs == [(s1["session_id"], "user", "hello agent"), (s1["session_id"], "assistant", reply),
                    (s2["session_id"], "user", "and now?"), (s2["session_id"], "assistant", reply)]
    assert types == [type(e).__name__ for e in result.trace]          # the whole trace, in order
    assert store.writer.errors == []


def test_disconnect_and_shutdown_are_recorded_as_such(tmp_path):
    store = ConversationStore(f"sqlite:///{tmp_path / 'v.db'}", log=lambda m: None)

    async def client(url, server):
        gone = await _conversation(url, {}, speech=_speech(2.45), stop=False)   # leaves mid-reply
        frames = []
        ws = await connect(url)                                                  # still open at shutdown
        reader = asyncio.create_task(_collect(ws, frames))
        await ws.send(json.dumps({"type": "start"}))
        await _stream(ws, _speech(0.5, ()))
        await server.shutdown()
        await reader
        return gone, (frames, ws.close_code)
    try:
        (gone, (frames, code)), _ = _serve(store, client)
        assert _of(frames, "session_ended") and not _of(gone, "session_ended") and code == 1001
        reasons = store.read(lambda s: sorted(s.scalars(select(SessionRow.end_reason)).all()))
        assert reasons == ["disconnect", "shutdown"]
        n_turns = store.read(lambda s: s.scalar(select(func.count(TurnRow.id))))
        assert n_turns == 0                      # the cut reply never completed
    finally:
        store.close()


def test_unknown_session_is_refused_and_not_stored(tmp_path):
    store = ConversationStore(f"sqlite:///{tmp_path / 'v.db'}", log=lambda m: None)
    try:
        async def client(url, server):
            return await _conversation(url, {"session_id": "nope"})
        frames, _ = _serve(store, client)
        assert [e["code"] for e in _of(frames, "error")] == ["unknown_session"]
        assert "no stored session 'nope'" in _of(frames, "error")[0]["message"]
        assert store.read(lambda s: s.scalar(select(func.count(SessionRow.id)))) == 0
    finally:
        store.close()
