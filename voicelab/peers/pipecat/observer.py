"""Pipecat frames -> voicelab trace events, so ``voicelab.measure`` reads both engines alike.

:class:`FrameTranslator` is the logic (plain calls with session-clock times, testable on
scripted frames); :func:`make_trace_observer` wraps it in a Pipecat ``BaseObserver``.

The mapping (Pipecat 1.14 frames, see ``pipecat.frames.frames``):

======================================  =====================================================
Pipecat                                 voicelab event
======================================  =====================================================
``VADUserStartedSpeakingFrame``         :class:`SpeechStarted` (padded start: minus ``start_secs``)
``VADUserStoppedSpeakingFrame``         :class:`SpeechPaused` (the VAD stop; Whisper starts on it)
``MetricsFrame`` / ``TurnMetricsData``  :class:`TurnPredicted` (Smart Turn's verdict)
``LLMContextFrame`` (user aggregator)   :class:`SpeechEnded` (the user turn ended), and the
                                        turn's :class:`STTStarted` (its last VAD stop) and
                                        :class:`TranscriptFinal` (its transcripts, joined, at
                                        the last one's time)
``LLMFullResponseStartFrame``           :class:`LLMStarted`
``LLMTextFrame``                        :class:`LLMToken`, and :class:`WordEmitted` per word
``LLMFullResponseEndFrame``             :class:`LLMFinished` (``cancelled``: only for a reply still
                                        open when the next turn began, closed then)
TTS ``run_tts`` call (:meth:`tts_request`)  :class:`ChunkTriggered` + :class:`TTSStarted`
its first audio (:meth:`tts_audio`)     :class:`TTSAudio`
``MetricsFrame`` / ``TTFBMetricsData``  :class:`PeerReported` (``ttfb``)
``UserBotLatencyObserver``              :class:`PeerReported` (``user_bot_latency``)
======================================  =====================================================

A turn may have several replies: Pipecat *restarts* a reply when a transcript of the user
turn arrives after the turn was ended (it interrupts the reply and answers again with the
longer context). Each reply is an :class:`LLMStarted` ... :class:`LLMFinished` pair; word
indices go on across the turn's replies (the first word of a restarted reply follows the
last word of the reply before it), so :class:`WordEmitted` and :class:`ChunkTriggered` agree
on every word of the turn. A reply still open when the next turn begins is closed then
(``cancelled``, at the last frame time of its turn); later frames of it are not the new
turn's.

Playback events come from the virtual speaker itself (the output transport plays into it).
Pipecat calls observers from a queue, after the fact, with the push time in the frame's
record; so a turn's events are buffered and appended to the trace sorted by time when the
turn changes or :meth:`FrameTranslator.flush` is called.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from voicelab.events import (
    ChunkTriggered,
    Event,
    LLMFinished,
    LLMStarted,
    LLMToken,
    PeerReported,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    STTStarted,
    Trace,
    TranscriptFinal,
    TTSAudio,
    TTSStarted,
    TurnPredicted,
    WordEmitted,
)
from voicelab.trigger.words import WordTracker

ENGINE = "pipecat"


@dataclass
class _Turn:
    """What the translator knows of the turn in progress."""

    turn: int
    speech_start_ms: float | None = None
    vad_stops: list[float] = field(default_factory=list)
    transcripts: list[tuple[float, str]] = field(default_factory=list)
    tokens: int = 0
    reply: str = ""
    words: WordTracker = field(default_factory=WordTracker)
    word_base: int = 0  # index of the current reply's first word (words of earlier replies come first)
    next_word: int = 0  # words emitted so far in the turn, all replies
    llm_open: bool = False
    requests: int = 0
    audio_pending: bool = False  # the last request has not produced audio yet
    spoken_words: int = 0  # words handed to TTS so far
    mid_word: bool = False  # the last TTS chunk ended inside a word (token aggregation)
    last_ms: float = -math.inf  # the latest frame time seen in the turn
    events: list[Event] = field(default_factory=list)


class FrameTranslator:
    """Turns one Pipecat pipeline's frames into voicelab events for the turn being answered.

    ``turn_of()``: the voicelab turn the frames belong to (the scripted user's current
    turn); events of turn -1 (before the first clip) are dropped. ``vad_start_s`` /
    ``vad_stop_s``: the Silero ``VADParams``, to place speech bounds the way Pipecat's VAD
    decided them (a VAD start is decided ``start_secs`` after the speech began).
    ``token_chunks``: TTS text arrives token by token (``text_aggregation: token``), so a
    chunk may continue the previous chunk's word; with sentence aggregation chunks are
    whole words. ``on_vad_stop(turn, t_ms)`` / ``on_turn_end(turn, t_ms)``: the engine's
    hooks (reply watchdog, ``handled``).
    """

    def __init__(self, trace: Trace, turn_of: Callable[[], int], *, vad_start_s: float, vad_stop_s: float,
                 token_chunks: bool, on_vad_stop: Callable[[int, float], None] | None = None,
                 on_turn_end: Callable[[int, float], None] | None = None) -> None:
        self._trace = trace
        self._turn_of = turn_of
        self._vad_start_ms = vad_start_s * 1000.0
        self._vad_stop_ms = vad_stop_s * 1000.0
        self._token_chunks = token_chunks
        self._on_vad_stop = on_vad_stop
        self._on_turn_end = on_turn_end
        self._cur: _Turn | None = None
        self.replying_turn = -1
        """The turn whose user turn Pipecat ended last (its reply is the one being generated)."""

    # --- the turn in progress ---------------------------------------------------------
    def _state(self, t_ms: float) -> _Turn | None:
        turn = self._turn_of()
        if turn < 0:
            return None
        if self._cur is None or self._cur.turn != turn:
            if self._cur is not None and self._cur.llm_open:  # a reply outlived its turn: close it there
                self._close_reply(self._cur, self._cur.last_ms, cancelled=True)
            self.flush()
            self._cur = _Turn(turn)
        self._cur.last_ms = max(self._cur.last_ms, t_ms)
        return self._cur

    def last_activity_ms(self, turn: int) -> float:
        """The latest frame time seen in ``turn`` (-inf if none, or another turn is in progress)."""
        return self._cur.last_ms if self._cur is not None and self._cur.turn == turn else -math.inf

    def flush(self) -> None:
        """Append the buffered events of the turn in progress to the trace, in time order."""
        if self._cur is not None and self._cur.events:
            for e in sorted(self._cur.events, key=lambda e: e.t_ms):
                self._trace.append(e)
            self._cur.events = []

    # --- user side --------------------------------------------------------------------
    def vad_started(self, t_ms: float) -> None:
        if (st := self._state(t_ms)) is not None:
            st.speech_start_ms = t_ms - self._vad_start_ms
            st.events.append(SpeechStarted(t_ms, st.turn, st.speech_start_ms))

    def vad_stopped(self, t_ms: float) -> None:
        if (st := self._state(t_ms)) is not None:
            st.vad_stops.append(t_ms)
            st.events.append(SpeechPaused(t_ms, st.turn, t_ms - self._vad_stop_ms, t_ms))
            if self._on_vad_stop is not None:
                self._on_vad_stop(st.turn, t_ms)

    def transcript(self, t_ms: float, text: str) -> None:
        if (st := self._state(t_ms)) is not None and text.strip():
            st.transcripts.append((t_ms, text.strip()))

    def turn_predicted(self, t_ms: float, probability: float, complete: bool, e2e_ms: float) -> None:
        if (st := self._state(t_ms)) is not None:
            st.events.append(TurnPredicted(t_ms, st.turn, probability, complete, t_ms - e2e_ms, math.nan))

    def user_turn_ended(self, t_ms: float) -> None:
        """The user aggregator ended the turn (its ``LLMContextFrame``)."""
        if (st := self._state(t_ms)) is None:
            return
        last_stop = st.vad_stops[-1] if st.vad_stops else t_ms
        start = st.speech_start_ms if st.speech_start_ms is not None else last_stop
        st.events.append(SpeechEnded(t_ms, st.turn, last_stop - self._vad_stop_ms, t_ms))
        st.events.append(STTStarted(last_stop, st.turn, max(last_stop - start, 0.0)))
        heard = [tx for tx in st.transcripts if tx[0] >= last_stop] or st.transcripts
        t_text = heard[-1][0] if heard else t_ms
        st.events.append(TranscriptFinal(t_text, st.turn, " ".join(text for _, text in st.transcripts)))
        st.transcripts = []
        self.replying_turn = st.turn
        if self._on_turn_end is not None:
            self._on_turn_end(st.turn, t_ms)

    # --- the reply --------------------------------------------------------------------
    def llm_started(self, t_ms: float) -> None:
        if (st := self._state(t_ms)) is not None:
            st.llm_open, st.reply, st.words = True, "", WordTracker()
            # a restarted reply starts a new word, after every word of the turn so far
            st.word_base = st.spoken_words = max(st.spoken_words, st.next_word)
            st.mid_word = False
            st.events.append(LLMStarted(t_ms, st.turn))

    def llm_text(self, t_ms: float, text: str) -> None:
        if (st := self._state(t_ms)) is None or not st.llm_open:
            return
        st.events.append(LLMToken(t_ms, st.turn, st.tokens, text))
        st.tokens += 1
        st.reply += text
        self._emit_words(st, t_ms, st.words.push(text))

    def llm_finished(self, t_ms: float, cancelled: bool = False) -> None:
        if (st := self._state(t_ms)) is None or not st.llm_open:
            return
        self._close_reply(st, t_ms, cancelled)

    @staticmethod
    def _emit_words(st: _Turn, t_ms: float, words) -> None:
        for w in words:
            st.events.append(WordEmitted(t_ms, st.turn, st.word_base + w.index, w.text))
            st.next_word = st.word_base + w.index + 1

    def _close_reply(self, st: _Turn, t_ms: float, cancelled: bool) -> None:
        st.llm_open = False
        self._emit_words(st, t_ms, st.words.flush())
        st.events.append(LLMFinished(t_ms, st.turn, st.tokens, cancelled, st.reply))

    def tts_request(self, t_ms: float, text: str) -> None:
        """The TTS service started synthesizing ``text`` (one ``run_tts`` call)."""
        if (st := self._state(t_ms)) is None:
            return
        n = len(text.split())
        if n == 0:
            first = last = st.spoken_words - 1
        else:
            continues = self._token_chunks and st.mid_word and not text[0].isspace()
            first = st.spoken_words - 1 if continues else st.spoken_words
            last = first + n - 1
            st.spoken_words = last + 1
            st.mid_word = not text[-1].isspace()
        k = st.requests
        st.requests += 1
        st.audio_pending = True
        st.events.append(ChunkTriggered(t_ms, st.turn, k, text, max(first, 0), max(last, 0)))
        st.events.append(TTSStarted(t_ms, st.turn, k, (k,), text))

    def tts_audio(self, t_ms: float, samples: int, sample_rate: int) -> None:
        """The current TTS request produced its first audio."""
        if (st := self._state(t_ms)) is not None and st.audio_pending:
            st.audio_pending = False
            st.events.append(TTSAudio(t_ms, st.turn, st.requests - 1, samples, sample_rate))

    # --- what Pipecat says about itself -------------------------------------------------
    def reported(self, t_ms: float, source: str, metric: str, value_ms: float) -> None:
        if (st := self._state(t_ms)) is not None:
            st.events.append(PeerReported(t_ms, st.turn, ENGINE, source, metric, value_ms))
