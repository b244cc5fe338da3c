"""Reading and validating YAML configs, with one ``dotted.path: message`` line per error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

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


def set_path(data: dict, path: str, value: Any, context: str = "") -> None:
    """Set ``data[a][b][c] = value`` for ``path`` "a.b.c"; every key must exist.

    Raises:
        ConfigError: ``{context}{path}: ... has no field ...`` naming the fields there.
    """
    parts = path.split(".")
    node = data
    for depth, key in enumerate(parts):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(parts[:depth]) or "(top level)"
            options = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
            raise ConfigError(f"{context}{path}: {where} has no field {key!r} (fields: {options})")
        if depth == len(parts) - 1:
            node[key] = value
        else:
            node = node[key]


def with_overrides(config: ExperimentConfig, overrides: dict[str, Any], source: str = "overrides") -> ExperimentConfig:
    """``config`` with ``overrides`` applied: dotted paths (``"trigger.words": 3``) or whole
    sections (``"vad": {...}``, merged into the section), validated like a YAML config.

    Raises:
        ConfigError: a path names no field, or the result does not validate (field paths named).
    """
    data = copy.deepcopy(config.model_dump(mode="json"))
    for path, value in overrides.items():
        node = data
        for key in path.split(".")[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        leaf = path.split(".")[-1]
        if isinstance(value, dict) and isinstance(node, dict) and isinstance(node.get(leaf), dict):
            for key, v in value.items():  # a section: each of its keys must exist
                set_path(data, f"{path}.{key}", v)
        else:
            set_path(data, path, value)
    return parse_config(data, source)
