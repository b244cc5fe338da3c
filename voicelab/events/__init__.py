"""The session trace: small frozen event records on one session clock.

Every stage appends events; metrics (:mod:`voicelab.measure.metrics`) are pure functions
of the trace, so a saved ``events.jsonl`` can be re-analysed without models. All times are
milliseconds on the session clock (t = 0 when the first input sample is captured). ``turn``
numbers user turns from 0 in play order; warm-up turns are flagged on :class:`TurnPlanned`.

Events live in submodules by the part of the agent that logs them:
:mod:`~voicelab.events.session` (turns, VAD, endpointing, speculation),
:mod:`~voicelab.events.pipeline` (STT, LLM, trigger, TTS, playback),
:mod:`~voicelab.events.duplex` (barge-in, echo path, AEC), :mod:`~voicelab.events.reported` (figures
peer engines report about themselves), and :mod:`~voicelab.events.trace` holds
:class:`Trace`; everything is importable from here (importing this package registers
every event type for :meth:`Event.from_dict`).
"""

from voicelab.events.base import Event
from voicelab.events.duplex import (
    AECCalibration,
    AECWindow,
    BargeInConfirmed,
    BargeInDetected,
    BargeInTranscript,
    EchoPathConfigured,
    PlaybackPaused,
    PlaybackResumed,
    ResponseCancelled,
)
from voicelab.events.pipeline import (
    ChunkTriggered,
    FaultInjected,
    LLMFinished,
    LLMStarted,
    LLMToken,
    PlaybackStall,
    PlaybackStarted,
    PlaybackStopped,
    STTStarted,
    TranscriptFinal,
    TTSAudio,
    TTSFailed,
    TTSRestarted,
    TTSStarted,
    TurnFailed,
    WordEmitted,
)
from voicelab.events.reported import PeerReported
from voicelab.events.session import (
    ModelLoaded,
    SpeculationCommitted,
    SpeculationDiscarded,
    SpeculationStarted,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    StateChanged,
    TurnPlanned,
    TurnPredicted,
)
from voicelab.events.trace import SPECULATIVE_PIPELINE_EVENTS, Trace

__all__ = ["AECCalibration", "AECWindow", "EchoPathConfigured", "BargeInConfirmed", "BargeInDetected",
           "BargeInTranscript", "ChunkTriggered", "Event",
           "LLMFinished", "LLMStarted", "LLMToken", "ModelLoaded", "PeerReported", "PlaybackPaused", "PlaybackResumed",
           "PlaybackStall", "PlaybackStarted", "PlaybackStopped", "ResponseCancelled",
           "SPECULATIVE_PIPELINE_EVENTS", "STTStarted", "SpeculationCommitted", "SpeculationDiscarded",
           "SpeculationStarted", "SpeechEnded", "SpeechPaused", "SpeechStarted", "StateChanged", "TTSAudio",
           "TTSFailed", "TTSRestarted", "FaultInjected", "TurnFailed",
           "TTSStarted", "Trace", "TranscriptFinal", "TurnPlanned", "TurnPredicted", "WordEmitted"]
