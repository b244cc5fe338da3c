"""The VAD kinds by name, and the endpointer ``vad:`` and ``speculate:`` describe.

:data:`VAD_KINDS` wraps :data:`voicelab.vad.VADS` (the table :func:`voicelab.vad.make_vad`
reads, barge-in detection included). Adding a VAD: its class in that table (or
``VAD_KINDS.register(name, cls)``), its name in ``VADConfig.kind``'s ``Literal``
(:mod:`voicelab.config.stages`) and, if the config carries its settings, an entry in
:data:`VAD_PARAMS`.

The endpointer is built from settings, not a loaded model: every session (and every sweep
point sharing loaded models) gets its own (:func:`with_config_endpointer`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from voicelab.config import ExperimentConfig, SpeculateConfig, VADConfig
from voicelab.session.turns import Stages
from voicelab.stages.registry import Registry
from voicelab.vad import VADS
from voicelab.vad.base import VAD
from voicelab.vad.endpointing import Endpointer

VAD_KINDS: Registry[type[VAD]] = Registry("VAD kind", VADS)
"""VAD classes by ``vad.kind`` (the same dict as :data:`voicelab.vad.VADS`)."""

VAD_PARAMS: dict[str, Callable[[VADConfig], dict[str, Any]]] = {
    "silero": lambda vad: {"threads": vad.threads},
    "energy": lambda vad: {"threshold": vad.energy_threshold},
    "webrtc": lambda vad: {"aggressiveness": vad.webrtc_aggressiveness},
}
"""The constructor arguments of each kind taken from ``vad:`` (a kind not here gets none)."""


def make_config_vad(vad: VADConfig) -> VAD:
    """The VAD ``vad.kind`` names, with its settings from ``vad`` (:data:`VAD_PARAMS`).

    Raises:
        voicelab.stages.registry.UnknownName: no VAD of that kind (the message lists them).
    """
    cls = VAD_KINDS.get(vad.kind)
    return cls(**VAD_PARAMS.get(vad.kind, lambda _: {})(vad))


def endpointer_factory(vad: VADConfig, speculate: SpeculateConfig | None = None) -> Callable[[], Endpointer]:
    """A factory building a fresh VAD + endpointer from the VAD config (and, with
    speculation enabled, its tentative-end silence).

    Raises (the factory, when called):
        voicelab.stages.registry.UnknownName: no VAD of kind ``vad.kind``.
    """
    def make() -> Endpointer:
        return Endpointer(make_config_vad(vad), threshold=vad.threshold,
                          min_speech_ms=vad.min_speech_ms, min_silence_ms=vad.min_silence_ms,
                          speech_pad_ms=vad.speech_pad_ms,
                          max_silence_ms=vad.max_silence_ms if vad.turn_detector != "none" else None,
                          speculate_ms=speculate.after_silence_ms if speculate and speculate.enabled else None)
    return make


def with_config_endpointer(stages: Stages, config: ExperimentConfig) -> Stages:
    """``stages`` with the endpointer ``config`` asks for: the endpointer is built from
    settings, not a loaded model, so points of a sweep that share models still each get
    their own VAD and endpointing settings."""
    return dataclasses.replace(stages, make_endpointer=endpointer_factory(config.vad, config.speculate))
