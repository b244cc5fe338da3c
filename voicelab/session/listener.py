"""The input side of a session: microphone frames -> endpointing -> utterances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np

from voicelab.audio.mic import MicFrame
from voicelab.events import SpeechEnded, SpeechPaused, SpeechStarted, TurnPredicted
from voicelab.session.barge_in import BargeInMonitor
from voicelab.session.context import SessionContext
from voicelab.session.echo_cancel import AECFrontEnd
from voicelab.session.speculation import Speculation, Speculator
from voicelab.session.user import User
from voicelab.units import samples_to_ms
from voicelab.vad.endpointing import SpeechEnd, SpeechPause, SpeechResumed, SpeechStart, SpeechTentativeEnd


class MicListener:
    """Feeds every microphone frame to the endpointer and the barge-in monitor.

    With echo cancellation (``aec.kind``) each frame first passes through the
    :class:`~voicelab.session.echo_cancel.AECFrontEnd`: every consumer hears the cleaned
    audio (the endpointer, hence STT, and the barge-in detector).

    Responsibilities:

    1. log :class:`~voicelab.events.SpeechStarted` / :class:`~voicelab.events.SpeechEnded`
       as the endpointer decides them;
    2. queue each user turn's utterance (float32, 16 kHz) once on :attr:`utterances`
       as ``(turn, audio)``; a later endpoint of a turn already taken (speech split by
       a pause) is ignored, and so is an utterance ended while the agent is talking
       without having yielded (a half-duplex agent ignores it; the turn is over);
    3. with a turn detector (``vad.turn_detector``): at each pause
       (:class:`~voicelab.vad.endpointing.SpeechPause`) ask it whether the utterance so far
       is complete (a concurrent task: frames keep flowing meanwhile); if it is and the
       user is still silent, end the turn there
       (:meth:`~voicelab.vad.endpointing.Endpointer.confirm_end`); otherwise the endpointer
       ends it after ``max_silence_ms``;
    4. with speculation (``speculate.enabled``): at a tentative end
       (:class:`~voicelab.vad.endpointing.SpeechTentativeEnd`) start a speculative reply
       if the agent is idle; at the endpoint commit it (instead of queueing the
       utterance); when speech resumes, discard it (:class:`~voicelab.session.speculation.Speculator`);
    5. hand each frame to the barge-in monitor after the endpointer;
    6. with ``barge_in.mode: pause_confirm``: hold an utterance that ended while the reply
       is paused until the monitor decides; answer it if the reply was cut, drop it (the
       turn ends unanswered, like listener feedback "mm-hm") if the reply resumed, or if it
       overlaps a barge-in dismissed earlier.

    :attr:`utterances` yields ``(turn, audio)`` to answer, or a committed
    :class:`~voicelab.session.speculation.Speculation` whose answer is already running.
    """

    def __init__(self, ctx: SessionContext, user: User, barge_in: BargeInMonitor,
                 is_responding: Callable[[], bool], speculator: Speculator,
                 is_busy: Callable[[], bool], aec: AECFrontEnd | None = None,
                 frames: Callable[[], AsyncIterator[MicFrame]] | None = None) -> None:
        """``frames``: the microphone as this agent hears it (default ``ctx.mic.frames``;
        with peer engines, :meth:`voicelab.session.peer_engine.MicRouter.frames`)."""
        self._ctx = ctx
        self._frames = frames or ctx.mic.frames
        self._aec = aec
        self._speculator = speculator
        self._is_busy = is_busy
        self._user = user
        self._barge_in = barge_in
        self._is_responding = is_responding
        self.endpointer = ctx.stages.make_endpointer()
        self.utterances: asyncio.Queue[tuple[int, np.ndarray] | Speculation] = asyncio.Queue()
        self._detector = ctx.stages.turn_detector if ctx.config.vad.turn_detector != "none" else None
        if ctx.config.vad.turn_detector != "none" and self._detector is None:
            raise ValueError(f"vad.turn_detector={ctx.config.vad.turn_detector!r} but the stages have no "
                             "turn detector (voicelab.stages.load_stages loads it)")
        self._pause = 0  # counts pauses, so a late verdict cannot end a later one
        self._speech_start_ms = 0.0  # padded start of the utterance in progress
        self.judging: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Consume the microphone until it is closed."""
        ctx = self._ctx
        async for frame in self._frames():
            if self._aec is not None:
                frame = self._aec.process(frame)
            for ev in self.endpointer.process(frame.samples):
                if isinstance(ev, SpeechStart):
                    self._speech_start_ms = ev.audio_ms
                    now = ctx.clock.now_ms()
                    ctx.trace.append(SpeechStarted(now, self._user.speech_started(now, ev.audio_ms), ev.audio_ms))
                elif isinstance(ev, SpeechEnd) and self._user.current >= 0:
                    self._on_utterance(self._user.current, ev, self.endpointer.utterance_audio())
                elif isinstance(ev, SpeechPause) and self._user.current >= 0:
                    self._on_pause(self._user.current, ev)
                elif isinstance(ev, SpeechTentativeEnd) and self._user.current >= 0:
                    self._on_tentative_end(self._user.current)
                elif isinstance(ev, SpeechResumed):
                    self._pause += 1
                    self._speculator.discard()
            self._barge_in.process(frame.samples, self.endpointer.last_probability)

    def force_end(self) -> bool:
        """Client-side endpointing (``utterance_end``): end the user's utterance now.
        False if there is none in progress (nothing to end)."""
        ev = self.endpointer.force_end()
        if ev is None or self._user.current < 0:
            return False
        self._on_utterance(self._user.current, ev, self.endpointer.utterance_audio())
        return True

    def _on_tentative_end(self, turn: int) -> None:
        """Start a speculative reply if nothing else is in flight."""
        if (self._user.states[turn].handled or not self._speculator.can_start() or self._is_responding()
                or self._is_busy() or not self.utterances.empty()):
            return
        self._speculator.start(turn, self.endpointer.speech_so_far())

    def _on_pause(self, turn: int, ev: SpeechPause) -> None:
        ctx = self._ctx
        self._pause += 1
        ctx.trace.append(SpeechPaused(ctx.clock.now_ms(), turn, ev.audio_ms, ev.decided_ms))
        if self._user.states[turn].handled:
            return  # the rest of a turn already answered: nothing to decide
        task = asyncio.create_task(self._judge(turn, self._pause, self.endpointer.pending_audio()))
        self.judging.add(task)
        task.add_done_callback(self.judging.discard)

    async def _judge(self, turn: int, pause: int, audio: np.ndarray) -> None:
        """Ask the turn detector about the paused utterance; end the turn if complete."""
        ctx = self._ctx
        asked = ctx.clock.now_ms()
        try:
            p = float(await self._detector.judge(audio))
        except Exception:  # noqa: BLE001 - a failing detector must not end the session; max_silence_ms ends the turn
            p = float("nan")
        complete = p > ctx.config.vad.turn_threshold  # strictly above, as pipecat decides
        ctx.trace.append(TurnPredicted(ctx.clock.now_ms(), turn, p, complete, asked, samples_to_ms(len(audio))))
        if complete and pause == self._pause and self.endpointer.paused:
            self._on_utterance(turn, self.endpointer.confirm_end(), self.endpointer.utterance_audio())

    def _on_utterance(self, turn: int, ev: SpeechEnd, audio: np.ndarray) -> None:
        st = self._user.states[turn]
        if st.handled:
            return  # the turn's speech was already taken (e.g. split by a pause)
        st.handled = True
        decision = self._barge_in.decision
        if decision is not None and not decision.done():  # the reply is paused: wait for the verdict
            task = asyncio.create_task(self._after_verdict(turn, ev, audio, self._speech_start_ms, decision))
            self.judging.add(task)
            task.add_done_callback(self.judging.discard)
            return
        self._take(turn, ev, audio)

    async def _after_verdict(self, turn: int, ev: SpeechEnd, audio: np.ndarray, start_ms: float,
                             decision: asyncio.Future) -> None:
        await decision
        self._take(turn, ev, audio, start_ms)

    def _take(self, turn: int, ev: SpeechEnd, audio: np.ndarray, start_ms: float | None = None) -> None:
        start_ms = self._speech_start_ms if start_ms is None else start_ms
        if (self._barge_in.dismissed_overlaps(start_ms, ev.audio_ms)
                or self._is_responding() and self._ctx.speaker.playing):
            self._user.finish(turn)  # feedback the agent talked over, or it is talking and did not yield
            return
        ctx = self._ctx
        ctx.trace.append(SpeechEnded(ctx.clock.now_ms(), turn, ev.audio_ms, ev.decided_ms))
        self._user.speech_ended(turn, ev.audio_ms)
        committed = self._speculator.commit(turn)
        self.utterances.put_nowait(committed or (turn, audio))
