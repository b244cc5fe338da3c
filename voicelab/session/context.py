"""What every part of one session shares, and the conversation state machine's log."""

from __future__ import annotations

from dataclasses import dataclass

from voicelab.audio.mic import VirtualMicrophone
from voicelab.audio.speaker import VirtualSpeaker
from voicelab.clock import SessionClock
from voicelab.config import ExperimentConfig
from voicelab.events import StateChanged, Trace
from voicelab.session.turns import Stages

STATES = ("idle", "listening", "processing", "speaking", "paused", "interrupted")
"""The conversation states; every transition is a :class:`~voicelab.events.StateChanged`
event in the trace."""


@dataclass
class SessionContext:
    """The config, stages, clock, trace, microphone and speaker of one session."""

    config: ExperimentConfig
    stages: Stages
    clock: SessionClock
    trace: Trace
    mic: VirtualMicrophone
    speaker: VirtualSpeaker

    def transition(self, turn: int, old: str, new: str) -> str:
        """Log the state change ``old`` -> ``new`` of ``turn`` now; return ``new``."""
        self.trace.append(StateChanged(self.clock.now_ms(), turn, old, new))
        return new
