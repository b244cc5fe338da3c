"""A stock Pipecat 1.14 pipeline answering one variant's turns in a voicelab session.

The pipeline is Pipecat's recommended shape::

    MicInputTransport -> WhisperSTTService -> user aggregator (Silero VAD; Smart Turn v3.2
    or silence) -> VoicelabLLMService -> KokoroTTSService -> SpeakerOutputTransport
    -> assistant aggregator

with Pipecat's own context aggregators, VAD, turn strategies, text aggregation and
output chunking. voicelab supplies the transports (its microphone and speaker), the LLM
service (its in-process model) and the measurement: the :class:`FrameTranslator`
observer, and Pipecat's ``UserBotLatencyObserver`` and service metrics recorded as
:class:`~voicelab.events.PeerReported`.

Turn bookkeeping mirrors voicelab's agent: a turn is taken at its first VAD stop
(``handled``), is over when its reply has played (or after ``reply_timeout_ms`` without a
reply), warm-up turns leave no history and do not advance the seed, and with
``llm.history`` off every reply starts from the system prompt.
"""

from __future__ import annotations

import asyncio
import sys

from voicelab.config import ExperimentConfig, Variant
from voicelab.events import StateChanged
from voicelab.peers.pipecat.observer import ENGINE, FrameTranslator
from voicelab.session.peer_engine import PeerSession
from voicelab.session.turns import Stages


class PipecatEngine:
    """One Pipecat pipeline answering the turns of ``variant`` (``engine: pipecat``).

    Raises (from :meth:`start`):
        FileNotFoundError: a model file is missing (Pipecat would download it).
        ImportError: Pipecat is not installed (``pip install 'voicelab[pipecat]'``).
    """

    engine = ENGINE

    def __init__(self, config: ExperimentConfig, variant: Variant, stages: Stages) -> None:
        if variant.engine != ENGINE or variant.pipecat is None:
            raise ValueError(f"variant {variant.name!r} is not a Pipecat variant")
        self.variant = variant.name
        self._config = config
        self._settings = variant.pipecat
        self._stages = stages
        self._session: PeerSession | None = None
        self._live_turns = 0
        self._runner_task: asyncio.Task | None = None
        self._watchdogs: set[asyncio.Task] = set()
        self._replied: set[int] = set()  # turns whose reply audio has started

    # --- the PeerEngine protocol -------------------------------------------------------
    async def start(self, session: PeerSession) -> None:
        """Build the pipeline (loads Whisper, Kokoro, Silero, Smart Turn) and start it."""
        from loguru import logger

        logger.remove()  # Pipecat logs every frame at DEBUG; keep its warnings and errors
        logger.add(sys.stderr, level="WARNING")
        from voicelab.peers.pipecat.pipeline import build_pipeline

        self._session = session
        ctx = session.ctx
        self._translator = FrameTranslator(
            ctx.trace, self._turn, vad_start_s=self._settings.vad_start_secs, vad_stop_s=self._settings.vad_stop_secs,
            token_chunks=self._settings.text_aggregation == "token", on_vad_stop=self._on_vad_stop)
        built = build_pipeline(self._config, self._settings, self._stages, ctx, self._translator,
                               turn_of=self._reply_turn, on_reply=self._on_reply, seed=self._seed)
        self._worker, self._runner, self._input, self._context = built
        await self._runner.add_workers(self._worker)
        self._runner_task = asyncio.create_task(self._runner.run(), name=f"pipecat-{self.variant}")
        ready = asyncio.create_task(self._input.ready.wait())
        await asyncio.wait({ready, self._runner_task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            self._runner_task.result()  # raises what stopped the pipeline
            raise RuntimeError(f"the Pipecat pipeline of {self.variant!r} ended before it started")

    async def run(self) -> None:
        """Feed this engine's microphone into the pipeline until the microphone closes."""
        assert self._session is not None, "start() first"
        async for frame in self._session.frames():
            await self._input.feed(frame.samples)

    async def stop(self) -> None:
        """Cancel the pipeline and every watchdog; flush the last turn's events."""
        for t in self._watchdogs:
            t.cancel()
        await asyncio.gather(*self._watchdogs, return_exceptions=True)
        if self._runner_task is not None:
            await self._worker.cancel()
            await asyncio.gather(self._runner_task, return_exceptions=True)
        self._translator.flush()

    # --- turn bookkeeping ----------------------------------------------------------------
    def _turn(self) -> int:
        """The turn being answered: the scripted user's current turn, if it is this variant's."""
        s = self._session
        turn = s.user.current
        return turn if s.owns(turn, self.variant) else -1

    def _seed(self) -> int:
        return self._config.llm.seed + self._live_turns

    def _on_vad_stop(self, turn: int, t_ms: float) -> None:
        """The turn's speech paused: this engine has taken it; start the reply watchdog."""
        state = self._session.user.states[turn]
        if not state.handled:
            state.handled = True
            self._session.ctx.trace.append(StateChanged(t_ms, turn, "listening", "processing"))
        task = asyncio.create_task(self._reply_watchdog(turn, t_ms + self._settings.reply_timeout_ms))
        self._watchdogs.add(task)
        task.add_done_callback(self._watchdogs.discard)

    async def _reply_watchdog(self, turn: int, deadline_ms: float) -> None:
        """End ``turn`` if no reply plays and the pipeline has been quiet for ``reply_timeout_ms``
        (no transcript, so no LLM call; or a reply without audio)."""
        clock, timeout = self._session.ctx.clock, self._settings.reply_timeout_ms
        while True:
            await clock.sleep_until(deadline_ms)
            if turn in self._replied or self._session.user.states[turn].done.done():
                return
            quiet_since = max(self._translator.last_activity_ms(turn), deadline_ms - timeout)
            if clock.now_ms() >= quiet_since + timeout:
                self._finish(turn)
                return
            deadline_ms = quiet_since + timeout

    def _reply_turn(self) -> int:
        """The turn new reply audio belongs to: the one Pipecat answers, while it is not over
        (-1: late audio of a finished turn, which is not played)."""
        turn = self._translator.replying_turn
        if turn < 0 or self._session.user.states[turn].done.done():
            return -1
        return turn

    def _on_reply(self, turn: int, played: asyncio.Future) -> None:
        """A reply to ``turn`` started playing; the turn is over when it has played."""
        self._replied.add(turn)
        ctx = self._session.ctx
        ctx.trace.append(StateChanged(ctx.clock.now_ms(), turn, "processing", "speaking"))
        played.add_done_callback(lambda _: self._finish(turn))

    def _finish(self, turn: int) -> None:
        """``turn`` is over: flush its events; a warm-up turn (or any, with ``llm.history`` off)
        leaves no history; a live turn advances the seed."""
        user, ctx = self._session.user, self._session.ctx
        state = user.states[turn]
        if state.done.done():
            return
        self._translator.flush()
        ctx.trace.append(StateChanged(ctx.clock.now_ms(), turn, "speaking" if turn in self._replied else "processing",
                                      "idle"))
        if not state.spec.warmup:
            self._live_turns += 1
        if state.spec.warmup or not self._config.llm.history:
            self._context.set_messages(self._config.llm.prompt_prefix())
        state.handled = True
        user.finish(turn)
