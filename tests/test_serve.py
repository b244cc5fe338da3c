"""``voicelab serve`` on scripted stages: the protocol round trip over a real WebSocket on
loopback, in virtual time (the sockets are real; the clock jumps when every task waits), so
the metrics the server reports are exact."""

import asyncio
import json

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.serve.app import VoiceServer
from voicelab.serve.models import ModelManager
from voicelab.serve.protocol import encode_pcm16

from scripted_stages import scripted_stages


def ms(x):
    return pytest.approx(x, abs=1e-6)


def _manager() -> ModelManager:
    cfg = ExperimentConfig.model_validate({
        "trigger": {"policy": "words", "words": 2},
        "vad": {"kind": "energy", "threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False}, "tts": {"coalesce": True}, "audio": {"speaker_frame_ms": 10},
    })
    stages = scripted_stages()
    return ModelManager(cfg, (stages, []), log=lambda m: None)


def _speech(seconds: float, spans=((0.32, 1.32),)) -> np.ndarray:
    """Silence with a 300 Hz tone (amplitude 0.1) over ``spans`` (s): "speech" to the energy VAD."""
    audio = np.zeros(int(seconds * 16000), dtype=np.float32)
    for lo, hi in spans:
        n = np.arange(int(lo * 16000), int(hi * 16000))
        audio[n] = 0.1 * np.sin(2 * np.pi * 300 * n / 16000)
    return audio


async def _stream(ws, audio: np.ndarray, packet: int = 512) -> None:
    """Send ``audio`` at real-time pace (virtual time), each packet once it is "captured"."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(0, len(audio), packet):
        await asyncio.sleep(max(0.0, t0 + (i + packet) / 16000 - loop.time()))
        await ws.send(encode_pcm16(audio[i: i + packet]))


async def _collect(ws, into: list) -> None:
    try:
        async for frame in ws:
            into.append(frame if isinstance(frame, bytes) else json.loads(frame))
    except ConnectionClosed:
        pass


def _session(client, **server_kw):
    async def main():
        server = VoiceServer(_manager(), log=lambda m: None, **server_kw)
        port = await server.start("127.0.0.1", 0)
        try:
            return await client(f"ws://127.0.0.1:{port}", server)
        finally:
            await server.shutdown()
    return run_virtual(main())


def _of(frames, kind):
    return [f["data"] for f in frames if isinstance(f, dict) and f["type"] == kind]


def test_round_trip_with_exact_metrics():
    async def client(url, server):
        frames = []
        async with connect(url) as ws:
            reader = asyncio.create_task(_collect(ws, frames))
            await ws.send(json.dumps({"type": "start", "data": {"config": {"trigger.words": 2}}}))
            await _stream(ws, _speech(5.0))
            await ws.send(json.dumps({"type": "stop"}))
            await reader
        return frames, server
    frames, server = _session(client)
    (started,) = _of(frames, "session_started")
    assert started["input_rate"] == 16000 and started["output_rate"] == 24000
    assert [d["speaking"] for d in _of(frames, "vad_status")] == [True, False]
    assert _of(frames, "transcription") == [{"turn": 0, "text": "hello agent", "is_final": True}]
    assert "".join(d["text"] for d in _of(frames, "response_text")) == "Hello there, how are you?"
    (done,) = _of(frames, "response_complete")
    # the tone spans 320..1320 ms: the energy VAD's last speech frame is [1312, 1344), 16
    # silent frames -> decided at 1856; live, the speech end is the endpointer's padded end,
    # 1344 + 100 = 1444. STT 300 -> 2156; first token +100, "Hello there," released when
    # " how" arrives (+250 = 2406); TTS 230 -> 2636; next 10 ms output frame: 2640
    m = done["metrics"]
    assert (m["endpoint_delay_ms"], m["stt_latency_ms"], m["llm_ttft_ms"]) == (ms(412.0), ms(300.0), ms(100.0))
    assert (m["first_word_latency_ms"], m["trigger_wait_ms"], m["tts_ttfb_ms"]) == (ms(150.0), ms(100.0), ms(230.0))
    assert m["voice_to_voice_latency_ms"] == ms(2640.0 - 1444.0)
    assert m["interruption_latency_ms"] is None
    # the reply's audio: response_audio headers, then PCM, two requests
    heads = _of(frames, "response_audio")
    assert [h["request_id"] for h in heads] == [0, 1] and heads[0]["sample_rate"] == 24000
    assert heads[0]["start_sample"] == 2640 * 24    # where the server's speaker played it
    pcm = b"".join(f for f in frames if isinstance(f, bytes))
    assert len(pcm) // 2 == sum(len(a) for a in ["Hello there,", "how are you?"]) * 10 * 24
    assert _of(frames, "session_ended")[0]["duration_s"] > 0
    (s,) = server.finished
    assert s.result is not None and len(s.result.trace) > 10


def _ask(*messages, audio=None, **server_kw):
    """Connect, send ``messages`` (str, bytes, or ("audio", array)), then stop; all frames received."""
    async def client(url, server):
        frames = []
        async with connect(url) as ws:
            reader = asyncio.create_task(_collect(ws, frames))
            for m in messages:
                if isinstance(m, tuple):
                    await _stream(ws, m[1])
                else:
                    await ws.send(m)
                await asyncio.sleep(0.05)
            await ws.send(json.dumps({"type": "stop"}))
            await reader
        return frames, server
    return _session(client, **server_kw)


def test_bad_input_gets_an_error_and_the_session_goes_on():
    start = json.dumps({"type": "start"})
    frames, _ = _ask(json.dumps({"type": "text", "data": {"text": "early"}}), start, "{not json",
                     json.dumps({"type": "dance"}), json.dumps({"type": "text", "data": {"text": 5}}), b"\x00\x01\x02",
                     json.dumps({"type": "audio", "data": {"pcm": "***"}}),
                     json.dumps({"type": "config", "data": {"config": {"trigger.words": 0}}}),
                     json.dumps({"type": "config", "data": {"config": {"llm.model": "other"}}}),
                     json.dumps({"type": "start"}), json.dumps({"type": "ping"}))
    errors = [(e["code"], e["message"]) for e in _of(frames, "error")]
    assert [c for c, _ in errors] == ["not_started", "bad_json", "unknown_type", "bad_field", "bad_pcm", "bad_pcm",
                                      "bad_config", "bad_config", "bad_field"]
    assert "data.text: Input should be a valid string" in errors[3][1]
    assert errors[4][1] == "int16 PCM needs an even number of bytes, got 3"
    assert "trigger.words: Input should be greater than or equal to 1" in errors[6][1]
    assert "only trigger, vad, barge_in, speculate" in errors[7][1]
    assert _of(frames, "pong") == [{}]                  # still answering after every error
    assert len(_of(frames, "session_ended")) == 1


def test_typed_turn_and_config_change():
    frames, server = _ask(json.dumps({"type": "start"}),
                          json.dumps({"type": "config", "data": {"config": {"trigger": {"policy": "whole"}}}}),
                          json.dumps({"type": "text", "data": {"text": "hi there"}}), ("audio", _speech(3.0, ())))
    assert _of(frames, "transcription") == [{"turn": 0, "text": "hi there", "is_final": True}]
    # the whole reply in one chunk: the config change applied
    assert [d["text"] for d in _of(frames, "response_text")] == ["Hello there, how are you?", ""]
    assert not [e for e in _of(frames, "error")]


def test_client_side_endpointing():
    speech = _speech(4.0, ((0.32, 3.5),))
    async def client(url, server):
        frames = []
        async with connect(url) as ws:
            reader = asyncio.create_task(_collect(ws, frames))
            await ws.send(json.dumps({"type": "start"}))
            await _stream(ws, speech[: int(1.6 * 16000)])
            await ws.send(json.dumps({"type": "utterance_end"}))
            await _stream(ws, np.zeros(3 * 16000, dtype=np.float32))
            await ws.send(json.dumps({"type": "stop"}))
            await reader
        return frames
    frames = _session(client)
    ends = [d for d in _of(frames, "vad_status") if not d["speaking"]]
    assert ends and ends[0]["t_ms"] <= 1600.0 + 32.0     # ended on the client's word, not 512 ms of silence
    assert _of(frames, "transcription")[0]["text"] == "hello agent"


def test_oversized_frame_closes_with_1009():
    async def client(url, server):
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "start"}))
            await ws.send(b"\x00" * 5000)
            try:
                await ws.recv()
                await ws.recv()
            except ConnectionClosed:
                pass
            return ws.close_code, server
    code, server = _session(client, max_frame_bytes=4096)
    assert code == 1009 and not server.sessions and len(server.finished) == 1


def test_session_limit_answers_1013():
    async def client(url, server):
        async with connect(url) as first:
            await first.send(json.dumps({"type": "start"}))
            await asyncio.sleep(0.05)
            async with connect(url) as second:
                msg = json.loads(await second.recv())
                try:
                    await second.recv()
                except ConnectionClosed:
                    pass
                return msg, second.close_code
    msg, code = _session(client, max_sessions=1)
    assert msg["type"] == "error" and msg["data"]["code"] == "session_limit" and code == 1013


def test_disconnect_mid_reply_cancels_it_and_leaks_nothing():
    async def client(url, server):
        before = len(asyncio.all_tasks())
        ws = await connect(url)
        await ws.send(json.dumps({"type": "start"}))
        await _stream(ws, _speech(2.45))          # decided at 1856; the reply starts at 2156
        await ws.close()                          # gone while the LLM streams
        for _ in range(50):
            if not server.sessions:
                break
            await asyncio.sleep(0.05)
        return server, before, [t.get_name() for t in asyncio.all_tasks()]
    server, before, after = _session(client)
    (s,) = server.finished
    assert not server.sessions and len(after) <= before, after
    fin = [e for e in s.result.trace if type(e).__name__ == "LLMFinished"]
    assert fin and fin[0].cancelled                 # the reply was cut, not finished


def test_health_endpoint():
    async def client(url, server):
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        data = await reader.read(4096)
        writer.close()
        return data.decode()
    text = _session(client)
    assert text.startswith("HTTP/1.1 200") and '"status": "ok"' in text and '"max_sessions": 8' in text


def test_resuming_an_unknown_session_is_an_error():
    frames, _ = _ask(json.dumps({"type": "start", "data": {"session_id": "nope"}}))
    assert _of(frames, "error")[0]["code"] == "unknown_session"


def test_web_page_is_served():
    async def client(url, server):
        port = int(url.rsplit(":", 1)[1])
        out = {}
        for path in ("/", "/client.js", "/player.js", "/nope"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            await writer.drain()
            out[path] = (await reader.read(65536)).decode()
            writer.close()
        return out
    got = _session(client)
    assert got["/"].startswith("HTTP/1.1 200") and "text/html" in got["/"] and '<script src="client.js">' in got["/"]
    assert "text/javascript" in got["/client.js"] and "echoCancellation: true" in got["/client.js"]
    # the reply player shared with the notebook (voicelab/live/static/player.js), loaded before client.js
    assert got["/player.js"].startswith("HTTP/1.1 200") and "text/javascript" in got["/player.js"]
    assert "function createReplyPlayer(" in got["/player.js"]
    assert got["/"].index('<script src="player.js">') < got["/"].index('<script src="client.js">')
    assert got["/nope"].startswith("HTTP/1.1 404")


def test_an_observer_receives_every_frame_and_cannot_speak():
    async def client(url, server):
        frames, seen = [], []
        async with connect(url) as ws:
            reader = asyncio.create_task(_collect(ws, frames))
            await ws.send(json.dumps({"type": "start"}))
            while not _of(frames, "session_started"):
                await asyncio.sleep(0.01)
            sid = _of(frames, "session_started")[0]["session_id"]
            watcher = await connect(url)
            await watcher.send(json.dumps({"type": "observe", "data": {"session_id": sid}}))
            first = json.loads(await watcher.recv())
            watching = asyncio.create_task(_collect(watcher, seen))
            await watcher.send(json.dumps({"type": "text", "data": {"text": "me too"}}))
            await _stream(ws, _speech(5.0))
            await ws.send(json.dumps({"type": "stop"}))
            await reader
            await watching                                    # the server hangs up on the observer
        return first, frames, seen, watcher.close_code
    first, frames, seen, code = _session(client)
    assert first["type"] == "session_started" and first["data"]["observer"] is True
    errors = [d for d in _of(seen, "error")]
    assert [e["code"] for e in errors] == ["read_only"]
    # after subscribing, the observer got what the client got, in the same order (its own
    # read_only error aside): messages and audio
    mine = [f for f in seen if not (isinstance(f, dict) and f["type"] == "error")]
    k = len(frames) - len(mine)
    assert k > 0 and mine == frames[k:]
    assert _of(mine, "response_complete") and any(isinstance(f, bytes) for f in mine)
    assert _of(mine, "session_ended") and code == 1000


def test_observing_an_unknown_session_is_an_error():
    frames, _ = _ask(json.dumps({"type": "observe", "data": {"session_id": "nope"}}))
    assert [e["code"] for e in _of(frames, "error")] == ["unknown_session"]
