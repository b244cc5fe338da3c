"""The end-of-turn detectors by ``vad.turn_detector`` name.

Adding one: a factory ``(VADConfig) -> TurnDetector`` registered in :data:`TURN_DETECTORS`
(one decorated function here, importing its module inside) and its name in
``VADConfig.turn_detector``'s ``Literal`` (:mod:`voicelab.config.stages`).
"""

from __future__ import annotations

from collections.abc import Callable

from voicelab.config import VADConfig
from voicelab.session.turns import TurnDetector
from voicelab.stages.registry import Registry

NO_DETECTOR = "none"
"""The ``vad.turn_detector`` value that loads no detector (silence alone ends a turn)."""

TURN_DETECTORS: Registry[Callable[[VADConfig], TurnDetector]] = Registry("turn detector")
"""Turn detector factories by ``vad.turn_detector`` name (each builds it loaded, not warmed up)."""


@TURN_DETECTORS.register("smart-turn")
def _smart_turn(vad: VADConfig) -> TurnDetector:
    from voicelab.vad.turn_detector import SmartTurnDetector, ThreadedTurnDetector

    return ThreadedTurnDetector(SmartTurnDetector())


def make_turn_detector(vad: VADConfig) -> TurnDetector | None:
    """The detector ``vad.turn_detector`` names, loaded (not warmed up); None for ``"none"``.

    Raises:
        voicelab.stages.registry.UnknownName: no detector of that name (the message lists them).
        voicelab.assets.AssetError: its model asset is missing or corrupt.
    """
    if vad.turn_detector == NO_DETECTOR:
        return None
    return TURN_DETECTORS.get(vad.turn_detector)(vad)
