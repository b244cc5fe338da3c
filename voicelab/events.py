"""The session trace: small frozen event records on one session clock.

Every stage appends events; metrics (:mod:`voicelab.measure.metrics`) are pure functions
of the trace, so a saved ``events.jsonl`` can be re-analysed without models. All times are
milliseconds on the session clock (t = 0 when the first input sample is captured). ``turn``
numbers user turns from 0 in play order; warm-up turns are flagged on :class:`TurnPlanned`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterable, Iterator, TypeVar

E = TypeVar("E", bound="Event")


@dataclass(frozen=True)
class Event:
    """Base record. ``t_ms``: session-clock time at which the event happened."""

    t_ms: float
    _registry: ClassVar[dict[str, type["Event"]]] = {}

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        Event._registry[cls.__name__] = cls

    def to_dict(self) -> dict:
        """JSON-ready dict with a ``type`` key naming the event class."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}

    @staticmethod
    def from_dict(d: dict) -> "Event":
        """Inverse of :meth:`to_dict`. Raises ``KeyError`` for an unknown type."""
        d = dict(d)
        cls = Event._registry[d.pop("type")]
        return cls(**d)


# --- session / turn structure -------------------------------------------------------

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
    ``backchannel``: the scenario says it is listener feedback, not meant to interrupt.
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


@dataclass(frozen=True)
class StateChanged(Event):
    """Conversation state machine transition (idle, listening, processing, speaking, paused, interrupted)."""

    turn: int
    old: str
    new: str


# --- VAD / endpointing / STT -----------------------------------------------------------

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


@dataclass(frozen=True)
class STTStarted(Event):
    turn: int
    audio_ms: float


@dataclass(frozen=True)
class TranscriptFinal(Event):
    turn: int
    text: str


# --- LLM / trigger -------------------------------------------------------------------------

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


# --- TTS / playback -------------------------------------------------------------------------

@dataclass(frozen=True)
class TTSStarted(Event):
    """A synthesis request starts; ``chunks`` lists the triggered chunks it covers."""

    turn: int
    request: int
    chunks: tuple[int, ...]
    text: str


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
class BargeInDetected(Event):
    """The barge-in detector fired while the agent's reply to ``turn`` was playing."""

    turn: int
    probability: float


@dataclass(frozen=True)
class PlaybackPaused(Event):
    """``barge_in.mode: pause_confirm``: playback paused after output sample ``sample_index`` - 1
    (``t_ms`` = its end; nothing queued is lost) or, with ``duck_db``, goes on that many dB down."""

    turn: int
    sample_index: int
    duck_db: float | None = None


@dataclass(frozen=True)
class PlaybackResumed(Event):
    """The pause (or duck) ended unconfirmed: playback goes on where it left off, at output sample ``sample_index``."""

    turn: int
    sample_index: int


@dataclass(frozen=True)
class BargeInTranscript(Event):
    """An interim transcript of the barge-in audio (``audio_ms`` long, asked at ``started_ms``)
    while the reply is paused; ``words``: how many of its words are not backchannels."""

    turn: int
    text: str
    words: int
    started_ms: float
    audio_ms: float


@dataclass(frozen=True)
class BargeInConfirmed(Event):
    """The paused reply's barge-in was confirmed ``by`` ``"duration"`` or ``"words"``: it is cut."""

    turn: int
    by: str


@dataclass(frozen=True)
class ResponseCancelled(Event):
    """The reply to ``turn`` was cut off: generation, pending TTS and queued audio dropped.

    ``played_text``: what the agent actually said (kept in the conversation history).
    """

    turn: int
    played_text: str
    generated_text: str


SPECULATIVE_PIPELINE_EVENTS: tuple[type[Event], ...] = (
    STTStarted, TranscriptFinal, LLMStarted, LLMToken, WordEmitted, LLMFinished, ChunkTriggered,
    TTSStarted, TTSAudio, ResponseCancelled)
"""The events a speculative reply logs before it is committed or discarded."""


class Trace:
    """Append-only list of events for one session. Not thread-safe: append from the loop."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self._events: list[Event] = list(events)

    def append(self, event: Event) -> Event:
        self._events.append(event)
        return event

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def of(self, kind: type[E], turn: int | None = None) -> list[E]:
        """Events of one class (optionally of one turn), in trace order."""
        return [
            e for e in self._events
            if isinstance(e, kind) and (turn is None or getattr(e, "turn", None) == turn)
        ]

    def without_discarded(self) -> "Trace":
        """This trace without the pipeline events of discarded speculative replies: a discarded
        attempt's events (:data:`SPECULATIVE_PIPELINE_EVENTS` of its turn, in trace order between
        :class:`SpeculationStarted` and its :class:`SpeculationDiscarded`) describe work nobody
        heard. Attempts of one turn never overlap, so the ranges are exact. ``self`` if none."""
        if not any(isinstance(e, SpeculationDiscarded) for e in self._events):
            return self
        drop: set[int] = set()
        open_at: dict[int, int] = {}
        for i, e in enumerate(self._events):
            if isinstance(e, SpeculationStarted):
                open_at[e.turn] = i
            elif isinstance(e, SpeculationCommitted):
                open_at.pop(e.turn, None)
            elif isinstance(e, SpeculationDiscarded) and e.turn in open_at:
                lo = open_at.pop(e.turn)
                drop.update(j for j in range(lo, i) if isinstance(self._events[j], SPECULATIVE_PIPELINE_EVENTS)
                            and self._events[j].turn == e.turn)
        return Trace(e for i, e in enumerate(self._events) if i not in drop)

    def save_jsonl(self, path: str | Path) -> None:
        """Write one JSON object per line (see :meth:`Event.to_dict`)."""
        with open(path, "w") as f:
            for e in self._events:
                f.write(json.dumps(e.to_dict()) + "\n")

    @classmethod
    def load_jsonl(cls, path: str | Path) -> "Trace":
        """Read a trace written by :meth:`save_jsonl`. Raises ``ValueError`` on a bad line."""
        events = []
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    if "chunks" in d:
                        d["chunks"] = tuple(d["chunks"])
                    events.append(Event.from_dict(d))
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise ValueError(f"{path}:{n}: not a voicelab event ({err})") from None
        return cls(events)
