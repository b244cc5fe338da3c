"""The model manager of a server: one model set per process, shared by every session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voicelab.config import ConfigError, ExperimentConfig, with_overrides
from voicelab.events import ModelLoaded
from voicelab.faults import with_faults
from voicelab.session import Stages
from voicelab.stages import load_stages, with_config_endpointer

SESSION_SECTIONS = ("trigger", "vad", "barge_in", "speculate")
"""What a client may change per session (``start`` / ``config`` overrides): the policies, not
the models, which every session shares."""


class ModelManager:
    """Loads the models once and hands each session the shared stages with its own endpointer.

    Scheduling: Whisper and Kokoro each run one call at a time in their own worker thread,
    in arrival order (a FIFO queue per model: sessions take turns); LLM generations of
    different sessions run concurrently in their own threads and share the cores, so one
    session's long reply never holds back another's first token.

    Raises (constructor):
        voicelab.assets.AssetError: a model asset is missing or corrupt.
    """

    def __init__(self, config: ExperimentConfig, stages: tuple[Stages, list[ModelLoaded]] | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.config = config
        self.stages, self.loaded = stages or load_stages(config, log)

    def session_config(self, overrides: dict[str, Any], base: ExperimentConfig | None = None) -> ExperimentConfig:
        """``base`` (default: the server's config) with a client's overrides, validated.

        Raises:
            ConfigError: a key outside :data:`SESSION_SECTIONS`, a bad path or value, or a
                setting that needs a model the server has not loaded (Smart Turn).
        """
        for key in overrides:
            if key.split(".")[0] not in SESSION_SECTIONS:
                raise ConfigError(f"{key}: only {', '.join(SESSION_SECTIONS)} can change per session "
                                  "(the models are shared)")
        config = with_overrides(base or self.config, overrides, "session overrides")
        if config.vad.turn_detector != "none" and self.stages.turn_detector is None:
            raise ConfigError("vad.turn_detector: this server has no turn detector loaded (start it with one)")
        return config

    def stages_for(self, config: ExperimentConfig) -> Stages:
        """The shared models with an endpointer built from ``config`` (one per session), and
        the stage faults ``config.faults`` injects (wrappers of the session's own)."""
        return with_faults(with_config_endpointer(self.stages, config), config.faults)
