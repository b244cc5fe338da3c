"""Pipecat 1.14's stock turn-taking stack as an offline end-of-turn detector.

One item's audio (float32 mono 16 kHz) is fed, frame by frame and faster than real time,
through Pipecat's OWN classes, wired as Pipecat's ``LLMUserAggregator`` wires them
(``pipecat/processors/aggregators/llm_response_universal.py``: ``process_frame`` hands each
frame to the ``VADController`` and then to the ``UserTurnController``; the controller's VAD
events come back as queued ``VADUser{Started,Stopped}SpeakingFrame``):

- ``SileroVADAnalyzer`` (Pipecat's bundled ``silero_vad.onnx``) with ``VADParams()``: confidence
  0.7, start_secs 0.2, stop_secs 0.2, min_volume 0.6 (``pipecat/audio/vad/vad_analyzer.py``).
  stop_secs 0.2 is also the value Pipecat recommends with a turn analyzer:
  ``pipecat/turns/user_stop/turn_analyzer_user_turn_stop_strategy.py`` warns when it differs from
  ``VAD_STOP_SECS`` ("the recommended default"), and ``pipecat/services/stt_latency.py`` says the
  STT latencies were "measured with VADParams.stop_secs=0.2, the recommended default";
- ``VADController`` (``pipecat/audio/vad/vad_controller.py``) turning VAD states into events;
- ``UserTurnController`` with ``UserTurnStrategies()``'s default start strategies
  (``VADUserTurnStartStrategy``, ``TranscriptionUserTurnStartStrategy``) and its default stop
  strategy ``TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())``
  (``default_user_turn_stop_strategies`` in ``pipecat/turns/user_turn_strategies.py``), whose
  ``SmartTurnParams()`` are stop_secs 3, pre_speech_ms 500, max_duration_secs 8
  (``pipecat/audio/turn/smart_turn/base_smart_turn.py``). The Smart Turn model is the file
  Pipecat bundles (``pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx``), which
  ``LocalSmartTurnAnalyzerV3()`` loads itself.

These are the settings voicelab's ``engine: pipecat`` runs (:class:`voicelab.config.peers.PipecatConfig`
defaults, wired in :func:`voicelab.peers.pipecat.pipeline.build_pipeline`), with 32 ms input frames
(512 samples, as :class:`voicelab.peers.pipecat.transports.MicInputTransport` sends them; also
``SileroVADAnalyzer.num_frames_required()`` at 16 kHz).

The turn ends where the stop strategy fires: Smart Turn says COMPLETE when the VAD reports the
stop (``analyze_end_of_turn``), or, after an INCOMPLETE, the analyzer's own ``stop_secs`` of
non-speech frames pass (``append_audio`` returns COMPLETE). A decision's time is the audio time
(ms from the audio's start) at the end of the last frame fed. Where Pipecat reads the clock:

- ``BaseSmartTurn`` stamps buffered frames and the speech start with ``time.monotonic()`` to cut
  the segment Smart Turn judges (speech start - pre_speech_ms - VAD start_secs); that clock is
  replaced by the audio clock (end of the frame being fed) while an item runs, so the segment
  is the one a real-time stream would give;
- transcripts: stock ``wait_for_transcript=True`` also waits for the STT's transcript (with
  Whisper, until ``ttfs_p99_latency`` = 1.0 s after the VAD's estimate of the speech end,
  ``WHISPER_TTFS_P99`` in ``pipecat/services/stt_latency.py``); there is no STT here, so the
  strategy runs with ``wait_for_transcript=False`` (Pipecat's realtime-service mode): the
  decision is the turn analyzer's, as eot-bench scores a turn detector;
- ``UserTurnController``'s ``user_turn_stop_timeout`` watchdog (5 s without a VAD or transcript
  event, ``asyncio.wait_for``) and ``VADController``'s audio-idle timer are wall-clock timers
  that are not started: the audio never stops arriving, and the watchdog is armed at every VAD
  stop, after which Smart Turn's own timeout fires first as long as it is shorter than 5 s
  (:class:`PipecatTurnStack` refuses longer ones).

After a decision, speech the VAD confirms again starts a new user turn (``VADUserTurnStartStrategy``),
so one item can give several decisions.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from loguru import logger
from pipecat.audio.turn.smart_turn import base_smart_turn
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.audio.vad.vad_controller import VADController
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    InputAudioRawFrame,
    MetricsFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TurnMetricsData
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_controller import UserTurnController
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.asyncio.task_manager import TaskManager

from voicelab.peers.pipecat.transports import to_pcm16
from voicelab.units import INPUT_RATE

__all__ = ["FRAME_SAMPLES", "STOCK_SMART_TURN_STOP_SECS", "USER_TURN_STOP_TIMEOUT_SECS",
           "PipecatTurnStack", "TurnEnd", "pipecat_turn_decisions"]

FRAME_SAMPLES = 512
"""Samples per input frame (32 ms): ``SileroVADAnalyzer.num_frames_required()`` at 16 kHz, and
the frame voicelab's ``MicInputTransport`` pushes."""

STOCK_SMART_TURN_STOP_SECS = SmartTurnParams().stop_secs
"""3.0 s: ``SmartTurnParams.stop_secs`` (``STOP_SECS`` in ``pipecat/audio/turn/smart_turn/base_smart_turn.py``)."""

USER_TURN_STOP_TIMEOUT_SECS = 5.0
"""``LLMUserAggregatorParams.user_turn_stop_timeout`` default (``llm_response_universal.py``)."""


@dataclass(frozen=True)
class TurnEnd:
    """One end of a user turn by Pipecat's stack.

    Attributes:
        time_ms: when ``on_user_turn_stopped`` fired: end of the frame fed last (ms, audio clock).
        vad_stop_ms: the VAD stop before it (ms; the end of the ``stop_secs``-th quiet frame).
        by_timeout: ended by Smart Turn's ``stop_secs`` of silence counted after the VAD stop
            (``time_ms - vad_stop_ms`` = ``stop_secs`` rounded up to whole frames); False: Smart
            Turn said COMPLETE at the VAD stop (``time_ms == vad_stop_ms``).
        probability: Smart Turn's P(complete) at its last inference of the turn (NaN: none).
    """

    time_ms: float
    vad_stop_ms: float
    by_timeout: bool
    probability: float


@dataclass
class _AudioClock:
    """``time`` for ``base_smart_turn`` while an item runs: ``monotonic()`` is the audio time (s)."""

    now_s: float = 0.0

    @property
    def now_ms(self) -> float:
        return round(self.now_s * 1000.0, 6)

    def monotonic(self) -> float:
        return self.now_s

    @staticmethod
    def perf_counter() -> float:  # Smart Turn's own processing-time metric stays wall-clock
        return time.perf_counter()


@contextmanager
def _audio_time(clock: _AudioClock) -> Iterator[None]:
    saved = base_smart_turn.time
    base_smart_turn.time = types.SimpleNamespace(monotonic=clock.monotonic, perf_counter=clock.perf_counter)
    try:
        yield
    finally:
        base_smart_turn.time = saved


class _SharedPredictionSmartTurn(LocalSmartTurnAnalyzerV3):
    """``LocalSmartTurnAnalyzerV3`` unchanged, except that a segment another stack of the same
    item already sent to the model is answered from that call's result (same bundled model,
    same input, same output), so stacks that differ only in ``stop_secs`` pay for each distinct
    Smart Turn inference once."""

    def __init__(self, memo: dict[bytes, dict], **kwargs) -> None:
        super().__init__(**kwargs)
        self._memo = memo

    def _predict_endpoint(self, audio_array: np.ndarray) -> dict:
        key = hashlib.blake2b(np.ascontiguousarray(audio_array).tobytes(), digest_size=16).digest()
        if key not in self._memo:
            self._memo[key] = super()._predict_endpoint(audio_array)
        return dict(self._memo[key])


class PipecatTurnStack:
    """Pipecat's stock VAD + Smart Turn user-turn stack, one per Smart Turn ``stop_secs``.

    The Smart Turn analyzers (one ONNX session each) are loaded once and reused across items
    (``clear()`` between items resets all their per-stream state); the Silero VAD is new per
    item. The VAD does not depend on the turn state, so one VAD pass feeds every stack, and
    a Smart Turn inference on a segment another stack already judged is not run again.

    Args:
        vad_params: Pipecat's ``VADParams`` (default: ``VADParams()``, the stock and voicelab's
            ``engine: pipecat`` setting).
        stop_secs: Smart Turn ``stop_secs`` values (s) to run side by side (default: the stock 3.0).
        smart_turn_params: the other ``SmartTurnParams`` fields (``pre_speech_ms``,
            ``max_duration_secs``; its ``stop_secs`` is replaced by each of ``stop_secs``).

    Raises:
        ValueError: no or a non-positive ``stop_secs``, or one whose timeout (rounded up to whole
            32 ms frames) is not shorter than the 5 s ``user_turn_stop_timeout`` watchdog, which
            this offline stack does not run.
    """

    def __init__(self, vad_params: VADParams | None = None, stop_secs: Sequence[float] = (STOCK_SMART_TURN_STOP_SECS,),
                 smart_turn_params: SmartTurnParams | None = None) -> None:
        frame_s = FRAME_SAMPLES / INPUT_RATE
        if not stop_secs or any(not s > 0 or math.ceil(s / frame_s - 1e-9) * frame_s >= USER_TURN_STOP_TIMEOUT_SECS
                                for s in stop_secs):
            raise ValueError(f"stop_secs must be > 0 and time out before the {USER_TURN_STOP_TIMEOUT_SECS} s "
                             f"user_turn_stop_timeout watchdog, got {list(stop_secs)}")
        self.vad_params = vad_params or VADParams()
        base = smart_turn_params or SmartTurnParams()
        self.stop_secs = tuple(float(s) for s in stop_secs)
        self._memo: dict[bytes, dict] = {}
        logger.disable("pipecat")  # Pipecat logs model loads and each VAD/Smart Turn step at DEBUG
        try:
            self._analyzers = [_SharedPredictionSmartTurn(self._memo, params=base.model_copy(update={"stop_secs": s}))
                               for s in self.stop_secs]
        finally:
            logger.enable("pipecat")

    def turn_ends(self, audio: np.ndarray) -> dict[float, list[TurnEnd]]:
        """Every end of a user turn in ``audio``, per Smart Turn ``stop_secs``.

        Args:
            audio: float32 mono 16 kHz samples, shape ``(n,)`` in [-1, 1] (sent to Pipecat as int16
                PCM, as voicelab's microphone transport sends it); a partial last frame is dropped.

        Returns:
            ``{stop_secs: [TurnEnd]}``, in time order.

        Raises:
            ValueError: audio that is not 1-D float32.
        """
        if not isinstance(audio, np.ndarray) or audio.dtype != np.float32 or audio.ndim != 1:
            raise ValueError(f"audio must be 1-D float32 at {INPUT_RATE} Hz, got "
                             f"{getattr(audio, 'dtype', type(audio))} {getattr(audio, 'shape', '')}")
        clock = _AudioClock()
        logger.disable("pipecat")
        try:
            with _audio_time(clock):
                return asyncio.run(self._run(audio, clock))
        finally:
            logger.enable("pipecat")
            self._memo.clear()
            for a in self._analyzers:
                a.clear()

    def decisions(self, audio: np.ndarray) -> dict[float, list[float]]:
        """``{stop_secs: [decision time (ms from the audio's start)]}``: :meth:`turn_ends`' times.

        Raises:
            ValueError: see :meth:`turn_ends`.
        """
        return {s: [e.time_ms for e in ends] for s, ends in self.turn_ends(audio).items()}

    async def _run(self, audio: np.ndarray, clock: _AudioClock) -> dict[float, list[TurnEnd]]:
        setup = FrameProcessorSetup(clock=SystemClock(), task_manager=TaskManager(), pipeline_worker=None,
                                    audio_in_sample_rate=INPUT_RATE)
        vad = VADController(SileroVADAnalyzer(params=self.vad_params))
        await vad.setup(setup)   # sets the analyzer's rate; start() (idle timer) is not run: see the module doc
        queued: list = []        # LLMUserAggregator._queued_broadcast_frame: processed after the audio frame
        last_stop = [math.nan]   # audio time (ms) of the latest VAD stop

        async def started(_controller):
            queued.append(VADUserStartedSpeakingFrame(start_secs=self.vad_params.start_secs))

        async def stopped(_controller):
            last_stop[0] = clock.now_ms
            queued.append(VADUserStoppedSpeakingFrame(stop_secs=self.vad_params.stop_secs))

        vad.add_event_handler("on_speech_started", started)
        vad.add_event_handler("on_speech_stopped", stopped)
        turns, out = [], {s: [] for s in self.stop_secs}
        for s, analyzer in zip(self.stop_secs, self._analyzers):
            stop = TurnAnalyzerUserTurnStopStrategy(turn_analyzer=analyzer, wait_for_transcript=False)
            controller = UserTurnController(user_turn_strategies=UserTurnStrategies(stop=[stop]),
                                            user_turn_stop_timeout=USER_TURN_STOP_TIMEOUT_SECS)
            await controller.setup(setup)  # start() (the wall-clock watchdog) is not run: see the module doc
            p_last = [math.nan]

            async def pushed(_controller, frame, _direction=None, p_last=p_last):
                if isinstance(frame, MetricsFrame):  # the strategy's Smart Turn result
                    p_last[0] = next((m.probability for m in frame.data if isinstance(m, TurnMetricsData)), p_last[0])

            async def ended(_controller, _strategy, _params, ends=out[s], p_last=p_last):
                timeout = clock.now_ms != last_stop[0]
                ends.append(TurnEnd(clock.now_ms, last_stop[0], timeout, p_last[0]))
                p_last[0] = math.nan

            controller.add_event_handler("on_push_frame", pushed)
            controller.add_event_handler("on_user_turn_stopped", ended)
            turns.append(controller)
        try:
            for i in range(len(audio) // FRAME_SAMPLES):
                clock.now_s = (i + 1) * FRAME_SAMPLES / INPUT_RATE
                frame = InputAudioRawFrame(audio=to_pcm16(audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]),
                                           sample_rate=INPUT_RATE, num_channels=1)
                await vad.process_frame(frame)
                for c in turns:
                    await c.process_frame(frame)
                while queued:
                    f = queued.pop(0)
                    for c in turns:
                        await c.process_frame(f)
        finally:
            for c in turns:
                for strategy in c.user_turn_strategies.stop or []:
                    await strategy.cleanup()  # cancels the strategy's STT timer; keeps the analyzer usable
            await vad.cleanup()
        return out


def pipecat_turn_decisions(audio: np.ndarray, *, vad_params: VADParams | None = None,
                           smart_turn_params: SmartTurnParams | None = None,
                           stack: PipecatTurnStack | None = None) -> list[float]:
    """Where Pipecat 1.14's stock turn stack ends the user's turns in ``audio``.

    Args:
        audio: float32 mono 16 kHz, shape ``(n,)``.
        vad_params, smart_turn_params: Pipecat's parameters (default: stock); ignored with ``stack``.
        stack: a loaded :class:`PipecatTurnStack` to reuse (loading Smart Turn takes ~0.1-0.5 s);
            its first ``stop_secs`` is used.

    Returns:
        decision times, ms from the audio's start (end of the 32 ms frame at which Pipecat's
        ``on_user_turn_stopped`` fires), increasing.

    Raises:
        ValueError: see :meth:`PipecatTurnStack.decisions` and :class:`PipecatTurnStack`.
    """
    if stack is None:
        params = smart_turn_params or SmartTurnParams()
        stack = PipecatTurnStack(vad_params, (params.stop_secs,), params)
    return stack.decisions(audio)[stack.stop_secs[0]]
