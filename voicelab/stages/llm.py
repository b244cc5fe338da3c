"""The LLM engines by name, and building the LLM stage from ``llm:``.

Adding an engine: a factory ``(LLMConfig) -> LLM`` registered in :data:`LLM_ENGINES`, one
decorated function in this module, importing the engine's module inside it (see
:mod:`voicelab.stages.stt`); a config picks it with ``llm: {engine: <name>}``.
"""

from __future__ import annotations

from collections.abc import Callable

from voicelab.config import LLMConfig
from voicelab.llm.base import LLM
from voicelab.stages.registry import Registry

LLM_ENGINES: Registry[Callable[[LLMConfig], LLM]] = Registry("LLM engine")
"""LLM factories by engine name: each builds the stage (loaded, not warmed up) from ``llm:``."""

DEFAULT_ENGINE = "transformers"
"""The engine of a config that names none."""


@LLM_ENGINES.register("transformers")
def _transformers(config: LLMConfig) -> LLM:
    from voicelab.llm.transformers_llm import TransformersLLM

    return TransformersLLM(config)


def engine_name(config: LLMConfig) -> str:
    """The engine ``config`` picks: ``llm.engine``, or :data:`DEFAULT_ENGINE` when empty."""
    return config.engine or DEFAULT_ENGINE


def make_llm(config: LLMConfig) -> LLM:
    """The LLM stage :func:`engine_name` picks, loaded (not warmed up) from ``config``.

    Raises:
        voicelab.stages.registry.UnknownName: no engine of that name (the message lists them).
        voicelab.assets.AssetError: its model asset is missing or corrupt.
    """
    return LLM_ENGINES.get(engine_name(config))(config)
