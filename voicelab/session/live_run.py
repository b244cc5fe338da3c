"""A live session as a task: a :class:`VoiceAgent` answering a :class:`StreamMicrophone`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from voicelab.audio.stream_mic import StreamMicrophone
from voicelab.session.agent import VoiceAgent
from voicelab.session.context import SessionContext
from voicelab.session.conversation import Conversation
from voicelab.session.live_user import LiveUser
from voicelab.session.turns import SessionResult


class LiveRun:
    """Starts ``agent.run_live(mic)`` at once (on the running loop) and stops it on demand.

    ``on_start(user, ctx)``: as in :meth:`VoiceAgent.run_live` (hook the trace's listeners
    and the speaker's ``on_segment`` there). The session's clock starts with the first
    sample pushed into ``mic``; :meth:`stop` works before that too (the session then starts
    and ends at once). Used by ``voicelab serve`` (one per connection) and the notebook's
    hands-free agent.
    """

    def __init__(self, agent: VoiceAgent, mic: StreamMicrophone,
                 on_start: Callable[[LiveUser, SessionContext], None] | None = None,
                 conversation: Conversation | None = None) -> None:
        self.agent, self.mic = agent, mic
        self.user: LiveUser | None = None
        self.result: SessionResult | None = None
        self._on_start = on_start
        self._ready = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(
            agent.run_live(mic, on_start=self._started, conversation=conversation), name="agent")

    def _started(self, user: LiveUser, ctx: SessionContext) -> None:
        self.user = user
        if self._on_start is not None:
            self._on_start(user, ctx)
        self._ready.set()

    @property
    def started(self) -> bool:
        """The session runs (its first sample arrived)."""
        return self._ready.is_set()

    async def wait_started(self) -> None:
        await self._ready.wait()

    async def stop(self) -> SessionResult:
        """End the session: the reply in flight is cancelled, every task ends; its result.

        Raises:
            Exception: whatever made the session fail.
        """
        if self.result is not None:
            return self.result
        self.mic.close()  # a session that never heard audio starts now, to end at once
        ready = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait({ready, self.task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self.user is not None:
            self.user.end()
        self.result = await self.task
        return self.result
