"""What a live client is told about its session: the updates :class:`~voicelab.live.translate.LiveTranslator` makes.

One vocabulary for every client: ``voicelab serve`` encodes these as protocol JSON
(:class:`voicelab.serve.publish.EventPublisher`, ``docs/protocol.md``), the notebook as
anywidget messages and readouts (:class:`voicelab.lab.live.LiveLink`). A client renders the
updates it has a use for and ignores the rest. Times are ms on the session clock (t = 0 at the
first sample the client sent); ``turn`` is the session's turn number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpeechActivity:
    """The endpointer heard the user start (``speaking``: a turn opens) or stop (an end, or a
    pause it waits on) speaking. ``t_ms``: when it decided; ``audio_ms``: where in the client's
    audio (the padded speech start, or end)."""

    turn: int
    speaking: bool
    t_ms: float
    audio_ms: float


@dataclass(frozen=True)
class StateUpdate:
    """The turn's conversation state changed to ``state`` (a
    :class:`~voicelab.session.context.ConversationState` name) from ``old``."""

    turn: int
    state: str
    old: str


@dataclass(frozen=True)
class Transcript:
    """The final transcript of the user's turn."""

    turn: int
    text: str


@dataclass(frozen=True)
class ReplyText:
    """One chunk of the reply's text, as the trigger policy released it to speech synthesis."""

    turn: int
    text: str


@dataclass(frozen=True)
class ReplyTextEnded:
    """The reply's generation is over: no more :class:`ReplyText` for ``turn``."""

    turn: int


@dataclass(frozen=True)
class ReplyDiscarded:
    """A speculative reply to ``turn`` was discarded (the user went on speaking): its text so
    far is void."""

    turn: int


@dataclass(frozen=True)
class ReplyProgress:
    """How far the reply to ``turn`` has got: LLM tokens generated, chunks triggered and
    chunks synthesized so far (counts)."""

    turn: int
    llm_tokens: int
    tts_chunks_triggered: int
    tts_chunks_synthesized: int


@dataclass(frozen=True, eq=False)
class ReplyAudio:
    """One segment of reply audio, sent when the agent's speaker starts playing it.

    ``audio``: float32 mono PCM at ``rate`` Hz (the TTS rate, 24000 for Kokoro), shape ``(n,)``;
    ``start_sample``: where it starts on the speaker's timeline (samples at ``rate`` since the
    session started); ``request``: the TTS request it came from."""

    turn: int
    request: int
    rate: int
    start_sample: int
    audio: np.ndarray


@dataclass(frozen=True)
class PlaybackCut:
    """The agent's playback of ``turn`` stopped (``interrupted``: a barge-in cut the reply) or
    paused (``interrupted`` False: ``barge_in.mode: pause_confirm``, not a duck) after speaker
    sample ``sample_index`` - 1. ``audio_sent``: some :class:`ReplyAudio` went out since the
    previous cut (a client that still schedules it drops it)."""

    turn: int
    t_ms: float
    sample_index: int
    interrupted: bool
    audio_sent: bool


@dataclass(frozen=True)
class SynthesisFailed:
    """Speech synthesis of TTS request ``request`` failed (``error``): the reply goes on as text."""

    turn: int
    request: int
    error: str


@dataclass(frozen=True)
class TurnEnded:
    """The turn is over (:func:`~voicelab.live.translate.turn_completed`).

    ``row``: its ``turns.csv`` row as a dict, measured from its own events by
    :class:`~voicelab.measure.live.LiveTurnMeter` (None: the turn has no row, no user turn
    was planned); ``interrupted``: a barge-in cut its reply."""

    turn: int
    row: dict | None
    interrupted: bool


Update = (SpeechActivity | StateUpdate | Transcript | ReplyText | ReplyTextEnded | ReplyDiscarded | ReplyProgress
          | ReplyAudio | PlaybackCut | SynthesisFailed | TurnEnded)
"""Any update a :class:`~voicelab.live.translate.LiveTranslator` hands its client."""

__all__ = ["PlaybackCut", "ReplyAudio", "ReplyDiscarded", "ReplyProgress", "ReplyText", "ReplyTextEnded",
           "SpeechActivity", "StateUpdate", "SynthesisFailed", "Transcript", "TurnEnded", "Update"]
