"""Peer engines: other frameworks' voice agents, measured in the same session as voicelab's.

A variant with ``engine: pipecat`` is answered by a stock Pipecat pipeline
(:mod:`voicelab.peers.pipecat`) sharing the session's microphone, speaker, clock, trace
and models (see :mod:`voicelab.session.peer_engine` for the seam). Frameworks are optional
extras, imported only when a config asks for them.
"""

from __future__ import annotations

import importlib.util

from voicelab.config import ExperimentConfig
from voicelab.session.peer_engine import PeerEngine
from voicelab.session.turns import Stages

EXTRAS = {"pipecat": "pipecat"}
"""The pip extra of each peer engine: ``pip install 'voicelab[pipecat]'``."""


class PeerUnavailable(ImportError):
    """A config asks for a peer engine whose framework is not installed."""


def require_peers(config: ExperimentConfig) -> None:
    """Check that every peer engine the config asks for is installed (before any model loads).

    Raises:
        PeerUnavailable: the framework is not installed (the message names the extra).
    """
    for v in config.resolved_variants():
        if v.engine != "voicelab" and importlib.util.find_spec(EXTRAS[v.engine]) is None:
            raise PeerUnavailable(f"variant {v.name!r} uses engine: {v.engine}, which is not installed: "
                                  f"pip install 'voicelab[{EXTRAS[v.engine]}]'")


def make_peers(config: ExperimentConfig, stages: Stages) -> list[PeerEngine]:
    """One peer engine per variant whose ``engine`` is not voicelab.

    Raises:
        PeerUnavailable: the framework is not installed (the message names the extra).
    """
    peers: list[PeerEngine] = []
    for v in config.resolved_variants():
        if v.engine == "voicelab":
            continue
        try:
            from voicelab.peers.pipecat import PipecatEngine
        except ImportError as e:
            raise PeerUnavailable(f"variant {v.name!r} uses engine: {v.engine}, but {e.name or 'it'} is not "
                                  f"installed: pip install 'voicelab[{EXTRAS[v.engine]}]'") from e
        peers.append(PipecatEngine(config, v, stages))
    return peers
