"""One scripted client over the wire: real clips at real-time pace in, the agent's audio recorded.

It speaks ``docs/protocol.md`` to any server (``voicelab serve`` or another agent behind the
same protocol) and measures from its own side of the socket, on its own clock (t = 0: the
capture of the first sample it sends; packet ``k`` leaves when its last sample is
"captured", as a sound card would deliver it):

- voice-to-voice: the clip's true speech end (its annotation, placed where the clip was
  sent) to the first received reply sample, placed where it arrived (the client plays
  audio on arrival, back to back);
- what the server says: its messages' arrival times, and its own metrics
  (``response_complete``) as :class:`~voicelab.events.PeerReported`.

The result is a voicelab trace, so ``voicelab.measure`` computes the same columns where the
wire allows them (NaN where it does not, e.g. LLM tokens).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from websockets.asyncio.client import connect

from voicelab.audio.clips import Clip
from voicelab.events import (
    ChunkTriggered,
    LLMFinished,
    PeerReported,
    PlaybackStarted,
    PlaybackStopped,
    SpeechEnded,
    SpeechStarted,
    Trace,
    TranscriptFinal,
    TurnPlanned,
)
from voicelab.serve.protocol import decode_pcm16, encode_pcm16
from voicelab.units import INPUT_RATE

PACKET = 512
"""Samples per packet sent (32 ms at 16 kHz, the virtual microphone's frame)."""


@dataclass(frozen=True)
class WireTurn:
    """A clip to say and its true speech bounds within the clip (ms); ``warmup``: excluded
    from statistics, like ``voicelab run``'s warm-up turns."""

    clip: Clip
    speech_bounds_ms: tuple[float, float]
    warmup: bool = False


@dataclass
class WireResult:
    """What one client saw: its trace (client clock), the audio it sent (16 kHz) and the
    audio it received, placed where it arrived (``agent_rate``), and the frames' log."""

    trace: Trace
    input_audio: np.ndarray
    agent_audio: np.ndarray
    agent_rate: int
    errors: list[dict] = field(default_factory=list)


class BenchClient:
    """Says ``turns`` to the server at ``url`` and records the conversation.

    Server messages are attributed to client turns by the server's own turn number, mapped
    to the clip its speech lies in (``vad_status``'s ``audio_ms``: both sides count from the
    first sent sample), so a late reply under load is not taken for the next turn's.

    After ``lead_in_ms`` of silence, each clip is sent, then silence until the server's
    ``response_complete`` for it (or ``reply_timeout_ms`` after the clip with none), then
    ``turn_gap_ms`` more before the next clip; silence keeps flowing while the agent speaks.
    ``on_turn(turn, replied)`` is called when a turn's wait is over (a progress bar).

    Raises (from :meth:`run`):
        OSError, websockets.exceptions.InvalidURI / InvalidHandshake: the server is unreachable.
        RuntimeError: the server refused the session (its ``error`` is in the message).
    """

    def __init__(self, url: str, turns: list[WireTurn], name: str = "wire", lead_in_ms: float = 500.0,
                 turn_gap_ms: float = 1000.0, reply_timeout_ms: float = 30000.0, config: dict | None = None,
                 on_turn: Callable[[int, bool], None] | None = None) -> None:
        self.url, self.turns, self.name = url, turns, name
        self.on_turn = on_turn
        self.lead_in_ms, self.turn_gap_ms, self.reply_timeout_ms = lead_in_ms, turn_gap_ms, reply_timeout_ms
        self.config = config or {}
        self.trace = Trace()
        self._sent: list[np.ndarray] = []
        self._n_sent = 0  # samples of the stream so far (captured: sent, or pending in a partial packet)
        self._n_packets = 0  # packets sent
        self._pending = np.zeros(0, np.float32)  # the partial packet after the last one sent
        self._received: list[tuple[int, np.ndarray]] = []  # (start sample at agent_rate, audio)
        self._cursor = 0
        self._rate = 24_000
        self._turn = -1
        self._server_turn: dict[int, int] = {}      # the server's turn number -> the client's turn
        self._replied: dict[int, asyncio.Event] = {}
        self._first_audio: set[int] = set()
        self._audio_end: dict[int, int] = {}        # client turn -> end sample of its received audio
        self._interrupted: set[int] = set()
        self._reply_turn = -1                       # the client turn the audio now arriving answers
        self._request = 0                           # its request id (``response_audio``)
        self.errors: list[dict] = []

    def _now_ms(self) -> float:
        return (asyncio.get_running_loop().time() - self._t0) * 1000.0

    async def run(self) -> WireResult:
        async with connect(self.url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "start", "data": {"config": self.config}}))
            hello = json.loads(await ws.recv())
            if hello["type"] != "session_started":
                raise RuntimeError(f"the server refused the session: {hello}")
            self._rate = int(hello["data"]["output_rate"])
            self._t0 = asyncio.get_running_loop().time()
            reader = asyncio.create_task(self._read(ws))
            try:
                await self._say(ws)
                if len(self._pending):  # the stream's last, partial packet
                    await ws.send(encode_pcm16(self._pending))
                await ws.send(json.dumps({"type": "stop"}))
                await asyncio.wait_for(reader, timeout=30.0)
            finally:
                reader.cancel()
        return self._finish()

    def _finish(self) -> WireResult:
        """The recording: each turn's received audio ends with a ``PlaybackStopped``."""
        for turn, end in sorted(self._audio_end.items()):
            self.trace.append(PlaybackStopped(end * 1000.0 / self._rate, turn, end, turn in self._interrupted))
        return WireResult(self.trace, np.concatenate(self._sent) if self._sent else np.zeros(0, np.float32),
                          self._agent_audio(), self._rate, self.errors)

    # --- the microphone side ---------------------------------------------------------------
    async def _send(self, ws, audio: np.ndarray) -> None:
        """Capture ``audio`` (the stream goes on with it) and send each packet it completes, at
        real-time pace: packet k holds samples ``[k * PACKET, (k + 1) * PACKET)`` of the whole
        stream and leaves once its last sample is captured, as a sound card delivers. A clip's
        last, partial packet is completed by the silence after it, so the packets stay on the
        grid of the server's frames (both count from the first sample) and the endpoint is
        decided when it would be in ``voicelab run``."""
        loop = asyncio.get_running_loop()
        self._sent.append(audio)
        self._n_sent += len(audio)
        self._pending = np.concatenate([self._pending, np.asarray(audio, np.float32)])
        while len(self._pending) >= PACKET:
            chunk, self._pending = self._pending[:PACKET], self._pending[PACKET:]
            self._n_packets += 1
            await asyncio.sleep(max(0.0, self._t0 + self._n_packets * PACKET / INPUT_RATE - loop.time()))
            await ws.send(encode_pcm16(chunk))

    async def _silence_until(self, ws, done: asyncio.Event | None, until_ms: float) -> None:
        """Send silence until ``done`` is set (if given) or ``until_ms`` on the client clock
        (its first piece completes the partial packet a clip left)."""
        while self._now_ms() < until_ms and not (done is not None and done.is_set()):
            await self._send(ws, np.zeros(PACKET - len(self._pending), dtype=np.float32))

    async def _say(self, ws) -> None:
        await self._silence_until(ws, None, self.lead_in_ms)
        for n, t in enumerate(self.turns):
            if len(self._pending):  # start on a packet boundary, as voicelab run's mic starts clips on a frame
                await self._send(ws, np.zeros(PACKET - len(self._pending), dtype=np.float32))
            start_ms = self._n_sent * 1000.0 / INPUT_RATE
            self._turn = n
            s0, s1 = t.speech_bounds_ms
            duration = len(t.clip.audio) * 1000.0 / INPUT_RATE
            self.trace.append(TurnPlanned(start_ms, n, t.clip.name, self.name, t.warmup, duration, start_ms + s0,
                                          start_ms + s1, t.clip.reference_text, engine="wire"))
            done = self._replied.setdefault(n, asyncio.Event())
            await self._send(ws, t.clip.audio)
            await self._silence_until(ws, done, start_ms + duration + self.reply_timeout_ms)
            if self.on_turn is not None:
                self.on_turn(n, done.is_set())
            await self._silence_until(ws, None, self._now_ms() + self.turn_gap_ms)
        # let the last reply finish playing on the client before stopping
        await self._silence_until(ws, None, max(self._now_ms(), self._cursor * 1000.0 / self._rate) + 300.0)

    # --- the server side -------------------------------------------------------------------
    async def _read(self, ws) -> None:
        async for frame in ws:
            now = self._now_ms()
            if isinstance(frame, bytes):
                self._audio(now, decode_pcm16(frame))
                continue
            msg = json.loads(frame)
            self._message(now, msg["type"], msg.get("data") or {})
            if msg["type"] == "session_ended":
                return

    def _client_turn(self, d: dict) -> int:
        """The client turn a server message is about: by the server's turn number, mapped when
        its speech was first heard (``vad_status``); else the turn being spoken (-1: none yet)."""
        server = d.get("turn", d.get("reply_id"))
        return self._server_turn.get(int(server), self._turn) if server is not None else self._turn

    def _map(self, server_turn: int, audio_ms: float) -> int:
        """Map a server turn to the client clip its speech lies in (sample clock: both sides
        count from the first sent sample), or the last clip started before it."""
        if server_turn not in self._server_turn:
            spans = [(p.turn, p.t_ms, p.t_ms + p.duration_ms) for p in self.trace.of(TurnPlanned)]
            inside = [n for n, lo, hi in spans if lo - 100.0 <= audio_ms <= hi]
            before = [n for n, lo, _ in spans if lo <= audio_ms]
            self._server_turn[server_turn] = inside[0] if inside else (before[-1] if before else -1)
        return self._server_turn[server_turn]

    def _message(self, now: float, kind: str, d: dict) -> None:
        tr = self.trace
        if kind == "error":
            self.errors.append(d)
        if kind == "vad_status" and d.get("turn") is not None:
            self._map(int(d["turn"]), float(d.get("audio_ms", d["t_ms"])))
        turn = self._client_turn(d)
        if turn < 0:
            return
        if kind == "vad_status":
            if d["speaking"]:
                tr.append(SpeechStarted(now, turn, float(d.get("audio_ms", d["t_ms"]))))
            else:
                audio = float(d.get("audio_ms", d["t_ms"]))
                tr.append(SpeechEnded(now, turn, audio, float(d["t_ms"])))
        elif kind == "transcription":
            tr.append(TranscriptFinal(now, turn, d["text"]))
        elif kind == "response_text" and d.get("text"):
            k = sum(1 for _ in tr.of(ChunkTriggered, turn))
            tr.append(ChunkTriggered(now, turn, k, d["text"], -1, -1))
        elif kind == "response_audio":
            self._reply_turn = turn
            self._request = int(d["request_id"])
            if turn not in self._first_audio and "start_sample" in d:  # where the server's speaker played it
                tr.append(PeerReported(now, turn, "server", "response_audio", "playback_start_ms",
                                       int(d["start_sample"]) * 1000.0 / int(d["sample_rate"])))
        elif kind == "interrupted":
            self._interrupted.add(turn)
        elif kind == "response_complete":
            for metric, value in (d.get("metrics") or {}).items():
                if value is not None:
                    tr.append(PeerReported(now, turn, "server", "response_complete", metric, float(value)))
            # the reply's text as the server reports it (no token timing on the wire)
            tr.append(LLMFinished(now, turn, 0, False, d.get("text", "")))
            self._replied.setdefault(turn, asyncio.Event()).set()

    def _audio(self, now: float, samples: np.ndarray) -> None:
        """Play received audio on arrival: at the arrival sample, or right after what plays."""
        start = max(round(now * self._rate / 1000.0), self._cursor)
        turn = self._reply_turn
        if turn >= 0 and turn not in self._first_audio:
            self._first_audio.add(turn)
            self.trace.append(PlaybackStarted(start * 1000.0 / self._rate, turn, self._request, start))
        self._received.append((start, samples))
        self._cursor = start + len(samples)
        if turn >= 0:
            self._audio_end[turn] = self._cursor

    def _agent_audio(self) -> np.ndarray:
        n = max((s + len(a) for s, a in self._received), default=0)
        out = np.zeros(n, dtype=np.float32)
        for s, a in self._received:
            out[s: s + len(a)] = a
        return out


def first_sound_ms(audio: np.ndarray, rate: int, after_ms: float, threshold: float = 1 / 32768) -> float:
    """The first sample at or above ``threshold`` (one int16 LSB) after ``after_ms``, in ms; NaN if none."""
    lo = max(int(after_ms * rate / 1000.0), 0)
    idx = np.flatnonzero(np.abs(audio[lo:]) >= threshold)
    return (lo + int(idx[0])) * 1000.0 / rate if len(idx) else math.nan
