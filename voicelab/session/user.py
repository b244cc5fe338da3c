"""The user side of a session: what the agent needs of any user (:class:`User`), and the
scripted scenario played into the microphone (:class:`ScriptedUser`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from voicelab.events import TurnPlanned
from voicelab.session.context import ConversationState, SessionContext
from voicelab.session.turns import TurnSpec, TurnState
from voicelab.units import samples_to_ms

NO_ENDPOINT_GRACE_MS = 3000.0
"""How long after a clip's end (plus ``min_silence_ms``) the agent waits for the
endpointer before it gives up on the turn (logged as a turn with no transcript)."""


@runtime_checkable
class User(Protocol):
    """The user side of a session, as the agent, its microphone listener, the speaker and
    peer engines use it: :class:`ScriptedUser` (a scenario) or
    :class:`~voicelab.session.live_user.LiveUser` (a live client).

    :attr:`states`: one :class:`~voicelab.session.turns.TurnState` per turn so far, by
    index; :attr:`current`: the turn being spoken or spoken last (-1: none yet).
    """

    states: list[TurnState]
    current: int

    def on_play(self, turn: int, request: int, t_ms: float) -> None:
        """The speaker's callback: ``turn``'s reply started playing at ``t_ms`` (session ms)."""
        ...

    def finish(self, turn: int) -> None:
        """``turn`` is over now (reply played, cut off, or no reply)."""
        ...

    def speech_started(self, t_ms: float, audio_ms: float) -> int:
        """The endpointer heard speech start (padded onset ``audio_ms``): the turn it belongs to (or -1)."""
        ...

    def speech_ended(self, turn: int, audio_ms: float) -> None:
        """The endpoint of ``turn`` is decided (padded speech end ``audio_ms``)."""
        ...

    async def run(self) -> None:
        """Play the user's side; return when the session may end."""
        ...

    async def close(self) -> None:
        """Release what :meth:`run` left running (the session is over)."""
        ...


class TurnKeeper:
    """The turns of a session and their futures: the part of :class:`User` both users share.

    Subclasses fill :attr:`states` and keep :attr:`current`; the speaker calls
    :meth:`on_play`, the agent :meth:`finish`.
    """

    def __init__(self, ctx: SessionContext) -> None:
        self._ctx = ctx
        self.states: list[TurnState] = []
        self.current = -1
        """Index of the turn the user is speaking or spoke last (-1: none yet)."""

    def on_play(self, turn: int, request: int, t_ms: float) -> None:
        """The speaker's callback: ``turn``'s reply started playing at ``t_ms``."""
        started = self.states[turn].started
        if not started.done():
            started.set_result(t_ms)

    def finish(self, turn: int) -> None:
        """``turn`` is over now (reply played, cut off, or no reply)."""
        now = self._ctx.clock.now_ms()
        for fut in (self.states[turn].done, self.states[turn].started):
            if not fut.done():
                fut.set_result(now)


class ScriptedUser(TurnKeeper):
    """Plays the scripted user turns into the virtual microphone.

    Responsibilities:

    1. start each turn's clip on time: ``audio.turn_gap_ms`` (or the turn's
       ``offset_ms``) after every earlier turn is over, or, for a barge-in
       (``start: after_agent_starts``), that long after the previous reply started playing;
    2. log :class:`~voicelab.events.TurnPlanned` with the clip's true speech bounds on
       the session clock;
    3. hold each turn's futures (reply started, turn done) and end a turn whose speech
       the endpointer never closed (a watchdog ``NO_ENDPOINT_GRACE_MS`` after the clip).
    """

    def __init__(self, ctx: SessionContext, turns: list[TurnSpec],
                 is_responding: Callable[[], bool]) -> None:
        super().__init__(ctx)
        loop = asyncio.get_running_loop()
        self._is_responding = is_responding
        self.states = [TurnState(t, loop.create_future(), loop.create_future()) for t in turns]
        self._watchdogs: list[asyncio.Task] = []

    async def run(self) -> None:
        """Play every turn; return a turn gap after every turn is over and the microphone is idle."""
        ctx = self._ctx
        cfg, clock = ctx.config, ctx.clock
        next_start = max(cfg.audio.lead_in_ms, cfg.aec.quiet_until_ms())  # after an AEC calibration
        for n, st in enumerate(self.states):
            spec = st.spec
            if n:
                prev = self.states[n - 1]
                gap = cfg.audio.turn_gap_ms if spec.offset_ms is None else spec.offset_ms
                if spec.start == "after_agent_starts":
                    await asyncio.wait({prev.started, prev.done}, return_when=asyncio.FIRST_COMPLETED)
                    base = prev.started.result() if prev.started.done() else prev.done.result()
                else:  # every earlier reply over: one a barge-in talked over can outlast `prev`
                    base = max([await s.done for s in self.states[:n]])
                next_start = max(base, clock.now_ms()) + gap
            await clock.sleep_until(next_start)
            while ctx.mic.busy:
                await asyncio.sleep(ctx.mic.frame_ms / 1000.0)
            start_ms = ctx.mic.play(spec.clip.audio)
            self.current = n
            duration_ms = samples_to_ms(len(spec.clip.audio))
            s0, s1 = spec.speech_bounds_ms
            ctx.trace.append(TurnPlanned(start_ms, n, spec.clip.name, spec.variant.name, spec.warmup,
                                         duration_ms, start_ms + s0, start_ms + s1,
                                         spec.clip.reference_text, spec.start == "after_agent_starts",
                                         spec.backchannel, spec.variant.engine))
            if not self._is_responding():
                ctx.transition(n, ConversationState.IDLE, ConversationState.LISTENING)
            deadline = start_ms + duration_ms + cfg.vad.min_silence_ms + NO_ENDPOINT_GRACE_MS
            self._watchdogs.append(asyncio.create_task(self._no_endpoint_watchdog(n, deadline)))
        if self.states:  # every reply over and the last clip played out
            end = max([await s.done for s in self.states])
            while ctx.mic.busy:
                await asyncio.sleep(ctx.mic.frame_ms / 1000.0)
            await clock.sleep_until(max(end, clock.now_ms()) + cfg.audio.turn_gap_ms)

    async def close(self) -> None:
        """Cancel the watchdogs still waiting."""
        for t in self._watchdogs:
            t.cancel()
        await asyncio.gather(*self._watchdogs, return_exceptions=True)

    def speech_started(self, t_ms: float, audio_ms: float) -> int:
        """The endpointer heard speech start: it belongs to the turn whose clip plays (or -1)."""
        return self.current

    def speech_ended(self, turn: int, audio_ms: float) -> None:
        """The endpoint of ``turn`` is decided: nothing to do, its plan was logged at its clip's start."""

    async def _no_endpoint_watchdog(self, turn: int, deadline_ms: float) -> None:
        """End a turn whose speech the endpointer never closed (logged as no transcript)."""
        await self._ctx.clock.sleep_until(deadline_ms)
        st = self.states[turn]
        if not st.handled:
            st.handled = True
            self.finish(turn)
