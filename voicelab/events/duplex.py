"""Full-duplex events: barge-in detection, pause / resume / confirm, and cancellation."""

from __future__ import annotations

from dataclasses import dataclass

from voicelab.events.base import Event


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
