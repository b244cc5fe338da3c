"""The orchestrator: one full-duplex voice-agent session on one session clock.

It owns concurrency and nothing else: stages do the work, the trace records it,
:mod:`voicelab.measure.metrics` measures it afterwards. Its parts, one module each:
one run's parts and tasks (:mod:`~voicelab.session.running`), the user side
(:mod:`~voicelab.session.user`), the input side
(:mod:`~voicelab.session.listener`), barge-in (:mod:`~voicelab.session.barge_in`),
response streaming (:mod:`~voicelab.session.response`) with its TTS worker
(:mod:`~voicelab.session.tts_worker`), and the conversation memory
(:mod:`~voicelab.session.conversation`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from voicelab.aec import make_echo_canceller
from voicelab.audio.degrade import speech_rms
from voicelab.audio.echo_path import EchoPathInfo, make_echo_path
from voicelab.audio.mic import VirtualMicrophone
from voicelab.audio.speaker import VirtualSpeaker
from voicelab.audio.stream_mic import StreamMicrophone
from voicelab.clock import SessionClock
from voicelab.config import ExperimentConfig, Variant
from voicelab.events import AECCalibration, EchoPathConfigured, Event, FaultInjected, Trace, TTSRestarted
from voicelab.session.context import SessionContext
from voicelab.session.conversation import Conversation
from voicelab.session.echo_cancel import AECFrontEnd
from voicelab.session.live_user import LiveUser
from voicelab.session.peer_engine import VOICELAB, PeerEngine
from voicelab.session.response import Response
from voicelab.session.running import MakeUser, RunningSession
from voicelab.session.turns import SessionResult, Stages, TurnSpec
from voicelab.session.user import ScriptedUser
from voicelab.tts.supervised import SupervisedTTS
from voicelab.units import INPUT_RATE, ms_to_samples


class VoiceAgent:
    """Runs user turns through VAD/endpointing -> STT -> LLM -> trigger -> TTS -> speaker.

    Responsibilities:

    1. build one session (clock, trace, virtual microphone with the agent's echo and
       noise mixed in, virtual speaker) and wire its parts together;
    2. answer utterances one at a time: transcribe, then stream the reply
       (:class:`~voicelab.session.response.ResponseStreamer`) from the variant's
       conversation (:class:`~voicelab.session.conversation.Conversation`); the parts and
       tasks of one run live in a :class:`~voicelab.session.running.RunningSession`;
    3. run the microphone, the speaker and the agent concurrently while the user
       (:class:`~voicelab.session.user.ScriptedUser`, or live a
       :class:`~voicelab.session.live_user.LiveUser`) plays its turns, then shut every task
       down and return the trace and both audio timelines; if the microphone, speaker or
       agent task fails first, the run ends with :class:`SessionError`;
    4. with peer engines (other frameworks' agents, :mod:`voicelab.session.peer_engine`): start
       them before t = 0, route the microphone to the engine of the current turn's variant
       (:class:`~voicelab.session.peer_engine.MicRouter`), and stop them with the session.

    After :meth:`run` has started, :attr:`context` holds the session's shared parts
    and :attr:`responding` the reply in flight; :meth:`submit_text`, :meth:`reconfigure`
    need a running session (``RuntimeError`` before :meth:`run_live` or after it returned).
    """

    def __init__(self, config: ExperimentConfig, stages: Stages, peers: Sequence[PeerEngine] = ()) -> None:
        """``peers``: engines of other frameworks answering their variants' turns in the same
        session (see :mod:`voicelab.session.peer_engine`); the other turns are voicelab's.

        Raises:
            ValueError: two peers answer the same variant, or a peer's variant is named ``voicelab``.
        """
        self.config = config
        self.stages = stages
        self.peers = list(peers)
        names = [p.variant for p in self.peers]
        if len(set(names)) != len(names) or VOICELAB in names:
            raise ValueError(f"peer engines need distinct variants not named {VOICELAB!r}: {names}")
        self._session: RunningSession | None = None  # the latest run (kept once it is over)

    @property
    def context(self) -> SessionContext | None:
        """The shared parts of the latest session (None before :meth:`run` / :meth:`run_live`)."""
        return None if self._session is None else self._session.ctx

    @property
    def responding(self) -> Response | None:
        """The reply being generated or played (None between replies, and outside a session)."""
        return None if self._session is None else self._session.current_response()

    @property
    def speaker(self) -> VirtualSpeaker:
        """The latest session's virtual speaker.

        Raises:
            RuntimeError: no session has started yet.
        """
        if self._session is None:
            raise RuntimeError("VoiceAgent.speaker is set by run() / run_live(); no session has started yet")
        return self._session.ctx.speaker

    async def run(self, turns: list[TurnSpec], listeners: Sequence[Callable[[Event], None]] = ()) -> SessionResult:
        """Play ``turns`` in order; return the trace and the audio timelines. ``listeners``
        see every trace event as it is logged (a progress bar, for example)."""
        cfg = self.config
        clock, trace = SessionClock(), Trace()
        trace.listeners.extend(listeners)
        speaker = VirtualSpeaker(clock, trace, cfg.audio.speaker_rate, cfg.audio.speaker_frame_ms)
        echo, echo_info = make_echo_path(cfg.echo, speaker.excerpt)
        noise_rms = _noise_rms(cfg, turns)
        if echo_info is not None or noise_rms:
            info = echo_info or EchoPathInfo("none", float("nan"), 0.0, 0.0, 0.0)
            trace.append(EchoPathConfigured(0.0, info.kind, info.gain_db, info.delay_ms, info.rir_ms, info.rt60_ms,
                                            noise_rms, cfg.echo.seed))
        mic = VirtualMicrophone(clock, echo=echo, noise_rms=noise_rms, seed=cfg.echo.seed)
        return await self._run(clock, trace, mic, speaker,
                               lambda ctx, is_responding: ScriptedUser(ctx, turns, is_responding), list(turns))

    async def run_live(self, mic: StreamMicrophone, variant: Variant | None = None,
                       speaker: VirtualSpeaker | None = None,
                       on_start: Callable[[LiveUser, SessionContext], None] | None = None,
                       conversation: Conversation | None = None) -> SessionResult:
        """Answer a live user speaking into ``mic`` until :meth:`LiveUser.end` is called.

        t = 0 is the first sample pushed into ``mic``; turns are opened by the endpointer
        (:class:`~voicelab.session.live_user.LiveUser`) and answered with ``variant`` (default:
        the config's first). ``speaker``: where the agent's audio plays (default: a virtual
        speaker). ``on_start(user, ctx)`` is called once the session is built, before t = 0:
        the live user (to :meth:`~LiveUser.end` it) and the session's parts (a server hooks the
        trace's listeners and the speaker's ``on_segment`` there). ``conversation``: the chat
        memory to answer from (a server passes one restored from its store; default: a new
        one with a single history, whatever variant answers).
        """
        cfg = self.config
        clock, trace = SessionClock(), Trace()
        speaker = speaker or VirtualSpeaker(clock, trace, cfg.audio.speaker_rate, cfg.audio.speaker_frame_ms)
        variant = variant or cfg.resolved_variants()[0]

        def make_user(ctx: SessionContext, is_responding: Callable[[], bool]) -> LiveUser:
            user = LiveUser(ctx, variant, is_responding)
            if on_start is not None:
                on_start(user, ctx)
            return user
        await mic.first_sample()
        return await self._run(clock, trace, mic, speaker, make_user, [], started_ms=mic.first_push_ms,
                               started_at=mic.first_push_at,
                               conversation=conversation or Conversation(cfg.llm, single=True))

    async def _run(self, clock: SessionClock, trace: Trace, mic: VirtualMicrophone | StreamMicrophone,
                   speaker: VirtualSpeaker, make_user: MakeUser, turns: list[TurnSpec],
                   started_ms: float = 0.0, started_at: float | None = None,
                   conversation: Conversation | None = None) -> SessionResult:
        cfg = self.config
        ctx = SessionContext(cfg, self.stages, clock, trace, mic, speaker)
        canceller = make_echo_canceller(cfg.aec)
        aec = AECFrontEnd(ctx, canceller) if canceller is not None else None
        session = self._session = RunningSession(ctx, make_user, conversation or Conversation(cfg.llm), aec,
                                                 self.peers)
        await session.start_peers()

        clock.start(started_ms, started_at)
        restarts = self._log_tts_restarts(ctx)
        faults = self._log_faults(ctx)
        if aec is not None and cfg.aec.calibration_ms:
            self._calibrate(speaker, trace)
        tasks = session.start_tasks()
        try:
            await _supervised(session.user.run(), tasks.supervised)
        finally:
            await session.stop()
            if restarts is not None:
                self.stages.tts.unsubscribe(restarts)
            for plan in self.stages.fault_plans.values():
                plan.listeners.remove(faults)
        inp = mic.timeline()
        n_out = int(round(len(inp) * speaker.rate / INPUT_RATE))
        return SessionResult(trace, inp, speaker.timeline(n_out), speaker.rate,
                             turns or [st.spec for st in session.user.states],
                             aec.timeline() if aec is not None else None)

    def _log_tts_restarts(self, ctx: SessionContext):
        """A supervised TTS's restart attempts go into this session's trace; the listener
        (to unsubscribe at the end), or None."""
        tts = self.stages.tts
        if not isinstance(tts, SupervisedTTS):
            return None

        def listener(attempt: int, ok: bool, restart_ms: float, down_ms: float, error: str) -> None:
            ctx.trace.append(TTSRestarted(ctx.clock.now_ms(), attempt, ok, restart_ms, down_ms, error))
        tts.subscribe(listener)
        return listener

    def _log_faults(self, ctx: SessionContext):
        """Injected faults (``faults:`` config) go into this session's trace as they happen."""
        def listener(stage: str, request: int, kind: str) -> None:
            ctx.trace.append(FaultInjected(ctx.clock.now_ms(), stage, request, kind))
        for plan in self.stages.fault_plans.values():
            plan.listeners.append(listener)
        return listener

    def _calibrate(self, speaker: VirtualSpeaker, trace: Trace) -> None:
        """Play the echo canceller's calibration noise now (see ``aec.calibration_ms``)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.echo.seed, 1])  # a stream apart from the mic noise's
        n = round(cfg.aec.calibration_ms * speaker.rate / 1000)
        noise = (10 ** (cfg.aec.calibration_dbfs / 20) * rng.standard_normal(n)).clip(-1.0, 1.0)
        start = speaker.play_prompt(noise.astype(np.float32))
        trace.append(AECCalibration(start * 1000.0 / speaker.rate, cfg.aec.calibration_ms,
                                    cfg.aec.calibration_dbfs, cfg.echo.seed))

    def _running(self, method: str) -> RunningSession:
        """The session in progress.

        Raises:
            RuntimeError: :meth:`run` / :meth:`run_live` has not started, or has returned.
        """
        session = self._session
        if session is None or not session.running:
            when = "before run() / run_live() has started" if session is None else "after the session ended"
            raise RuntimeError(f"VoiceAgent.{method}() needs a running session; it was called {when}")
        return session

    def submit_text(self, text: str) -> int:
        """A live session's typed user turn: answered like speech, without STT. Returns its turn.

        Raises:
            RuntimeError: not a live session (see :meth:`run_live`), or it is not running
                (not started yet, or over).
        """
        return self._running("submit_text").submit_text(text)

    def reconfigure(self, config: ExperimentConfig, stages: Stages) -> None:
        """A live session's new settings (``stages`` carries the endpointer ``config`` asks
        for): trigger, barge-in and speculation apply from the next reply, VAD settings from
        the next utterance.

        Raises:
            RuntimeError: VAD settings changed while the user is speaking, or the session is
                not running (not started yet, or over); nothing changed then.
        """
        self._running("reconfigure").reconfigure(config, stages)
        self.config, self.stages = config, stages

    def end_utterance(self) -> bool:
        """Client-side endpointing: the user's utterance in progress ends now (False: none,
        which includes no running session)."""
        session = self._session
        return session is not None and session.running and session.listener.force_end()


class SessionError(RuntimeError):
    """A task the session cannot go on without (microphone listener, speaker, agent loop) failed
    while the scenario was still playing."""


async def _supervised(scenario, tasks: Sequence[asyncio.Task]) -> None:
    """Await ``scenario`` (the user's run) while watching ``tasks``: if one of them fails (an
    exception in the agent loop, say), the scenario is cancelled and :class:`SessionError` raised
    with that exception as its cause, instead of every later turn waiting for a reply that will
    never come. A watched task that returns (a live microphone closed by its client) is fine.

    Raises:
        SessionError: a watched task raised before the scenario ended.
    """
    main = asyncio.ensure_future(scenario)
    pending: set[asyncio.Future] = {main, *tasks}
    while True:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if main in done:
            return main.result()
        dead = next((t for t in tasks if t in done and not t.cancelled() and t.exception() is not None), None)
        if dead is not None:
            main.cancel()
            await asyncio.gather(main, return_exceptions=True)
            err = dead.exception()
            raise SessionError(f"the session's {dead.get_name()!r} task failed while the scenario was playing "
                               f"({type(err).__name__}: {err})") from err


def _noise_rms(cfg: ExperimentConfig, turns: list[TurnSpec]) -> float:
    """White-noise RMS for ``echo.noise_snr_db``, against the mean speech RMS of the clips."""
    if cfg.echo.noise_snr_db is None or not turns:
        return 0.0
    rms = [speech_rms(t.clip.audio, t.speech_bounds_ms) for t in turns
           if ms_to_samples(t.speech_bounds_ms[1]) > ms_to_samples(t.speech_bounds_ms[0])]
    return float(np.mean(rms)) * 10 ** (-cfg.echo.noise_snr_db / 20) if rms else 0.0
