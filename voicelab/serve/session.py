"""One client's session on the server: protocol messages in, the live agent, messages and audio out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import numpy as np

from voicelab.audio.stream_mic import StreamMicrophone
from voicelab.config import ConfigError, ExperimentConfig
from voicelab.events import FaultInjected
from voicelab.faults import FaultPlan, FaultySend, InjectedFault
from voicelab.serve.models import ModelManager
from voicelab.serve.persist import SessionRecorder
from voicelab.serve.protocol import (
    ProtocolError,
    decode_base64_pcm,
    decode_pcm16,
    error_message,
    parse_client_message,
    server_message,
)
from voicelab.serve.publish import EventPublisher
from voicelab.session import SessionResult, VoiceAgent
from voicelab.session.context import SessionContext
from voicelab.session.conversation import Conversation
from voicelab.session.live_run import LiveRun
from voicelab.session.live_user import LiveUser
from voicelab.stages import with_config_endpointer
from voicelab.store import ConversationStore, UnknownSession
from voicelab.units import INPUT_RATE

Send = Callable[[str | bytes], Awaitable[None]]
Lookup = Callable[[str], "ServerSession | None"]
HANGUP = object()
"""Queued for an observer after the observed session's last frame: close the connection."""


class ServerSession:
    """Handles one connection's frames (:meth:`receive`) and runs its live agent.

    Outgoing text and audio go through one queue, in order, sent by one task (so a reply's
    ``response_audio`` header always precedes its PCM). The agent runs from ``start`` until
    ``stop`` or :meth:`close` (the client went away: the reply in flight is cancelled with
    the session). ``result`` holds the finished session (trace, audio timelines).

    With a ``store``, the session is persisted as it runs (:class:`SessionRecorder`), and
    ``start`` with a stored ``session_id`` continues that conversation: the LLM answers
    from its stored history.

    Observer mode: a connection whose first message is ``observe`` (a running session's
    id, found with ``lookup``) receives a copy of every frame that session sends, from its
    own queue (a slow observer never holds the session back), until either side leaves;
    ``hangup`` closes the observer's connection when the observed session ends, and the
    client's when a send to it failed (``faults.sink`` injects such failures: the session
    then ends as ``send_failed``; each injected fault is a ``FaultInjected`` trace event once
    the agent runs).
    """

    def __init__(self, manager: ModelManager, send: Send, store: ConversationStore | None = None,
                 lookup: Lookup = lambda session_id: None,
                 hangup: Callable[[], Awaitable[None]] | None = None) -> None:
        self._manager = manager
        self._send = send
        self._store = store
        self._lookup = lookup
        self._hangup = hangup
        self.observers: set[ServerSession] = set()
        self.observing: ServerSession | None = None
        self._recorder: SessionRecorder | None = None
        self.end_reason = "disconnect"
        self._out: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._sender = asyncio.create_task(self._send_loop(), name="sender")
        self.session_id: str | None = None
        self.config: ExperimentConfig | None = None
        self._mic: StreamMicrophone | None = None
        self._agent: VoiceAgent | None = None
        self._live: LiveRun | None = None
        self._started_wall = 0.0
        self._closed = False
        self._trace = None
        self.result: SessionResult | None = None

    # --- frames in ---------------------------------------------------------------------------
    async def receive(self, frame: str | bytes) -> bool:
        """Handle one client frame; False once the client asked to stop."""
        try:
            if isinstance(frame, bytes):
                self._audio(decode_pcm16(frame))
                return True
            msg = parse_client_message(frame)
            return await self._handle(msg)
        except ProtocolError as err:
            self.emit(error_message(err))
        except ConfigError as err:
            self.emit(error_message(ProtocolError("bad_config", str(err))))
        except Exception as err:  # noqa: BLE001 - reported, and the session goes on
            self.emit(error_message(ProtocolError("internal", f"{type(err).__name__}: {err}")))
        return True

    async def _handle(self, msg) -> bool:
        kind = msg.type
        if kind == "ping":
            self.emit(server_message("pong"))
        elif kind == "start":
            await self._start(msg.data.config, msg.data.session_id)
        elif kind == "stop":
            self.end_reason = "stop"
            await self.close()
            return False
        elif kind == "observe":
            self._observe(msg.data.session_id)
        elif self.observing is not None:
            raise ProtocolError("read_only", f"an observer cannot send {kind}")
        elif self._agent is None:
            raise ProtocolError("not_started", f"send start before {kind}")
        elif kind == "config":
            await self._reconfigure(msg.data.config)
        elif kind == "audio":
            self._audio(decode_base64_pcm(msg.data.pcm))
        elif kind == "text":
            await self._running()
            self._agent.submit_text(msg.data.text)
        elif kind == "utterance_end":
            self._agent.end_utterance()
        return True

    @property
    def running(self) -> bool:
        """The agent runs (started, not closed): it can be observed."""
        return self._agent is not None and not self._closed

    def _observe(self, session_id: str) -> None:
        if self.session_id is not None or self.observing is not None:
            raise ProtocolError("bad_field", "observe must be a connection's first message")
        target = self._lookup(session_id)
        if target is None or not target.running:
            raise ProtocolError("unknown_session", f"no running session {session_id!r} to observe")
        self.observing = target
        target.observers.add(self)
        cfg = target.config
        self.emit(server_message("session_started", session_id=session_id, observer=True, input_rate=INPUT_RATE,
                                 output_rate=cfg.audio.speaker_rate, output_dtype="int16"))

    async def _start(self, overrides: dict, session_id: str | None) -> None:
        if self.session_id is not None or self.observing is not None:
            raise ProtocolError("bad_field", "the session has already started")
        config = self._manager.session_config(overrides)
        self.session_id = uuid.uuid4().hex[:12]  # claimed before the await: a second start is refused
        try:
            resumed = await self._resume(session_id)
        except BaseException:
            self.session_id = None
            raise
        if self._closed:  # the client left while the store answered
            return
        if self._store is not None:
            conversation_id = self._store.begin_session(self.session_id, resumed and resumed.conversation_id,
                                                        overrides, resumed_from=session_id)
            self._recorder = SessionRecorder(self._store, self.session_id, conversation_id)
        conversation = Conversation(config.llm, single=True,
                                    on_record=self._recorder.on_messages if self._recorder else None)
        if resumed is not None:
            conversation.restore(resumed.history, resumed.turns)
        self.config = config
        if config.faults.sink is not None:
            plan = FaultPlan("sink", config.faults.sink, config.faults.seed)
            plan.listeners.append(self._log_fault)
            self._send = FaultySend(self._send, plan)
        self._mic = StreamMicrophone()
        self._agent = VoiceAgent(config, self._manager.stages_for(config))
        self._live = LiveRun(self._agent, self._mic, self._on_start, conversation)
        self._started_wall = time.monotonic()
        self.emit(server_message("session_started", session_id=self.session_id,
                                 conversation_id=self._recorder.conversation_id if self._recorder else None,
                                 resumed_turns=resumed.turns if resumed else 0, input_rate=INPUT_RATE,
                                 output_rate=config.audio.speaker_rate, output_dtype="int16"))

    async def _resume(self, session_id: str | None):
        """The stored conversation ``session_id`` belongs to (None for a new one).

        Raises:
            ProtocolError: ``unknown_session`` (not stored, or this server stores nothing).
        """
        if session_id is None:
            return None
        if self._store is None:
            raise ProtocolError("unknown_session", "this server stores no conversations (it runs without --db)")
        try:
            return await asyncio.wrap_future(self._store.resume(session_id))
        except UnknownSession:
            raise ProtocolError("unknown_session", f"no stored session {session_id!r}") from None

    async def _running(self) -> None:
        """Make sure the session clock runs: it starts with the first audio, so a client that
        types before it speaks starts it with one silent 32 ms frame."""
        if not self._live.started:
            self._mic.push(np.zeros(512, dtype=np.float32))
            await self._live.wait_started()

    async def _reconfigure(self, overrides: dict) -> None:
        """A mid-session ``config``: trigger, barge-in and speculation apply from the next reply,
        VAD settings from the next utterance (the endpointer is rebuilt between utterances).

        Raises:
            ConfigError: bad overrides, or VAD settings while the user is speaking.
        """
        config = self._manager.session_config(overrides, self.config)
        await self._running()
        try:
            # the session's stages with the new endpointer; its fault wrappers (and their
            # request counts) stay
            self._agent.reconfigure(config, with_config_endpointer(self._agent.stages, config))
        except RuntimeError as err:
            raise ConfigError(str(err)) from None
        self.config = config

    def _audio(self, samples: np.ndarray) -> None:
        if self._mic is None:
            raise ProtocolError("not_started", "send start before audio")
        if not self._closed:  # audio still in flight when the session closes is dropped
            self._mic.push(samples)

    def _on_start(self, user: LiveUser, ctx: SessionContext) -> None:
        recorder = self._recorder
        if recorder is not None:
            ctx.trace.listeners.append(recorder.on_event)
        # trace events and reply segments -> protocol frames (voicelab.live's updates, encoded)
        EventPublisher(self.emit, self.config.llm.max_new_tokens, self.config.barge_in.min_barge_in_ms,
                       on_turn=recorder.on_turn if recorder else None).attach(ctx)
        self._trace, self._clock = ctx.trace, ctx.clock

    def _log_fault(self, stage: str, request: int, kind: str) -> None:
        if self._trace is not None:  # frames sent before the agent's clock starts are not traced
            self._trace.append(FaultInjected(self._clock.now_ms(), stage, request, kind))

    # --- frames out ----------------------------------------------------------------------------
    def emit(self, frame: str | bytes) -> None:
        """Queue a frame for the client and every observer (never blocks the audio path)."""
        self._out.put_nowait(frame)
        for observer in self.observers:
            observer._out.put_nowait(frame)

    async def _send_loop(self) -> None:
        while (frame := await self._out.get()) is not None:
            if frame is HANGUP:
                if self._hangup is not None:
                    await self._hangup()
                continue
            try:
                await self._send(frame)
            except Exception as err:  # noqa: BLE001 - the client is gone: drop what is left, the session closes
                if isinstance(err, InjectedFault):
                    self.end_reason = "send_failed"
                if self._hangup is not None:  # a connection still open is closed (its receive loop ends)
                    await self._hangup()
                return

    # --- the end -------------------------------------------------------------------------------
    async def close(self) -> None:
        """End the session (stop, disconnect or server shutdown): the reply in flight is
        cancelled, every task ends, ``session_ended`` is sent if the client is still there."""
        if self._closed:
            return
        self._closed = True
        if self.observing is not None:
            self.observing.observers.discard(self)
        if self._live is not None and not self._live.task.done():
            try:
                self.result = await self._live.stop()
            except Exception as err:  # noqa: BLE001 - reported to the client, the server goes on
                self.emit(error_message(ProtocolError("internal", f"the session failed: {err!r}")))
        if self._agent is not None:
            if self._agent.stages.tts is not self._manager.stages.tts:  # the session's own (failing) TTS
                self._agent.stages.tts.close()
            duration = time.monotonic() - self._started_wall
            if self._recorder is not None:
                self._recorder.end(self.end_reason, duration)
            self.emit(server_message("session_ended", session_id=self.session_id, duration_s=duration))
        for observer in list(self.observers):  # their connections end with the session, after its last frame
            observer.observing = None
            observer._out.put_nowait(HANGUP)
        self.observers.clear()
        self._out.put_nowait(None)
        await asyncio.gather(self._sender, return_exceptions=True)
