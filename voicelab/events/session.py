"""Events of the session and turn structure, VAD, endpointing and speculative replies."""

from __future__ import annotations

from dataclasses import dataclass

from voicelab.events.base import Event


@dataclass(frozen=True)
class ModelLoaded(Event):
    """A model was loaded and warmed once (before t = 0, so ``t_ms`` is 0)."""

    stage: str
    model: str
    load_ms: float
    warmup_ms: float


@dataclass(frozen=True)
class TurnPlanned(Event):
    """The microphone starts playing a clip (``t_ms`` = its first sample).

    ``speech_start_ms``/``speech_end_ms`` are the *true* speech boundaries on the
    session clock (the clip's sidecar annotation or the reference consensus of
    :mod:`voicelab.truth`). ``barge_in``: the clip was started while the agent was speaking;
    ``backchannel``: the scenario says it is listener feedback, not meant to interrupt;
    ``engine``: what answers the turn (``voicelab``, or a peer engine such as ``pipecat``).
    """

    turn: int
    clip: str
    variant: str
    warmup: bool
    duration_ms: float
    speech_start_ms: float
    speech_end_ms: float
    reference_text: str
    barge_in: bool = False
    backchannel: bool = False
    engine: str = "voicelab"


@dataclass(frozen=True)
class StateChanged(Event):
    """Conversation state machine transition (idle, listening, processing, speaking, paused, interrupted)."""

    turn: int
    old: str
    new: str


@dataclass(frozen=True)
class SpeechStarted(Event):
    """The endpointer detected user speech; ``audio_ms`` = padded start on the session clock."""

    turn: int
    audio_ms: float


@dataclass(frozen=True)
class SpeechEnded(Event):
    """Endpointing decided the user turn is over. ``audio_ms``: padded end of speech;
    ``decided_ms``: end of the audio frame on which the decision was made (both session
    clock); ``t_ms``: when the orchestrator acted on it (>= ``decided_ms``)."""

    turn: int
    audio_ms: float
    decided_ms: float


@dataclass(frozen=True)
class SpeechPaused(Event):
    """The user fell silent for ``vad.min_silence_ms`` with turn detection on: the turn
    is paused, not ended (``audio_ms``/``decided_ms`` as in :class:`SpeechEnded`)."""

    turn: int
    audio_ms: float
    decided_ms: float


@dataclass(frozen=True)
class TurnPredicted(Event):
    """The turn detector judged the utterance so far (``t_ms``: its verdict). ``probability``:
    P(the utterance is complete), NaN if the detector failed (the turn then ends after ``vad.max_silence_ms``);
    ``complete``: above ``vad.turn_threshold``; ``started_ms``: when asked; ``audio_ms``: audio judged."""

    turn: int
    probability: float
    complete: bool
    started_ms: float
    audio_ms: float


@dataclass(frozen=True)
class SpeculationStarted(Event):
    """The user fell silent for ``speculate.after_silence_ms``: STT, the LLM and TTS start on the
    utterance so far (``audio_ms`` long) before the endpoint is decided; playback is held until
    it is (:class:`SpeculationCommitted`) or speech resumes (:class:`SpeculationDiscarded`)."""

    turn: int
    audio_ms: float


@dataclass(frozen=True)
class SpeculationCommitted(Event):
    """The endpoint confirmed the speculative reply started at ``started_ms``: its held audio may play."""

    turn: int
    started_ms: float


@dataclass(frozen=True)
class SpeculationDiscarded(Event):
    """Speech resumed: the speculative reply started at ``started_ms`` was cancelled (``t_ms``: when
    it had wound down). ``stage``: where it was (``stt``, ``llm``, ``held`` = reply audio ready and
    waiting); the compute it wasted: ``llm_tokens`` generated and ``tts_audio_ms`` of speech synthesized.
    Its pipeline events (STT to TTS, after the matching :class:`SpeculationStarted`) are dropped by
    :meth:`Trace.without_discarded`."""

    turn: int
    started_ms: float
    stage: str
    llm_tokens: int
    tts_audio_ms: float
