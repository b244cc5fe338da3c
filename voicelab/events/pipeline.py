"""Events of the reply pipeline: STT, LLM tokens, the trigger policy, TTS and playback."""

from __future__ import annotations

from dataclasses import dataclass

from voicelab.events.base import Event


@dataclass(frozen=True)
class STTStarted(Event):
    turn: int
    audio_ms: float


@dataclass(frozen=True)
class TranscriptFinal(Event):
    turn: int
    text: str


@dataclass(frozen=True)
class LLMStarted(Event):
    """The generate call starts (``t_ms`` stamped in the generation thread)."""

    turn: int


@dataclass(frozen=True)
class LLMToken(Event):
    """A decoded text delta, stamped in the generation thread when the model produced it."""

    turn: int
    index: int
    text: str


@dataclass(frozen=True)
class WordEmitted(Event):
    """A complete word (followed by whitespace or the end of the stream)."""

    turn: int
    index: int
    text: str


@dataclass(frozen=True)
class LLMFinished(Event):
    turn: int
    tokens: int
    cancelled: bool
    text: str


@dataclass(frozen=True)
class ChunkTriggered(Event):
    """The trigger policy handed a text chunk to TTS (words ``first_word..last_word``)."""

    turn: int
    chunk: int
    text: str
    first_word: int
    last_word: int


@dataclass(frozen=True)
class TTSStarted(Event):
    """A synthesis request starts; ``chunks`` lists the triggered chunks it covers."""

    turn: int
    request: int
    chunks: tuple[int, ...]
    text: str


@dataclass(frozen=True)
class TTSFailed(Event):
    """A synthesis request failed (``error``: why); the rest of the reply goes on as text
    only (``degraded``) while TTS is restarted."""

    turn: int
    request: int
    error: str
    degraded: bool = True


@dataclass(frozen=True)
class TTSRestarted(Event):
    """A TTS restart attempt after a failure ended (``ok``), ``attempt`` of at most the
    configured number, ``restart_ms`` after it began; ``down_ms``: failure to now."""

    attempt: int
    ok: bool
    restart_ms: float
    down_ms: float
    error: str = ""


@dataclass(frozen=True)
class TTSAudio(Event):
    """The request's audio is available (Kokoro returns a request's audio at once)."""

    turn: int
    request: int
    samples: int
    sample_rate: int


@dataclass(frozen=True)
class PlaybackStarted(Event):
    """The first sample of a TTS request was played (nominal speaker time)."""

    turn: int
    request: int
    sample_index: int


@dataclass(frozen=True)
class PlaybackStall(Event):
    """The speaker ran dry inside a response for ``duration_ms`` starting at ``t_ms``."""

    turn: int
    duration_ms: float


@dataclass(frozen=True)
class PlaybackStopped(Event):
    """The last sample of the turn's response was played (``t_ms`` = its end).

    ``interrupted``: playback was cut by a barge-in (the rest was dropped).
    """

    turn: int
    sample_index: int
    interrupted: bool = False


@dataclass(frozen=True)
class FaultInjected(Event):
    """An injected failure (``faults:`` config) hit request ``request`` of ``stage``
    (stt / llm / tts) in the way ``kind`` says (raise / hang / empty / slow)."""

    stage: str
    request: int
    kind: str


@dataclass(frozen=True)
class TurnFailed(Event):
    """A stage failed a turn: ``stage`` stt (the turn is dropped, the agent keeps listening)
    or llm (an apology is said instead of the reply); ``error`` says why."""

    turn: int
    stage: str
    error: str
