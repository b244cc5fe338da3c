"""One run of a :class:`~voicelab.session.agent.VoiceAgent`: the parts it builds per run, its
tasks by name, and how it answers an utterance."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from voicelab.config import ExperimentConfig
from voicelab.events import SpeechEnded, STTStarted, TranscriptFinal, TurnFailed
from voicelab.session.barge_in import BargeInMonitor
from voicelab.session.context import ConversationState, SessionContext
from voicelab.session.conversation import Conversation
from voicelab.session.echo_cancel import AECFrontEnd
from voicelab.session.listener import MicListener
from voicelab.session.live_user import LiveUser
from voicelab.session.peer_engine import VOICELAB, MicRouter, PeerEngine, PeerSession
from voicelab.session.response import Response, ResponseStreamer
from voicelab.session.speculation import Speculation, Speculator
from voicelab.session.turns import Stages
from voicelab.session.user import User
from voicelab.units import samples_to_ms

MakeUser = Callable[[SessionContext, Callable[[], bool]], User]
"""Builds a run's user from its context and ``is_responding()`` (a reply is in flight)."""


@dataclass
class SessionTasks:
    """The tasks of one run, by name (each task carries the same name).

    ``mic``: the microphone listener; ``speaker``: the virtual speaker's playback; ``agent``:
    the loop answering utterances; with peer engines, ``router`` (the microphone routed by
    turn) and one task per peer (``peer-<variant>``).
    """

    mic: asyncio.Task
    speaker: asyncio.Task
    agent: asyncio.Task
    router: asyncio.Task | None = None
    peers: list[asyncio.Task] = field(default_factory=list)

    @property
    def supervised(self) -> list[asyncio.Task]:
        """The tasks the session cannot go on without: ``mic``, ``speaker``, ``agent``."""
        return [self.mic, self.speaker, self.agent]

    def all(self) -> list[asyncio.Task]:
        """Every task of the run."""
        return [*self.supervised, *([self.router] if self.router is not None else []), *self.peers]


class RunningSession:
    """Everything one run of a :class:`~voicelab.session.agent.VoiceAgent` creates and runs.

    Responsibilities:

    1. build the run's parts on ``ctx`` in order: the response streamer, the user
       (``make_user``; it hears the speaker's ``on_play``), the barge-in monitor, the
       speculator, with peers the microphone router, and the microphone listener;
    2. start the peer engines (:meth:`start_peers`, before t = 0) and the run's tasks
       (:meth:`start_tasks`, named fields of :class:`SessionTasks`);
    3. answer utterances one at a time (:meth:`agent_loop`, :meth:`answer`) from
       ``conversation``, and take a live session's typed turns (:meth:`submit_text`) and new
       settings (:meth:`reconfigure`);
    4. :meth:`stop` every part and task by name once the user's side is over.

    :attr:`running` is True from :meth:`start_tasks` until :meth:`stop`.
    """

    def __init__(self, ctx: SessionContext, make_user: MakeUser, conversation: Conversation,
                 aec: AECFrontEnd | None = None, peers: Sequence[PeerEngine] = ()) -> None:
        self.ctx = ctx
        self.aec = aec
        self.conversation = conversation
        self.peers = list(peers)
        self.streamer = ResponseStreamer(ctx)
        self.user: User = make_user(ctx, self.is_responding)
        ctx.speaker.on_play = self.user.on_play
        self.barge_in = BargeInMonitor(ctx, self.current_response)
        self.busy = False  # the agent loop is answering (or has utterances queued)
        self.speculator = Speculator(ctx, self.answer, self.current_response)
        self.router = self._route()
        self.listener = MicListener(ctx, self.user, self.barge_in, self.is_responding, self.speculator,
                                    lambda: self.busy, aec,
                                    self.router.frames(VOICELAB) if self.router is not None else None)
        self.tasks: SessionTasks | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        """The run's tasks have started and :meth:`stop` has not been called."""
        return self.tasks is not None and not self._stopped

    def current_response(self) -> Response | None:
        """The reply being generated or played (None between replies)."""
        return self.streamer.current

    def is_responding(self) -> bool:
        return self.streamer.current is not None

    def _route(self) -> MicRouter | None:
        """With peers, the microphone routed to the engine of the current turn's variant."""
        if not self.peers:
            return None
        peers = {p.variant for p in self.peers}
        user = self.user

        def owner() -> str:
            turn = user.current
            name = user.states[turn].spec.variant.name if turn >= 0 else VOICELAB
            return name if name in peers else VOICELAB
        return MicRouter(self.ctx.mic, [VOICELAB, *peers], owner)

    async def start_peers(self) -> None:
        """Start every peer engine (models load before t = 0); if one fails, stop those started.

        Raises:
            Exception: whatever a peer's ``start`` raised.
        """
        started: list[PeerEngine] = []
        try:
            for peer in self.peers:
                await peer.start(PeerSession(self.ctx, self.user, self.router.frames(peer.variant)))
                started.append(peer)
        except BaseException:
            await asyncio.gather(*(p.stop() for p in started), return_exceptions=True)
            raise

    def start_tasks(self) -> SessionTasks:
        """Start the microphone listener, the speaker, the agent loop and (with peers) the
        router and the peers' runs, on the running loop."""
        router = self.router
        self.tasks = SessionTasks(
            mic=asyncio.create_task(self.listener.run(), name="mic"),
            speaker=asyncio.create_task(self.ctx.speaker.run(), name="speaker"),
            agent=asyncio.create_task(self.agent_loop(), name="agent"),
            router=asyncio.create_task(router.run(), name="mic-router") if router is not None else None,
            peers=[asyncio.create_task(p.run(), name=f"peer-{p.variant}") for p in self.peers])
        return self.tasks

    async def stop(self) -> None:
        """End the run: wind down a speculation and a barge-in transcription, close the
        microphone (the ``mic`` and ``router`` tasks end), cancel the ``agent`` task (the reply
        in flight), stop the peers, close the speaker (the ``speaker`` task ends), then wait for
        every task, turn judgement and the user's :meth:`~User.close`; close the canceller."""
        self._stopped = True
        tasks = self.tasks
        await self.speculator.close()
        await self.barge_in.close()
        self.ctx.mic.close()
        if tasks is not None:
            tasks.agent.cancel()
        await asyncio.gather(*(p.stop() for p in self.peers), return_exceptions=True)
        self.ctx.speaker.close()
        await asyncio.gather(*(tasks.all() if tasks is not None else ()), *self.listener.judging, self.user.close(),
                             return_exceptions=True)
        if self.aec is not None:
            self.aec.close(self.ctx.clock.now_ms())

    async def agent_loop(self) -> None:
        """Answer the listener's utterances one at a time, forever (the ``agent`` task)."""
        utterances = self.listener.utterances
        while True:
            item = await utterances.get()
            self.busy = True
            try:
                if isinstance(item, Speculation):  # committed: its answer is already running
                    await asyncio.gather(item.task, return_exceptions=True)
                else:
                    await self.speculator.settled()  # a discarded reply has wound down
                    await self.answer(*item)
            finally:
                self.busy = not utterances.empty()

    def submit_text(self, text: str) -> int:
        """A live session's typed user turn: answered like speech, without STT. Returns its turn.

        Raises:
            RuntimeError: the user is not a :class:`~voicelab.session.live_user.LiveUser`.
        """
        user = self.user
        if not isinstance(user, LiveUser):
            raise RuntimeError("typed turns need a live session (VoiceAgent.run_live)")
        ctx = self.ctx
        now = ctx.clock.now_ms()
        turn = user.open_turn(now)
        user.states[turn].handled = True
        ctx.trace.append(SpeechEnded(now, turn, now, now))
        user.speech_ended(turn, now)
        self.listener.utterances.put_nowait((turn, text))
        return turn

    def reconfigure(self, config: ExperimentConfig, stages: Stages) -> None:
        """New settings for this run (see :meth:`VoiceAgent.reconfigure`).

        Raises:
            RuntimeError: VAD settings changed while the user is speaking (nothing changed then).
        """
        listener = self.listener
        if config.vad != self.ctx.config.vad:
            if listener.endpointer.in_speech:
                raise RuntimeError("vad settings can change between utterances only (the user is speaking)")
            listener.endpointer = stages.make_endpointer()
        self.ctx.config, self.ctx.stages = config, stages
        if isinstance(self.user, LiveUser):
            self.user.set_variant(config.resolved_variants()[0])

    async def answer(self, turn: int, utterance: np.ndarray | str, speculation: Speculation | None = None) -> None:
        """Transcribe one utterance (float32 16 kHz, or a typed one, ``str``) and speak the
        reply; the turn is over afterwards.

        A speculative answer (``speculation`` set) holds its audio until the endpoint
        commits it; discarded, it returns without touching the history or the turn.
        """
        ctx, user = self.ctx, self.user
        clock, trace = ctx.clock, ctx.trace
        spec = user.states[turn].spec
        if speculation is None:
            ctx.transition(turn, ConversationState.LISTENING, ConversationState.PROCESSING)
        if isinstance(utterance, str):
            text = utterance
        else:
            trace.append(STTStarted(clock.now_ms(), turn, samples_to_ms(len(utterance))))
            try:
                text = await ctx.stages.stt.transcribe(utterance)
            except Exception as err:  # noqa: BLE001 - the turn is lost, the agent keeps listening
                trace.append(TurnFailed(clock.now_ms(), turn, "stt", f"{type(err).__name__}: {err}"))
                text = ""
        trace.append(TranscriptFinal(clock.now_ms(), turn, text))
        if not text:
            if speculation is not None:
                await speculation.committed  # cancelled if discarded
            ctx.transition(turn, ConversationState.PROCESSING, ConversationState.IDLE)
            user.finish(turn)
            return
        name = spec.variant.name
        seed = self.conversation.seed(name)
        messages = self.conversation.messages(name, text)
        held = speculation is not None and not speculation.committed.done()  # committed during STT: play
        said, interrupted = await self.streamer.respond(turn, spec.variant, messages, seed, held=held)
        if speculation is not None and speculation.discarded:
            return
        self.conversation.record(name, text, said, spec.warmup, turn)
        ctx.transition(turn, ConversationState.INTERRUPTED if interrupted else ConversationState.SPEAKING,
                       ConversationState.IDLE)
        user.finish(turn)
