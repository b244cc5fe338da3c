"""Trace events -> client updates: the one mapping every live client is served from.

:func:`turn_completed` is the one rule that decides a turn is over; :class:`LiveTranslator`
turns a live session's trace events and speaker segments into the updates of
:mod:`voicelab.live.updates`, as they happen, each turn's metrics measured by
:class:`~voicelab.measure.live.LiveTurnMeter` when it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicelab.events import (
    ChunkTriggered,
    Event,
    LLMFinished,
    LLMToken,
    PlaybackPaused,
    PlaybackStopped,
    SpeculationDiscarded,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    StateChanged,
    TranscriptFinal,
    TTSAudio,
    TTSFailed,
)
from voicelab.live.updates import (
    PlaybackCut,
    ReplyAudio,
    ReplyDiscarded,
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
from voicelab.measure.live import LiveTurnMeter
from voicelab.session.context import ConversationState, SessionContext

_ENDS_A_TURN = frozenset({ConversationState.SPEAKING, ConversationState.INTERRUPTED, ConversationState.PROCESSING})


def turn_completed(e: Event) -> bool:
    """True when ``e`` ends its turn: a :class:`~voicelab.events.StateChanged` back to ``idle``
    from ``speaking`` (played out), ``interrupted`` (the cut reply has wound down) or
    ``processing`` (no transcript, nothing to say)."""
    return isinstance(e, StateChanged) and e.new == ConversationState.IDLE and e.old in _ENDS_A_TURN


@dataclass
class _Progress:
    tokens: int = 0
    triggered: int = 0
    synthesized: int = 0


class LiveTranslator:
    """Hands a live session's updates to ``on_update(update)`` as they happen.

    :meth:`attach` it in the session's ``on_start`` (:meth:`voicelab.session.VoiceAgent.run_live`):
    it becomes a trace listener (:meth:`__call__`) and the speaker's ``on_segment``
    (:meth:`segment`). What each event becomes:

    - ``SpeechStarted`` / ``SpeechEnded`` / ``SpeechPaused``: :class:`SpeechActivity`;
    - ``StateChanged``: :class:`StateUpdate`, then, when :func:`turn_completed`, :class:`TurnEnded`
      with the turn's row (its own events and the next turn's, a barge-in on it);
    - ``TranscriptFinal``: :class:`Transcript`; ``ChunkTriggered``: :class:`ReplyText`, then
      :class:`ReplyProgress`; ``TTSAudio``: :class:`ReplyProgress` (``LLMToken`` counts in it);
    - ``LLMFinished``: :class:`ReplyTextEnded`, one loop step later (the trigger policy
      releases its last chunk right after the event, in the same step);
    - ``SpeculationDiscarded``: :class:`ReplyDiscarded`; ``TTSFailed``: :class:`SynthesisFailed`;
    - ``PlaybackStopped`` (interrupted) and ``PlaybackPaused`` (not a duck): :class:`PlaybackCut`;
    - each reply segment the speaker starts playing: :class:`ReplyAudio`.

    ``min_barge_in_ms``: the session config's ``barge_in.min_barge_in_ms`` (the meter's
    barge-in threshold). Runs on the session's loop (``LLMFinished`` needs a running loop).
    """

    def __init__(self, on_update: Callable[[Update], None], min_barge_in_ms: float) -> None:
        self._on_update = on_update
        self._meter = LiveTurnMeter(min_barge_in_ms)
        self._progress: dict[int, _Progress] = {}
        self._interrupted: set[int] = set()  # turns whose reply a barge-in cut
        self._audio_sent = False  # a segment went out since the last cut
        self.rate = 0
        """Hz of the reply audio (the speaker's rate; set by :meth:`attach`)."""

    def attach(self, ctx: SessionContext) -> None:
        """Listen to ``ctx.trace`` and take the segments of ``ctx.speaker`` (its ``on_segment``)."""
        self.rate = ctx.speaker.rate
        ctx.trace.listeners.append(self)
        ctx.speaker.on_segment = self.segment

    def segment(self, turn: int, request: int, start: int, audio: np.ndarray) -> None:
        """The speaker starts playing ``audio`` (float32 mono at :attr:`rate`) at its sample ``start``."""
        self._audio_sent = True
        self._on_update(ReplyAudio(turn, request, self.rate, start, audio))

    def __call__(self, e: Event) -> None:
        """Take one trace event (in trace order)."""
        self._meter.add(e)
        emit = self._on_update
        if isinstance(e, SpeechStarted):
            emit(SpeechActivity(e.turn, True, e.t_ms, e.audio_ms))
        elif isinstance(e, (SpeechEnded, SpeechPaused)):
            emit(SpeechActivity(e.turn, False, e.t_ms, e.audio_ms))
        elif isinstance(e, StateChanged):
            emit(StateUpdate(e.turn, e.new, e.old))
            if turn_completed(e):
                emit(TurnEnded(e.turn, self._meter.finish(e.turn), e.turn in self._interrupted))
                self._interrupted.discard(e.turn)
        elif isinstance(e, TranscriptFinal):
            emit(Transcript(e.turn, e.text))
        elif isinstance(e, LLMToken):
            self._progress.setdefault(e.turn, _Progress()).tokens += 1
        elif isinstance(e, ChunkTriggered):
            self._progress.setdefault(e.turn, _Progress()).triggered += 1
            emit(ReplyText(e.turn, e.text))
            emit(self._progress_of(e.turn))
        elif isinstance(e, TTSAudio):
            self._progress.setdefault(e.turn, _Progress()).synthesized += 1
            emit(self._progress_of(e.turn))
        elif isinstance(e, LLMFinished):
            asyncio.get_running_loop().call_soon(emit, ReplyTextEnded(e.turn))
        elif isinstance(e, SpeculationDiscarded):
            emit(ReplyDiscarded(e.turn))
        elif isinstance(e, TTSFailed):
            emit(SynthesisFailed(e.turn, e.request, e.error))
        elif (isinstance(e, PlaybackStopped) and e.interrupted) or (isinstance(e, PlaybackPaused)
                                                                   and e.duck_db is None):
            if isinstance(e, PlaybackStopped):
                self._interrupted.add(e.turn)
            sent, self._audio_sent = self._audio_sent, False
            emit(PlaybackCut(e.turn, e.t_ms, e.sample_index, isinstance(e, PlaybackStopped), sent))

    def _progress_of(self, turn: int) -> ReplyProgress:
        p = self._progress[turn]
        return ReplyProgress(turn, p.tokens, p.triggered, p.synthesized)


__all__ = ["LiveTranslator", "turn_completed"]
