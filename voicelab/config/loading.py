"""Reading and validating YAML configs, with one ``dotted.path: message`` line per error."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from voicelab.config.experiment import ExperimentConfig


class ConfigError(ValueError):
    """A config file is missing, unreadable or invalid; the message names each field path."""


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {path}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: dict, source: str = "<dict>") -> ExperimentConfig:
    """Validate a config mapping.

    Raises:
        ConfigError: with one ``dotted.path: message`` line per problem.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {source}: top level must be a mapping, got {type(data).__name__}")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML experiment config.

    Raises:
        ConfigError: the file is missing, is not YAML, or fails validation.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config {path} is not valid YAML: {err}") from None
    return parse_config(data if data is not None else {}, str(path))
