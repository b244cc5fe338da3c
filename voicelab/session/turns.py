"""The session's data: what a user turn is, which stages answer it, what a session produced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from voicelab.audio.clips import Clip
from voicelab.config import Variant
from voicelab.events import Trace
from voicelab.llm.base import LLM
from voicelab.stt.base import STT
from voicelab.tts.base import TTS
from voicelab.vad.endpointing import Endpointer


@dataclass(frozen=True)
class TurnSpec:
    """One user turn: a clip, the trigger variant answering it, and whether it is warm-up.

    ``start``/``offset_ms``: when the clip starts (see :class:`voicelab.config.ScenarioTurn`);
    ``offset_ms`` None = ``audio.turn_gap_ms``; ``backchannel``: ground truth that the clip is
    listener feedback ("mm-hm"), not meant to interrupt (see :class:`voicelab.config.ScenarioTurn`).

    ``speech_bounds_ms``: true (start, end) of speech within the clip, ms, from its
    reference (:func:`voicelab.truth.reference.clip_reference`).
    """

    clip: Clip
    variant: Variant
    warmup: bool
    speech_bounds_ms: tuple[float, float]
    start: str = "after_reply"
    offset_ms: float | None = None
    backchannel: bool = False


class TurnDetector(Protocol):
    """Judges whether an utterance is complete (e.g. Smart Turn through
    :class:`voicelab.vad.turn_detector.ThreadedTurnDetector`, which runs the model in a
    worker thread so the event loop keeps pacing audio)."""

    async def judge(self, audio: np.ndarray) -> float:
        """P(complete) of the utterance so far: float32 mono 16 kHz, shape ``(n,)``."""
        ...


@dataclass
class Stages:
    """The model stages of a session (loaded once per run, shared by sessions).

    ``turn_detector``: used when ``vad.turn_detector`` is not ``"none"`` (the endpointer
    then pauses at ``min_silence_ms`` and ends at ``max_silence_ms``). ``fault_plans``: the
    injected failures of the wrapped stages by stage name (``faults:`` config,
    :func:`voicelab.faults.with_faults`); a session logs each as ``FaultInjected``.
    """

    make_endpointer: Callable[[], Endpointer]
    stt: STT
    llm: LLM
    tts: TTS
    turn_detector: TurnDetector | None = None
    fault_plans: dict = field(default_factory=dict)


@dataclass
class SessionResult:
    """What a session produced: the trace and both audio timelines.

    ``input_audio``: float32 at 16 kHz; ``agent_audio``: float32 at ``agent_rate`` Hz;
    sample ``n`` of either is at ``n / rate`` s on the session clock. ``aec_audio``: with
    echo cancellation, what the consumers heard (the canceller's output), float32 at
    16 kHz on the same clock; None without.
    """

    trace: Trace
    input_audio: np.ndarray
    agent_audio: np.ndarray
    agent_rate: int
    turns: list[TurnSpec] = field(default_factory=list)
    aec_audio: np.ndarray | None = None


@dataclass
class TurnState:
    """Bookkeeping of one user turn (futures resolve to session times in ms)."""

    spec: TurnSpec
    started: asyncio.Future   # first sample of the reply played
    done: asyncio.Future      # the turn is over: reply played, cut off, or no reply
    handled: bool = False     # its utterance was taken (or the turn was given up)
