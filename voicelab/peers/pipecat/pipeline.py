"""Assembles the stock Pipecat pipeline of one ``engine: pipecat`` variant."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData, TurnMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy, TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from voicelab.assets.paths import resolve_model_path
from voicelab.config import ExperimentConfig
from voicelab.config.peers import PipecatConfig
from voicelab.peers.pipecat.llm import VoicelabLLMService
from voicelab.peers.pipecat.observer import FrameTranslator
from voicelab.peers.pipecat.services import kokoro_service, whisper_service
from voicelab.peers.pipecat.transports import MicInputTransport, SessionPipecatClock, SpeakerOutputTransport
from voicelab.session.context import SessionContext
from voicelab.session.turns import Stages
from voicelab.units import INPUT_RATE


class TraceObserver(BaseObserver):
    """Hands the frames voicelab measures to a :class:`FrameTranslator`, at their push time.

    Only each frame's first push is seen (``observe_every_push=False``); VAD and user-turn
    frames are broadcast both ways, so only the downstream copy counts.
    """

    def __init__(self, translator: FrameTranslator) -> None:
        super().__init__(observe_every_push=False)
        self._tr = translator

    async def on_push_frame(self, data: FramePushed) -> None:
        f, t = data.frame, data.timestamp / 1e6  # the session clock, ns -> ms
        down = data.direction == FrameDirection.DOWNSTREAM
        tr = self._tr
        if isinstance(f, VADUserStartedSpeakingFrame) and down:
            tr.vad_started(t)
        elif isinstance(f, VADUserStoppedSpeakingFrame) and down:
            tr.vad_stopped(t)
        elif isinstance(f, TranscriptionFrame):
            tr.transcript(t, f.text)
        elif isinstance(f, LLMContextFrame) and isinstance(data.source, LLMUserAggregator):
            tr.user_turn_ended(t)
        elif isinstance(f, LLMFullResponseStartFrame) and isinstance(data.source, VoicelabLLMService):
            tr.llm_started(t)
        elif isinstance(f, LLMTextFrame) and isinstance(data.source, VoicelabLLMService):
            tr.llm_text(t, f.text)
        elif isinstance(f, LLMFullResponseEndFrame) and isinstance(data.source, VoicelabLLMService):
            tr.llm_finished(t)
        elif isinstance(f, MetricsFrame):
            for m in f.data:
                if isinstance(m, TTFBMetricsData) and m.value > 0:
                    tr.reported(t, m.processor, "ttfb", m.value * 1000.0)
                elif isinstance(m, TurnMetricsData):
                    tr.turn_predicted(t, m.probability, m.is_complete, m.e2e_processing_time_ms)


def _turn_strategies(settings: PipecatConfig) -> UserTurnStrategies:
    if settings.turn == "smart-turn":  # Pipecat's default stop strategy, made explicit
        stop = TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())
    else:
        stop = SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=settings.speech_timeout_secs)
    return UserTurnStrategies(stop=[stop])


def build_pipeline(config: ExperimentConfig, settings: PipecatConfig, stages: Stages, ctx: SessionContext,
                   translator: FrameTranslator, *, turn_of: Callable[[], int],
                   on_reply: Callable[[int, asyncio.Future], None], seed: Callable[[], int]):
    """The worker, runner, input transport and LLM context of one Pipecat variant.

    Same assets as voicelab's own agent: Whisper from ``stt.model``, Kokoro's int8 model
    with ``tts.voices`` / ``tts.voice`` / ``tts.speed``, and the loaded ``stages.llm``.

    Raises:
        FileNotFoundError: a model file is missing (Pipecat would download it).
        voicelab.assets.AssetError: a model asset is missing or corrupt.
    """
    clock = ctx.clock
    stt = whisper_service(resolve_model_path(config.stt.model), settings.stt_beam_size)
    model = resolve_model_path("kokoro-v1.0-int8")
    voices = resolve_model_path(config.tts.voices)
    model = next(model.glob("*.onnx")) if model.is_dir() else model
    voices = next(voices.glob("*.npz")) if voices.is_dir() else voices
    tts = kokoro_service(model, voices, config.tts.voice, config.tts.speed, settings.text_aggregation,
                         on_request=lambda text: translator.tts_request(clock.now_ms(), text),
                         on_audio=lambda n, rate: translator.tts_audio(clock.now_ms(), n, rate))
    llm = VoicelabLLMService(stages.llm, clock, seed, config.llm.model, history=config.llm.history)
    context = LLMContext(messages=config.llm.prompt_prefix())
    vad = SileroVADAnalyzer(params=VADParams(confidence=settings.vad_confidence, start_secs=settings.vad_start_secs,
                                             stop_secs=settings.vad_stop_secs))
    user_agg, assistant_agg = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=vad, user_turn_strategies=_turn_strategies(settings),
                                                     empty_user_turn=None))
    inp = MicInputTransport()
    out = SpeakerOutputTransport(ctx.speaker, clock, turn_of, on_reply)
    pipeline = Pipeline([inp, stt, user_agg, llm, tts, out, assistant_agg])
    latency = UserBotLatencyObserver()

    @latency.event_handler("on_latency_measured")
    async def _measured(_observer, seconds: float) -> None:
        translator.reported(clock.now_ms(), "UserBotLatencyObserver", "user_bot_latency", seconds * 1000.0)

    worker = PipelineWorker(
        pipeline, params=PipelineParams(audio_in_sample_rate=INPUT_RATE, audio_out_sample_rate=ctx.speaker.rate,
                                        enable_metrics=True, send_initial_empty_metrics=False),
        observers=[TraceObserver(translator), latency], clock=SessionPipecatClock(clock),
        idle_timeout_secs=None, enable_rtvi=False)
    return worker, WorkerRunner(handle_sigint=False), inp, context

