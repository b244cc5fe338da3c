"""Barge-in detection: is the user taking the turn while the agent speaks?"""

from __future__ import annotations

from voicelab.config import BargeInConfig


class BargeInDetector:
    """Fires once speech frames have lasted ``min_barge_in_ms`` while the agent speaks.

    Frame probabilities come from a VAD (32 ms frames). While agent audio is playing,
    ``echo_guard_threshold`` (if set) replaces ``threshold``: a raised bar against the
    agent's own echo. Any frame below the threshold restarts the count.
    """

    def __init__(self, config: BargeInConfig, frame_ms: float = 32.0) -> None:
        self.config = config
        self.frame_ms = frame_ms
        self.reset()

    def reset(self) -> None:
        """Forget the current speech run (call when the agent stops speaking)."""
        self._run_ms = 0.0

    def process(self, probability: float, agent_playing: bool) -> bool:
        """Feed one frame's speech probability; True when the detector fires."""
        c = self.config
        threshold = c.echo_guard_threshold if (agent_playing and c.echo_guard_threshold is not None) \
            else c.threshold
        if probability >= threshold:
            self._run_ms += self.frame_ms
        else:
            self._run_ms = 0.0
        return self._run_ms >= max(c.min_barge_in_ms, self.frame_ms)
