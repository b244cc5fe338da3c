"""A live session's updates -> protocol frames: what a client sees of its session, as it happens.

The mapping of trace events to updates is :mod:`voicelab.live` (shared with the notebook);
this module only encodes them in the wire format of ``docs/protocol.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from voicelab.live import LiveTranslator
from voicelab.live.updates import (
    PlaybackCut,
    ReplyAudio,
    ReplyProgress,
    ReplyText,
    ReplyTextEnded,
    SpeechActivity,
    StateUpdate,
    SynthesisFailed,
    Transcript,
    TurnEnded,
    Update,
)
from voicelab.serve.protocol import encode_pcm16, server_message
from voicelab.session.context import SessionContext

REPORTED_METRICS = ("endpoint_delay_ms", "stt_latency_ms", "llm_ttft_ms", "first_word_latency_ms",
                    "trigger_wait_ms", "tts_ttfb_ms", "word_to_audio_latency_ms", "voice_to_voice_latency_ms",
                    "playback_stall_ms", "interruption_latency_ms")
"""The metrics ``response_complete`` carries (ms; columns of ``turns.csv``). Live, the speech
end is the endpointer's estimate (padded VAD end): a client that knows the true end of
what it sent measures its own voice-to-voice (``voicelab bench``)."""


class EventPublisher:
    """Sends a live session's updates to ``send(frame)`` as protocol frames (JSON text, and
    each reply segment's ``response_audio`` header followed by its int16 PCM).

    :meth:`attach` it in the session's ``on_start``: its :attr:`translator` then turns the
    trace events and speaker segments into updates (:class:`~voicelab.live.LiveTranslator`),
    and :meth:`publish` encodes each one. ``max_tokens``: ``llm.max_new_tokens`` (the
    ``progress`` denominator); ``min_barge_in_ms``: the session config's
    ``barge_in.min_barge_in_ms`` (the turn meter's). ``response_complete`` is sent when a
    turn is over, with the turn's metrics computed from its events in the trace;
    ``on_turn(turn, row)`` then gets the turn's whole ``turns.csv`` row as a dict, with
    ``interrupted`` (a barge-in cut its reply).
    """

    def __init__(self, send: Callable[[str | bytes], None], max_tokens: int, min_barge_in_ms: float,
                 on_turn: Callable[[int, dict], None] | None = None) -> None:
        self._send = send
        self._on_turn = on_turn
        self._max_tokens = max_tokens
        self.translator = LiveTranslator(self.publish, min_barge_in_ms)
        """The session's events -> updates (each handed to :meth:`publish`)."""

    def attach(self, ctx: SessionContext) -> None:
        """Publish ``ctx``'s session: its trace events and its speaker's reply segments."""
        self.translator.attach(ctx)

    def publish(self, u: Update) -> None:
        """Send ``u`` as its protocol frame(s); updates the protocol has no message for
        (a discarded speculation, a pause) send nothing."""
        send = self._send
        match u:
            case SpeechActivity():
                send(server_message("vad_status", speaking=u.speaking, t_ms=u.t_ms, audio_ms=u.audio_ms, turn=u.turn))
            case StateUpdate():
                send(server_message("state", state=u.state, turn=u.turn))
            case TurnEnded():
                self._complete(u)
            case Transcript():
                send(server_message("transcription", turn=u.turn, text=u.text, is_final=True))
            case ReplyText():
                send(server_message("response_text", reply_id=u.turn, text=u.text, is_final=False))
            case ReplyProgress():
                send(server_message("progress", reply_id=u.turn, llm_tokens=u.llm_tokens,
                                    llm_max_tokens=self._max_tokens, tts_chunks_synthesized=u.tts_chunks_synthesized,
                                    tts_chunks_triggered=u.tts_chunks_triggered))
            case ReplyTextEnded():
                send(server_message("response_text", reply_id=u.turn, text="", is_final=True))
            case SynthesisFailed():
                send(server_message("error", code="tts_failed", message=f"speech synthesis failed ({u.error}): "
                                    "the reply goes on as text", degraded=True, reply_id=u.turn,
                                    request_id=u.request))
            case PlaybackCut(interrupted=True):
                send(server_message("interrupted", reply_id=u.turn, t_ms=u.t_ms, sample_index=u.sample_index))
            case ReplyAudio():
                send(server_message("response_audio", reply_id=u.turn, request_id=u.request, sample_rate=u.rate,
                                    dtype="int16", start_sample=u.start_sample))
                send(encode_pcm16(u.audio))

    def _complete(self, u: TurnEnded) -> None:
        """``response_complete`` for a turn measured by :class:`~voicelab.measure.live.LiveTurnMeter`."""
        r = u.row
        if r is None:
            return
        metrics = {c: (None if not isinstance(r.get(c), float) or math.isnan(r[c]) else float(r[c]))
                   for c in REPORTED_METRICS if c in r}
        self._send(server_message("response_complete", reply_id=u.turn, text=r["response_text"], metrics=metrics))
        if self._on_turn is not None:
            self._on_turn(u.turn, {**r, "interrupted": u.interrupted})
