"""The WebSocket protocol's messages, errors and PCM framing (voicelab.serve.protocol)."""

import base64
import json

import numpy as np
import pytest

from voicelab.serve.protocol import (
    ERROR_CODES,
    ProtocolError,
    decode_base64_pcm,
    decode_pcm16,
    encode_pcm16,
    error_message,
    parse_client_message,
    server_message,
)


@pytest.mark.parametrize("frame, kind, data", [
    ('{"type": "ping"}', "ping", {}),
    ('{"type": "start"}', "start", {"config": {}, "session_id": None}),
    ('{"type": "start", "data": {"config": {"trigger.words": 3}, "session_id": "s1"}}', "start",
     {"config": {"trigger.words": 3}, "session_id": "s1"}),
    ('{"type": "config", "data": {"config": {"vad": {"min_silence_ms": 300}}}}', "config",
     {"config": {"vad": {"min_silence_ms": 300}}}),
    ('{"type": "text", "data": {"text": "hello"}}', "text", {"text": "hello"}),
    ('{"type": "utterance_end", "data": {}}', "utterance_end", {}),
    ('{"type": "stop"}', "stop", {}),
])
def test_client_messages_parse(frame, kind, data):
    msg = parse_client_message(frame)
    assert msg.type == kind and msg.data.model_dump() == data


@pytest.mark.parametrize("frame, code, says", [
    ("not json", "bad_json", "not JSON"),
    ('["ping"]', "bad_json", "expected a JSON object, got list"),
    ('{"data": {}}', "unknown_type", "type None is not one of"),
    ('{"type": "dance"}', "unknown_type", "type 'dance'"),
    ('{"type": "text", "data": {"text": 5}}', "bad_field", "data.text: Input should be a valid string"),
    ('{"type": "text", "data": {}}', "bad_field", "data.text: Field required"),
    ('{"type": "text", "data": {"text": ""}}', "bad_field", "data.text: String should have at least 1 character"),
    ('{"type": "ping", "data": {"x": 1}}', "bad_field", "data.x: Extra inputs are not permitted"),
    ('{"type": "start", "data": {"session_id": 7}}', "bad_field", "data.session_id: Input should be a valid string"),
    ('{"type": "ping", "extra": 1}', "bad_field", "extra: Extra inputs are not permitted"),
    (b"\xff\xfe", "bad_json", "not JSON"),
])
def test_bad_client_frames_get_an_error_code(frame, code, says):
    with pytest.raises(ProtocolError) as e:
        parse_client_message(frame)
    assert e.value.code == code and says in e.value.message


def test_pcm_round_trip_and_odd_length():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0], dtype=np.float32)
    raw = encode_pcm16(x)
    assert raw == np.array([0, 16384, -16384, 32767, -32767], dtype="<i2").tobytes()
    assert np.allclose(decode_pcm16(raw), x, atol=1 / 32768)
    with pytest.raises(ProtocolError) as e:
        decode_pcm16(raw[:-1])
    assert e.value.code == "bad_pcm" and "9" in e.value.message
    assert np.array_equal(decode_base64_pcm(base64.b64encode(raw).decode()), decode_pcm16(raw))
    with pytest.raises(ProtocolError, match="bad_pcm: audio.pcm is not base64"):
        decode_base64_pcm("***")


def test_server_messages():
    assert json.loads(server_message("pong")) == {"type": "pong", "data": {}}
    assert json.loads(server_message("progress", reply_id=2, llm_tokens=3, llm_max_tokens=250,
                                     tts_chunks_synthesized=1, tts_chunks_triggered=2, v2v_ms=float("nan")))[
        "data"]["v2v_ms"] is None
    err = json.loads(error_message(ProtocolError("bad_pcm", "odd"), degraded=False))
    assert err == {"type": "error", "data": {"code": "bad_pcm", "message": "odd", "degraded": False}}
    with pytest.raises(ValueError):
        server_message("hello")
    with pytest.raises(ValueError):
        server_message("error", code="oops", message="?")
    with pytest.raises(ValueError):
        ProtocolError("oops", "?")
    assert set(ERROR_CODES) >= {"bad_json", "unknown_type", "bad_field", "bad_pcm", "too_large", "session_limit"}
