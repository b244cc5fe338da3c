"""Experiment configuration: one validated pydantic model mirroring the YAML files.

Every model rejects unknown keys (``extra="forbid"``) and bad values; the error
raised by :func:`load_config` names the dotted path of each offending field, e.g.
``trigger.words: Input should be greater than or equal to 1``.

The models live in submodules by reason to change: :mod:`~voicelab.config.stages`
(VAD, STT, LLM, trigger, TTS, audio), :mod:`~voicelab.config.duplex` (echo path, echo
cancellation, barge-in), :mod:`~voicelab.config.experiment` (the whole experiment,
scenarios, variants, sweeps) and :mod:`~voicelab.config.loading` (YAML in, errors out);
everything is importable from here.
"""

from voicelab.config.duplex import BACKCHANNELS, AECConfig, BargeInConfig, EchoConfig, RoomConfig
from voicelab.config.experiment import ExperimentConfig, ScenarioTurn, SpeculateConfig, SweepConfig, Variant
from voicelab.config.faults import FaultsConfig, StageFault
from voicelab.config.loading import ConfigError, load_config, parse_config, set_path, with_overrides
from voicelab.config.stages import (
    TTS_DEFAULT_MODELS,
    TTS_MODEL_ASSETS,
    AudioConfig,
    Exchange,
    LLMConfig,
    STTConfig,
    TriggerConfig,
    TTSConfig,
    VADConfig,
)

__all__ = ["AECConfig", "BACKCHANNELS", "FaultsConfig", "StageFault", "TTS_DEFAULT_MODELS", "TTS_MODEL_ASSETS",
           "AudioConfig", "BargeInConfig", "ConfigError", "EchoConfig", "Exchange",
           "ExperimentConfig", "LLMConfig", "RoomConfig", "STTConfig", "ScenarioTurn",
           "SpeculateConfig", "SweepConfig", "TTSConfig", "TriggerConfig", "VADConfig", "Variant",
           "load_config", "parse_config", "set_path", "with_overrides"]
