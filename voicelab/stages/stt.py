"""The STT engines by name, and building the STT stage from ``stt:``.

Adding an engine: a factory ``(STTConfig) -> STT`` registered in :data:`STT_ENGINES`, one
decorated function in this module (importing the engine's module inside it, so a config
that does not pick the engine does not load its libraries)::

    @STT_ENGINES.register("vosk")
    def _vosk(config: STTConfig) -> STT:
        from voicelab.stt.vosk import VoskSTT

        return VoskSTT(config)

A config picks it with ``stt: {engine: vosk}`` (:attr:`voicelab.config.STTConfig.engine` is a
free name, checked here at load, so the config module does not change).
"""

from __future__ import annotations

from collections.abc import Callable

from voicelab.config import STTConfig
from voicelab.stages.registry import Registry
from voicelab.stt.base import STT

STT_ENGINES: Registry[Callable[[STTConfig], STT]] = Registry("STT engine")
"""STT factories by engine name: each builds the stage (loaded, not warmed up) from ``stt:``."""

DEFAULT_ENGINE = "whisper"
"""The engine of a config that names none."""


@STT_ENGINES.register("whisper")
def _whisper(config: STTConfig) -> STT:
    from voicelab.stt.whisper import WhisperSTT

    return WhisperSTT(config)


def engine_name(config: STTConfig) -> str:
    """The engine ``config`` picks: ``stt.engine``, or :data:`DEFAULT_ENGINE` when empty."""
    return config.engine or DEFAULT_ENGINE


def make_stt(config: STTConfig) -> STT:
    """The STT stage :func:`engine_name` picks, loaded (not warmed up) from ``config``.

    Raises:
        voicelab.stages.registry.UnknownName: no engine of that name (the message lists them).
        voicelab.assets.AssetError: its model asset is missing or corrupt.
    """
    return STT_ENGINES.get(engine_name(config))(config)
