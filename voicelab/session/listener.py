"""The input side of a session: microphone frames -> endpointing -> utterances."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from voicelab.events import SpeechEnded, SpeechStarted
from voicelab.session.barge_in import BargeInMonitor
from voicelab.session.context import SessionContext
from voicelab.session.user import ScriptedUser
from voicelab.vad.endpointing import SpeechEnd, SpeechStart


class MicListener:
    """Feeds every microphone frame to the endpointer and the barge-in monitor.

    Responsibilities:

    1. log :class:`~voicelab.events.SpeechStarted` / :class:`~voicelab.events.SpeechEnded`
       as the endpointer decides them;
    2. queue each user turn's utterance (float32, 16 kHz) once on :attr:`utterances`
       as ``(turn, audio)``; a later endpoint of a turn already taken (speech split by
       a pause) is ignored, and so is an utterance ended while the agent is talking
       without having yielded (a half-duplex agent ignores it; the turn is over);
    3. hand each frame to the barge-in monitor after the endpointer.
    """

    def __init__(self, ctx: SessionContext, user: ScriptedUser, barge_in: BargeInMonitor,
                 is_responding: Callable[[], bool]) -> None:
        self._ctx = ctx
        self._user = user
        self._barge_in = barge_in
        self._is_responding = is_responding
        self.endpointer = ctx.stages.make_endpointer()
        self.utterances: asyncio.Queue[tuple[int, np.ndarray]] = asyncio.Queue()

    async def run(self) -> None:
        """Consume the microphone until it is closed."""
        ctx = self._ctx
        async for frame in ctx.mic.frames():
            for ev in self.endpointer.process(frame.samples):
                if isinstance(ev, SpeechStart):
                    ctx.trace.append(SpeechStarted(ctx.clock.now_ms(), self._user.current, ev.audio_ms))
                elif isinstance(ev, SpeechEnd) and self._user.current >= 0:
                    self._on_utterance(self._user.current, ev, self.endpointer.utterance_audio())
            self._barge_in.process(frame.samples, self.endpointer.last_probability)

    def _on_utterance(self, turn: int, ev: SpeechEnd, audio: np.ndarray) -> None:
        st = self._user.states[turn]
        if st.handled:
            return  # the turn's speech was already taken (e.g. split by a pause)
        st.handled = True
        if self._is_responding() and self._ctx.speaker.playing:
            self._user.finish(turn)  # the agent is talking and did not yield
            return
        ctx = self._ctx
        ctx.trace.append(SpeechEnded(ctx.clock.now_ms(), turn, ev.audio_ms, ev.decided_ms))
        self.utterances.put_nowait((turn, audio))
