"""Trace events -> protocol messages: what a client sees of its session, as it happens."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from voicelab.events import (
    ChunkTriggered,
    Event,
    LLMFinished,
    LLMToken,
    PlaybackStopped,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    StateChanged,
    TranscriptFinal,
    TTSAudio,
    TTSFailed,
)
from voicelab.measure.live import LiveTurnMeter
from voicelab.serve.protocol import server_message

REPORTED_METRICS = ("endpoint_delay_ms", "stt_latency_ms", "llm_ttft_ms", "first_word_latency_ms",
                    "trigger_wait_ms", "tts_ttfb_ms", "word_to_audio_latency_ms", "voice_to_voice_latency_ms",
                    "playback_stall_ms", "interruption_latency_ms")
"""The metrics ``response_complete`` carries (ms; columns of ``turns.csv``). Live, the speech
end is the endpointer's estimate (padded VAD end): a client that knows the true end of
what it sent measures its own voice-to-voice (``voicelab bench``)."""


@dataclass
class _Progress:
    tokens: int = 0
    triggered: int = 0
    synthesized: int = 0


class EventPublisher:
    """Turns a session's trace events into protocol messages handed to ``send(text)``.

    ``max_tokens``: ``llm.max_new_tokens`` (the ``progress`` denominator). ``response_complete``
    is sent when a turn's reply is over (its state returns to ``idle``), with the turn's
    metrics computed from its events in the trace; ``on_turn(turn, row)`` then gets the
    turn's whole ``turns.csv`` row as a dict, with ``interrupted`` (a barge-in cut its reply).
    """

    def __init__(self, send: Callable[[str], None], max_tokens: int, min_barge_in_ms: float = 200.0,
                 on_turn: Callable[[int, dict], None] | None = None) -> None:
        self._send = send
        self._on_turn = on_turn
        self._meter = LiveTurnMeter(min_barge_in_ms)
        self._interrupted: set[int] = set()
        self._max_tokens = max_tokens
        self._progress: dict[int, _Progress] = {}

    def __call__(self, e: Event) -> None:
        self._meter.add(e)
        send = self._send
        if isinstance(e, SpeechStarted):
            send(server_message("vad_status", speaking=True, t_ms=e.t_ms, audio_ms=e.audio_ms, turn=e.turn))
        elif isinstance(e, (SpeechEnded, SpeechPaused)):
            send(server_message("vad_status", speaking=False, t_ms=e.t_ms, audio_ms=e.audio_ms, turn=e.turn))
        elif isinstance(e, StateChanged):
            send(server_message("state", state=e.new, turn=e.turn))
            if e.new == "idle" and e.old in ("speaking", "interrupted", "processing"):
                self._complete(e.turn)
        elif isinstance(e, TranscriptFinal):
            send(server_message("transcription", turn=e.turn, text=e.text, is_final=True))
        elif isinstance(e, LLMToken):
            self._progress.setdefault(e.turn, _Progress()).tokens += 1
        elif isinstance(e, ChunkTriggered):
            self._progress.setdefault(e.turn, _Progress()).triggered += 1
            send(server_message("response_text", reply_id=e.turn, text=e.text, is_final=False))
            self._send_progress(e.turn)
        elif isinstance(e, TTSAudio):
            self._progress.setdefault(e.turn, _Progress()).synthesized += 1
            self._send_progress(e.turn)
        elif isinstance(e, LLMFinished):
            # after the chunk the trigger policy flushes at the end of the stream, which is
            # triggered in the same step, right after this event
            asyncio.get_running_loop().call_soon(
                send, server_message("response_text", reply_id=e.turn, text="", is_final=True))
        elif isinstance(e, TTSFailed):
            send(server_message("error", code="tts_failed", message=f"speech synthesis failed ({e.error}): "
                                "the reply goes on as text", degraded=True, reply_id=e.turn, request_id=e.request))
        elif isinstance(e, PlaybackStopped) and e.interrupted:
            self._interrupted.add(e.turn)
            send(server_message("interrupted", reply_id=e.turn, t_ms=e.t_ms, sample_index=e.sample_index))

    def _send_progress(self, turn: int) -> None:
        p = self._progress[turn]
        self._send(server_message("progress", reply_id=turn, llm_tokens=p.tokens, llm_max_tokens=self._max_tokens,
                                  tts_chunks_synthesized=p.synthesized, tts_chunks_triggered=p.triggered))

    def _complete(self, turn: int) -> None:
        """``response_complete`` for ``turn``, measured by :class:`LiveTurnMeter`."""
        r = self._meter.finish(turn)
        if r is None:
            return
        metrics = {c: (None if not isinstance(r.get(c), float) or math.isnan(r[c]) else float(r[c]))
                   for c in REPORTED_METRICS if c in r}
        self._send(server_message("response_complete", reply_id=turn, text=r["response_text"], metrics=metrics))
        if self._on_turn is not None:
            self._on_turn(turn, {**r, "interrupted": turn in self._interrupted})
        self._interrupted.discard(turn)
