"""The voicelab WebSocket protocol: message schemas, parsing with error codes, PCM framing.

Text frames carry JSON ``{"type": ..., "data": {...}}``; binary frames carry audio:
client -> server 16 kHz mono int16 little-endian PCM in any frame size, server -> client
the agent's audio as little-endian PCM at the TTS rate, each reply's audio announced by a
``response_audio`` message. The full description, with an example exchange, is
``docs/protocol.md``; this module is its executable form (the server and ``voicelab
bench`` both use it).

Every malformed input raises :class:`ProtocolError` with one of :data:`ERROR_CODES`; the
server answers it with an ``error`` message and keeps the session.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_FRAME_BYTES = 1 << 20
"""Default limit of one WebSocket frame (1 MiB); larger frames close the socket with 1009."""

CLOSE_GOING_AWAY = 1001
"""WebSocket close code when the server shuts down (RFC 6455 7.4.1: going away)."""

CLOSE_TOO_BIG = 1009
"""WebSocket close code for an oversized frame (RFC 6455 7.4.1: message too big)."""

CLOSE_TRY_AGAIN = 1013
"""WebSocket close code when the server is at its session limit (RFC 6455 registry: try again later)."""

ERROR_CODES = {
    "bad_json": "a text frame is not a JSON object",
    "unknown_type": "the message type is not one of the protocol's",
    "bad_field": "a field is missing, unknown or of the wrong type",
    "bad_pcm": "audio is not int16 PCM (odd byte count, or bad base64)",
    "bad_config": "config overrides do not validate (the message names the field)",
    "not_started": "a message other than start/ping arrived before start",
    "unknown_session": "start names a session_id that is not stored, or observe one that is not running",
    "too_large": "a frame exceeds the size limit",
    "session_limit": "the server runs its maximum number of sessions",
    "read_only": "an observer sent something other than ping or stop",
    "tts_failed": "speech synthesis failed: the reply continues as text (degraded)",
    "internal": "the server failed to handle the message",
}
"""Every ``error`` code the server may send, with its meaning."""


class ProtocolError(ValueError):
    """Bad client input: ``code`` (one of :data:`ERROR_CODES`) and a human message."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown protocol error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- client -> server ------------------------------------------------------------------------
class StartData(_Data):
    """``config``: overrides of the server's experiment config (dotted paths or sections,
    validated like a YAML config); ``session_id``: continue a stored conversation."""

    config: dict[str, Any] = Field(default_factory=dict)
    session_id: str | None = None


class ObserveData(_Data):
    """Subscribe to a running session: receive every message and audio frame it sends."""

    session_id: str = Field(min_length=1)


class ConfigData(_Data):
    """Change trigger / VAD / barge-in settings mid-session (same validation as ``start``)."""

    config: dict[str, Any]


class TextData(_Data):
    """A typed user turn (no audio, no STT)."""

    text: str = Field(min_length=1)


class AudioData(_Data):
    """Base64 of 16 kHz mono int16 little-endian PCM, for clients that cannot send binary."""

    pcm: str


class EmptyData(_Data):
    pass


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartMessage(_Message):
    type: Literal["start"]
    data: StartData = Field(default_factory=StartData)


class ObserveMessage(_Message):
    type: Literal["observe"]
    data: ObserveData


class ConfigMessage(_Message):
    type: Literal["config"]
    data: ConfigData


class TextMessage(_Message):
    type: Literal["text"]
    data: TextData


class UtteranceEndMessage(_Message):
    """Client-side endpointing: the user's turn ends now."""

    type: Literal["utterance_end"]
    data: EmptyData = Field(default_factory=EmptyData)


class AudioMessage(_Message):
    type: Literal["audio"]
    data: AudioData


class StopMessage(_Message):
    type: Literal["stop"]
    data: EmptyData = Field(default_factory=EmptyData)


class PingMessage(_Message):
    type: Literal["ping"]
    data: EmptyData = Field(default_factory=EmptyData)


CLIENT_TYPES = ("start", "observe", "config", "text", "utterance_end", "audio", "stop", "ping")
ClientMessage = Annotated[Union[StartMessage, ObserveMessage, ConfigMessage, TextMessage,  # noqa: UP007
                                UtteranceEndMessage, AudioMessage, StopMessage, PingMessage],
                          Field(discriminator="type")]
_CLIENT = TypeAdapter(ClientMessage)


def parse_client_message(text: str | bytes) -> BaseModel:
    """One client text frame -> its message model (``.type``, ``.data``).

    Raises:
        ProtocolError: ``bad_json`` (not a JSON object), ``unknown_type``, or ``bad_field``
            (the message names the field path).
    """
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ProtocolError("bad_json", f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_json", f"expected a JSON object, got {type(obj).__name__}")
    if obj.get("type") not in CLIENT_TYPES:
        raise ProtocolError("unknown_type", f"type {obj.get('type')!r} is not one of {', '.join(CLIENT_TYPES)}")
    try:
        return _CLIENT.validate_python(obj)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'][1:]) or 'message'}: {err['msg']}"
                             for err in e.errors())
        raise ProtocolError("bad_field", problems) from None


def decode_pcm16(data: bytes) -> np.ndarray:
    """Client PCM (int16 little-endian, mono) -> float32 ``(n,)`` in [-1, 1).

    Raises:
        ProtocolError: ``bad_pcm`` for an odd number of bytes.
    """
    if len(data) % 2:
        raise ProtocolError("bad_pcm", f"int16 PCM needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def decode_base64_pcm(text: str) -> np.ndarray:
    """The ``audio`` message's ``pcm`` field -> float32 samples (see :func:`decode_pcm16`).

    Raises:
        ProtocolError: ``bad_pcm`` for bad base64 or an odd byte count.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProtocolError("bad_pcm", f"audio.pcm is not base64: {e}") from None
    return decode_pcm16(raw)


def encode_pcm16(samples: np.ndarray) -> bytes:
    """float32 ``(n,)`` in [-1, 1] -> int16 little-endian bytes (clipped, rounded)."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


# --- server -> client ------------------------------------------------------------------------
SERVER_TYPES = ("session_started", "vad_status", "transcription", "state", "response_text", "progress",
                "response_audio", "response_complete", "interrupted", "error", "pong", "session_ended")


def server_message(kind: str, **data: Any) -> str:
    """A server text frame ``{"type": kind, "data": data}`` (NaN written as null).

    Raises:
        ValueError: ``kind`` is not one of :data:`SERVER_TYPES`, or an ``error`` without a known code.
    """
    if kind not in SERVER_TYPES:
        raise ValueError(f"{kind!r} is not a server message type")
    if kind == "error" and data.get("code") not in ERROR_CODES:
        raise ValueError(f"error code {data.get('code')!r} is not one of ERROR_CODES")
    clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in data.items()}
    return json.dumps({"type": kind, "data": clean}, separators=(",", ":"))


def error_message(err: ProtocolError, **extra: Any) -> str:
    """The ``error`` frame answering ``err``."""
    return server_message("error", code=err.code, message=err.message, **extra)
