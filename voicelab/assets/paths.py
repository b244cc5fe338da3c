"""Resolving a configured model name to files: an asset name or a filesystem path."""

from __future__ import annotations

from pathlib import Path

from voicelab.assets.cache import asset_path


def resolve_model_path(name_or_path: str) -> Path:
    """``name_or_path`` if it exists on disk, else the verified asset of that name.

    Raises:
        voicelab.assets.AssetError: not a path and the asset is missing or corrupt
            (the message names the command that rebuilds it).
    """
    p = Path(name_or_path).expanduser()
    if p.exists():
        return p
    return asset_path(name_or_path)
