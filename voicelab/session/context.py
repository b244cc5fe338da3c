"""What every part of one session shares, and the conversation state machine's log."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from voicelab.audio.mic import VirtualMicrophone
from voicelab.audio.speaker import VirtualSpeaker
from voicelab.clock import SessionClock
from voicelab.config import ExperimentConfig
from voicelab.events import StateChanged, Trace
from voicelab.session.turns import Stages


class ConversationState(StrEnum):
    """A turn's conversation state; its value is the name a
    :class:`~voicelab.events.StateChanged` event carries (``"idle"``, ...)."""

    IDLE = "idle"
    LISTENING = "listening"
    PROCESSING = "processing"
    SPEAKING = "speaking"
    PAUSED = "paused"
    INTERRUPTED = "interrupted"


STATES = tuple(s.value for s in ConversationState)
"""The conversation states' names; every transition is a :class:`~voicelab.events.StateChanged`
event in the trace."""

_S = ConversationState
ALLOWED: dict[ConversationState, frozenset[ConversationState]] = {
    _S.IDLE: frozenset({_S.LISTENING}),                         # the user's turn starts (not a barge-in)
    _S.LISTENING: frozenset({_S.PROCESSING}),                   # endpoint (or a speculation committed)
    _S.PROCESSING: frozenset({_S.SPEAKING, _S.IDLE}),           # first audio queued; or no transcript
    _S.SPEAKING: frozenset({_S.IDLE, _S.INTERRUPTED, _S.PAUSED}),  # played out; barge-in cut; paused
    _S.PAUSED: frozenset({_S.SPEAKING, _S.INTERRUPTED}),        # barge-in dismissed (resumed); confirmed
    _S.INTERRUPTED: frozenset({_S.IDLE}),                       # the cut reply has wound down
}
"""The transitions :meth:`SessionContext.transition` logs: ``ALLOWED[old]`` is the set of
states a turn may go to from ``old``. A barge-in turn starts without ``idle -> listening``
(the agent is still answering the previous one); its first transition is
``listening -> processing``."""


@dataclass
class SessionContext:
    """The config, stages, clock, trace, microphone and speaker of one session."""

    config: ExperimentConfig
    stages: Stages
    clock: SessionClock
    trace: Trace
    mic: VirtualMicrophone
    speaker: VirtualSpeaker

    def transition(self, turn: int, old: ConversationState | str, new: ConversationState | str) -> ConversationState:
        """Log the state change ``old`` -> ``new`` of ``turn`` now (a
        :class:`~voicelab.events.StateChanged` with the states' names); return ``new``.

        Raises:
            ValueError: a state is not a :class:`ConversationState` name, or ``new`` is not in
                ``ALLOWED[old]`` (nothing is logged then).
        """
        old, new = ConversationState(old), ConversationState(new)
        if new not in ALLOWED[old]:
            allowed = ", ".join(sorted(s.value for s in ALLOWED[old]))
            raise ValueError(f"turn {turn}: {old.value!r} -> {new.value!r} is not an allowed conversation "
                             f"state transition (from {old.value!r}: {allowed})")
        self.trace.append(StateChanged(self.clock.now_ms(), turn, old.value, new.value))
        return new
