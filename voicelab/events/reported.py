"""Events of peer engines: what another framework says about its own latency."""

from __future__ import annotations

from dataclasses import dataclass

from voicelab.events.base import Event


@dataclass(frozen=True)
class PeerReported(Event):
    """A figure a peer engine reported about itself (``t_ms``: when it reported it).

    ``engine``: e.g. ``pipecat``; ``source``: what reported it (``UserBotLatencyObserver``,
    or a service's metrics, e.g. ``WhisperSTTService#0``); ``metric``: ``user_bot_latency``
    (the framework's own voice-to-voice), ``ttfb`` or ``processing``; ``value_ms``: the
    figure in ms, as reported (Pipecat reports seconds; multiplied by 1000).
    """

    turn: int
    engine: str
    source: str
    metric: str
    value_ms: float
