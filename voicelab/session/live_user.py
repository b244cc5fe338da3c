"""The user side of a live session: turns are whatever a live user says, opened by the endpointer."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import numpy as np

from voicelab.audio.clips import Clip
from voicelab.config import Variant
from voicelab.events import TurnPlanned
from voicelab.session.context import ConversationState, SessionContext
from voicelab.session.turns import TurnSpec, TurnState
from voicelab.session.user import TurnKeeper


class LiveUser(TurnKeeper):
    """A live user (a WebSocket client, a microphone widget) in place of the scripted one.

    A :class:`~voicelab.session.user.User` like :class:`~voicelab.session.user.ScriptedUser`
    (:attr:`states`, :attr:`current`, :meth:`on_play`, :meth:`finish`, :meth:`run`,
    :meth:`close`, and the endpointer hooks :meth:`speech_started` / :meth:`speech_ended`).
    Responsibilities:

    1. open turn ``n`` when the endpointer hears speech start and the previous turn's
       speech was already taken (or there is none); while the agent speaks, that is a
       barge-in turn;
    2. log :class:`~voicelab.events.TurnPlanned` once the endpoint is decided, with the
       endpointer's padded speech bounds: live there is no ground truth, so voice-to-voice
       here is measured from the VAD's own estimate of the speech end (a client that knows
       the truth measures its own, as ``voicelab bench`` does);
    3. :meth:`run` until :meth:`end` (the client stopped or went away).
    """

    def __init__(self, ctx: SessionContext, variant: Variant, is_responding: Callable[[], bool]) -> None:
        super().__init__(ctx)
        self._variant = variant
        self._is_responding = is_responding
        self._loop = asyncio.get_running_loop()
        self._starts: dict[int, tuple[float, bool]] = {}  # turn -> (padded speech start, barge-in)
        self._ended = asyncio.Event()

    def speech_started(self, t_ms: float, audio_ms: float) -> int:
        """The endpointer heard speech start (padded onset ``audio_ms``): the turn it belongs to."""
        if self.current < 0 or self.states[self.current].handled:
            self.open_turn(audio_ms)
        return self.current

    def open_turn(self, start_ms: float) -> int:
        """Open the next turn, its speech starting at ``start_ms``; return its index."""
        n = len(self.states)
        spec = TurnSpec(Clip.from_array(f"live-{n}", np.zeros(0, dtype=np.float32)), self._variant, False,
                        (start_ms, math.nan))
        self.states.append(TurnState(spec, self._loop.create_future(), self._loop.create_future()))
        barge_in = self._is_responding()
        self._starts[n] = (start_ms, barge_in)
        self.current = n
        if not barge_in:
            self._ctx.transition(n, ConversationState.IDLE, ConversationState.LISTENING)
        return n

    def speech_ended(self, turn: int, audio_ms: float) -> None:
        """The endpoint of ``turn`` is decided (padded speech end ``audio_ms``): log its plan."""
        start, barge_in = self._starts.get(turn, (audio_ms, False))
        self._ctx.trace.append(TurnPlanned(start, turn, f"live-{turn}", self._variant.name, False, audio_ms - start,
                                           start, audio_ms, "", barge_in))

    def set_variant(self, variant: Variant) -> None:
        """Answer turns opened from now on with ``variant`` (a mid-session ``config`` change)."""
        self._variant = variant

    def end(self) -> None:
        """The user is gone: :meth:`run` returns."""
        self._ended.set()

    async def run(self) -> None:
        await self._ended.wait()

    async def close(self) -> None:
        """Nothing to cancel (no watchdogs: a live turn ends when its reply does)."""
