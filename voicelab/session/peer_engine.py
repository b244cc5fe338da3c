"""Peer engines: another framework's agent answering some variants' turns in the same session.

A peer (e.g. a stock Pipecat pipeline, :mod:`voicelab.peers.pipecat`) shares the
session's clock, trace, scripted user, microphone and speaker with voicelab's own agent,
so every engine is measured by the same acoustic truth: the clip's true speech end on
the microphone timeline and the first played sample on the speaker's. The microphone is
routed by turn (:class:`MicRouter`): the engine whose variant owns the current turn hears
the microphone, every other engine hears digital silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from voicelab.audio.mic import MicFrame, VirtualMicrophone
from voicelab.session.context import SessionContext
from voicelab.session.user import User

VOICELAB = "voicelab"
"""The engine name of voicelab's own agent core (a variant's default ``engine``)."""


@dataclass
class PeerSession:
    """What a peer engine gets of the session it answers turns in.

    ``ctx``: clock, trace, config, microphone and speaker (shared with every engine);
    ``user``: the scripted user (``user.current`` is the turn being spoken or last spoken;
    a peer marks a turn ``handled`` when it takes it and calls ``user.finish(turn)`` when
    its reply has played, or when it gives up on the turn); ``frames``: the microphone as
    this peer hears it (silence during other engines' turns).
    """

    ctx: SessionContext
    user: User
    frames: Callable[[], AsyncIterator[MicFrame]]

    def owns(self, turn: int, variant: str) -> bool:
        """True when ``turn`` exists and is answered by the variant named ``variant``."""
        return 0 <= turn < len(self.user.states) and self.user.states[turn].spec.variant.name == variant


class PeerEngine(Protocol):
    """An agent from another framework, answering the turns of one variant.

    ``variant``: the variant name it answers. :meth:`start` builds and starts it (models are
    loaded before the session clock starts, so loading is never on a turn's clock);
    :meth:`run` answers its turns until :meth:`stop`; :meth:`stop` ends it and releases
    every task it started.
    """

    variant: str

    async def start(self, session: PeerSession) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


class MicRouter:
    """Fans the one microphone out to several engines, by who owns the current turn.

    ``owner()`` names the engine answering the turn the user is speaking (or spoke last);
    that engine gets each frame as captured, every other engine the same frame zeroed
    (``user_audio`` False). Every engine gets every frame, so each keeps its own pace.
    Frames are delivered through unbounded queues on the event loop (no extra latency
    beyond one loop iteration).
    """

    def __init__(self, mic: VirtualMicrophone, engines: list[str], owner: Callable[[], str]) -> None:
        self._mic = mic
        self._owner = owner
        self._queues: dict[str, asyncio.Queue[MicFrame | None]] = {e: asyncio.Queue() for e in engines}

    async def run(self) -> None:
        """Consume the microphone until it is closed; then end every engine's stream."""
        try:
            async for frame in self._mic.frames():
                owner = self._owner()
                silent = None
                for engine, q in self._queues.items():
                    if engine == owner:
                        q.put_nowait(frame)
                    else:
                        if silent is None:
                            silent = replace(frame, samples=np.zeros_like(frame.samples), user_audio=False)
                        q.put_nowait(silent)
        finally:
            for q in self._queues.values():
                q.put_nowait(None)

    def frames(self, engine: str) -> Callable[[], AsyncIterator[MicFrame]]:
        """The frame source of ``engine`` (call it once, iterate it once).

        Raises:
            KeyError: ``engine`` was not given to the router.
        """
        q = self._queues[engine]

        async def source() -> AsyncIterator[MicFrame]:
            while (frame := await q.get()) is not None:
                yield frame
        return source
