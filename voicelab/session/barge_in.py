"""Barge-in: is the user taking the turn while the agent speaks, and cutting the agent off."""

from __future__ import annotations

import asyncio
import math
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from voicelab.config import BargeInConfig
from voicelab.events import BargeInConfirmed, BargeInDetected, BargeInTranscript
from voicelab.session.context import ConversationState, SessionContext
from voicelab.session.response import Response
from voicelab.units import samples_to_ms
from voicelab.vad import make_vad


class BargeInDetector:
    """Fires once speech frames have lasted ``min_barge_in_ms`` while the agent speaks.

    Frame probabilities come from a VAD (32 ms frames). While agent audio is playing,
    ``echo_guard_threshold`` (if set) replaces ``threshold``: a raised bar against the
    agent's own echo. Any frame below the threshold restarts the count.
    """

    def __init__(self, config: BargeInConfig, frame_ms: float = 32.0) -> None:
        self.config = config
        self.frame_ms = frame_ms
        self.reset()

    def reset(self) -> None:
        """Forget the current speech run (call when the agent stops speaking)."""
        self.run_ms = 0.0

    def is_speech(self, probability: float, agent_playing: bool) -> bool:
        """Whether one frame's probability is at or above the threshold in force."""
        c = self.config
        threshold = c.echo_guard_threshold if (agent_playing and c.echo_guard_threshold is not None) \
            else c.threshold
        return probability >= threshold

    def process(self, probability: float, agent_playing: bool) -> bool:
        """Feed one frame's speech probability; True when the detector fires."""
        self.run_ms = self.run_ms + self.frame_ms if self.is_speech(probability, agent_playing) else 0.0
        return self.run_ms >= max(self.config.min_barge_in_ms, self.frame_ms)


def _words(text: str) -> str:
    return re.sub(r"[^\w\s'-]", " ", text.lower())


def content_words(text: str, backchannels: Iterable[str], own_text: str = "") -> int:
    """How many words of ``text`` are not backchannels, nor words of ``own_text``.

    Lower-cased, punctuation other than hyphens and apostrophes removed; each backchannel
    matches with its parts joined by a hyphen, a space or nothing ("uh-huh", "uh huh",
    "uhhuh"). "Mm-hm, okay." -> 0; "okay wait stop" -> 2. ``own_text``: the agent's reply;
    a word it holds is its own echo heard back ("with this" -> 0 while it says "... with
    this ..."; "wait, stop" -> 2).
    """
    t = _words(text)
    for b in sorted(backchannels, key=len, reverse=True):
        parts = [re.escape(p) for p in re.split(r"[-\s]+", b.lower().strip()) if p]
        if parts:
            t = re.sub(r"(?<![\w'-])" + r"[-\s]?".join(parts) + r"(?![\w'-])", " ", t)
    own = {w.strip("-'") for w in _words(own_text).split()}
    return len([w for w in re.split(r"[\s]+", t) if w.strip("-'") and w.strip("-'") not in own])


@dataclass(eq=False)
class _Pending:
    """A paused reply waiting for its barge-in to be confirmed or dismissed."""

    response: Response
    detected_ms: float
    onset_ms: float
    audio: list[np.ndarray]
    speech_ms: float = 0.0
    feedback_only: bool = False  # the last interim transcript held only backchannels
    task: asyncio.Task | None = None
    more: asyncio.Event = field(default_factory=asyncio.Event)


class BargeInMonitor:
    """Watches every microphone frame for a barge-in and cuts (or pauses) the reply in flight.

    Responsibilities:

    1. score every frame with the detector's own VAD (``barge_in.vad_kind``; it sees
       every frame, so its state is current when needed) or, without one, reuse the
       endpointer's probability;
    2. while a reply is playing, feed the :class:`BargeInDetector`; otherwise reset it;
    3. when it fires, log :class:`~voicelab.events.BargeInDetected` and, in ``mode: cut``,
       stop playback at the next output frame and cancel the reply (:meth:`Response.cancel`);
    4. in ``mode: pause_confirm``, pause (or duck) playback at the next output frame
       instead, then either confirm the barge-in (``confirm_ms`` of speech frames after the
       detection, counted on the frames that follow it; or an interim transcript of the
       audio since the onset, with ``vad.speech_pad_ms`` before it, holding ``min_words``
       words that are not backchannels (nor, with ``ignore_own_words``, words of the reply
       generated so far: the agent's own echo): :class:`~voicelab.events.BargeInConfirmed`, then
       cut as in 3) or, unconfirmed on the first frame ending ``resume_after_ms`` after the
       detection, resume playback where it paused.

    Interim transcripts run on the session's STT one after another while the reply is
    paused, each on all the barge-in audio so far. :attr:`decision` resolves to ``"cut"``,
    ``"resumed"`` or ``"ended"`` (the reply played out while ducked); :attr:`dismissed` is
    ``(onset_ms, resumed_ms)`` of the last barge-in dismissed by a resume, or of one whose
    reply ended while ducked after an interim transcript of only backchannels (the listener
    drops a user utterance that overlaps it: feedback, not a turn).
    """

    def __init__(self, ctx: SessionContext, current_response: Callable[[], Response | None]) -> None:
        cfg = ctx.config.barge_in
        self._ctx = ctx
        self._current = current_response
        self.detector = BargeInDetector(cfg, ctx.mic.frame_ms)
        self._vad = make_vad(cfg.vad_kind) if cfg.vad_kind else None
        self._pad_frames = math.ceil(ctx.config.vad.speech_pad_ms / ctx.mic.frame_ms - 1e-9)
        run_frames = math.ceil(max(cfg.min_barge_in_ms, ctx.mic.frame_ms) / ctx.mic.frame_ms - 1e-9)
        self._recent: deque[np.ndarray] = deque(maxlen=run_frames + self._pad_frames)
        self._pending: _Pending | None = None
        self.decision: asyncio.Future | None = None
        self.dismissed: tuple[float, float] | None = None

    def process(self, samples: np.ndarray, endpointer_probability: float) -> None:
        """Feed one 32 ms microphone frame (float32, 16 kHz)."""
        ctx = self._ctx
        if not ctx.config.barge_in.enabled:
            return
        p = self._vad.speech_probability(samples) if self._vad else endpointer_probability
        self._recent.append(samples)
        if self._pending is not None:
            self._follow(self._pending, samples, p)
            return
        r = self._current()
        if r is None or not ctx.speaker.playing:
            self.detector.reset()
            return
        if self.detector.process(p, agent_playing=True):
            run_ms = self.detector.run_ms
            self.detector.reset()
            detected = ctx.clock.now_ms()
            ctx.trace.append(BargeInDetected(detected, r.turn, p))
            if ctx.config.barge_in.mode == "cut":
                ctx.transition(r.turn, ConversationState.SPEAKING, ConversationState.INTERRUPTED)
                self._cut(r, detected)
            else:
                self._pause(r, detected, run_ms)

    def _cut(self, r: Response, at_ms: float) -> None:
        self._ctx.speaker.stop(at_ms)  # within one output frame
        r.cancel()

    def _pause(self, r: Response, detected: float, run_ms: float) -> None:
        ctx, cfg = self._ctx, self._ctx.config.barge_in
        if ctx.speaker.pause(detected, cfg.duck_db) < 0:
            return  # its last audio is sounding: nothing left to pause or cut
        ctx.transition(r.turn, ConversationState.SPEAKING, ConversationState.PAUSED)
        frames = list(self._recent)[-(round(run_ms / ctx.mic.frame_ms) + self._pad_frames):]
        pend = self._pending = _Pending(r, detected, detected - run_ms, frames)
        self.decision = asyncio.get_running_loop().create_future()
        if cfg.min_words is not None:
            pend.task = asyncio.create_task(self._transcribe(pend), name=f"barge-in-stt-{r.turn}")

    def _follow(self, pend: _Pending, samples: np.ndarray, p: float) -> None:
        """One frame while a reply is paused: count speech, confirm or resume."""
        ctx, cfg = self._ctx, self._ctx.config.barge_in
        if self._current() is not pend.response:  # it played out (ducked) meanwhile
            self._settle(pend, "ended")
            if pend.feedback_only:
                self.dismissed = (pend.onset_ms, ctx.clock.now_ms())
            return
        pend.audio.append(samples)
        pend.more.set()
        if self.detector.is_speech(p, agent_playing=ctx.speaker.playing):
            pend.speech_ms += ctx.mic.frame_ms
        now = ctx.clock.now_ms()
        if pend.speech_ms >= cfg.confirm_ms:
            self._confirm(pend, "duration")
        elif now >= pend.detected_ms + cfg.resume_after_ms:
            self._settle(pend, "resumed")
            ctx.speaker.resume(now)
            ctx.transition(pend.response.turn, ConversationState.PAUSED, ConversationState.SPEAKING)
            self.dismissed = (pend.onset_ms, now)

    def _confirm(self, pend: _Pending, by: str) -> None:
        ctx = self._ctx
        now = ctx.clock.now_ms()
        self._settle(pend, "cut")
        ctx.trace.append(BargeInConfirmed(now, pend.response.turn, by))
        ctx.transition(pend.response.turn, ConversationState.PAUSED, ConversationState.INTERRUPTED)
        self._cut(pend.response, now)

    def _settle(self, pend: _Pending, outcome: str) -> None:
        self._pending = None
        self.detector.reset()
        if pend.task is not None and pend.task is not asyncio.current_task():
            pend.task.cancel()
        if outcome == "cut":
            self.dismissed = None
        if self.decision is not None and not self.decision.done():
            self.decision.set_result(outcome)

    async def _transcribe(self, pend: _Pending) -> None:
        """Interim transcripts of the barge-in audio until it is confirmed or dismissed."""
        ctx, cfg = self._ctx, self._ctx.config.barge_in
        while self._pending is pend:
            n_frames = len(pend.audio)
            audio = np.concatenate(pend.audio)
            started = ctx.clock.now_ms()
            text = await ctx.stages.stt.transcribe(audio)
            if self._pending is not pend:
                return
            words = content_words(text, cfg.backchannels, pend.response.text if cfg.ignore_own_words else "")
            ctx.trace.append(BargeInTranscript(ctx.clock.now_ms(), pend.response.turn, text, words,
                                               started, samples_to_ms(len(audio))))
            if words >= cfg.min_words:
                self._confirm(pend, "words")
                return
            pend.feedback_only = words == 0 and bool(text.strip())
            if len(pend.audio) == n_frames:
                pend.more.clear()
                await pend.more.wait()

    async def close(self) -> None:
        """Cancel an interim transcription still running (the session is over)."""
        pend = self._pending
        if pend is not None and pend.task is not None:
            pend.task.cancel()
            await asyncio.gather(pend.task, return_exceptions=True)

    def dismissed_overlaps(self, start_ms: float, end_ms: float) -> bool:
        """Whether user speech ``start_ms..end_ms`` overlaps the last dismissed barge-in."""
        d = self.dismissed
        return d is not None and start_ms <= d[1] and end_ms >= d[0]
