"""The asset cache: its layout, asset specs, manifests and stamps, verification.

Generic machinery, no model-specific code (the assets themselves are declared in
:mod:`voicelab.assets.catalog`, built by :mod:`voicelab.assets.building`). In
``<home>/assets/<name>/`` every asset has a ``MANIFEST.sha256`` (``sha256sum -c``
format) and, once every file matched its pin and the functional check passed, a
``.verified`` stamp. :func:`asset_path` resolves names to paths for the stages,
re-checking the files against the stamp and raising :class:`AssetError` with the
command that rebuilds them when something is missing or corrupt.

``<home>`` is :func:`voicelab_home`: ``$VOICELAB_HOME`` or ``~/.cache/voicelab``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicelab.assets.fetch import Download

MANIFEST = "MANIFEST.sha256"
STAMP = ".verified"
_HASH_CHUNK = 1 << 20


class AssetError(RuntimeError):
    """An asset is unknown, missing, corrupt or could not be built.

    The message names the asset, the path concerned and the command that rebuilds it.
    """


def voicelab_home() -> Path:
    """The cache root: ``$VOICELAB_HOME`` if set, else ``~/.cache/voicelab``."""
    env = os.environ.get("VOICELAB_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "voicelab"


def display_path(path: str | Path) -> str:
    """``path`` as a report shows it: ``$VOICELAB_HOME/...`` under :func:`voicelab_home`,
    ``~/...`` under the user's home, else unchanged (so a published summary names no user's
    directory)."""
    p = Path(path).expanduser()
    for root, label in ((voicelab_home(), "$VOICELAB_HOME"), (Path.home(), "~")):
        try:
            return f"{label}/{p.resolve().relative_to(root.resolve()).as_posix()}"
        except (ValueError, OSError):
            continue
    return str(path)


def _assets_dir() -> Path:
    return voicelab_home() / "assets"


def _downloads_dir() -> Path:
    return voicelab_home() / "downloads"


def _rebuild_hint(name: str) -> str:
    return f"Rebuild it with `make setup` or `python -m voicelab.assets build {name}`."


def _say(message: str) -> None:
    print(f"voicelab.assets: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- specs


Builder = Callable[[Sequence[Path], Path], None]
"""``builder(downloads, out)``: write the asset's files into the empty directory ``out``
from the downloaded files (in :attr:`AssetSpec.downloads` order); raise on failure."""


@dataclass(frozen=True)
class AssetSpec:
    """How one asset is made and checked.

    Attributes:
        name: the asset name (also its directory under ``<home>/assets/``).
        description: one line for messages.
        downloads: the registry artifacts it is built from.
        builder: writes the files (see :data:`Builder`); may run functional checks.
        files: pinned sha256 of every output file (relative path -> hex digest), or
            ``None`` when the output is not byte-reproducible across machines; then
            the manifest measured at build time is the reference.
        entry: the file :func:`asset_path` returns, relative to the asset directory;
            ``None`` returns the directory.
    """

    name: str
    description: str
    downloads: tuple[Download, ...]
    builder: Builder
    files: Mapping[str, str] | None
    entry: str | None = None


@dataclass(frozen=True)
class BuildResult:
    """Outcome of :func:`build` for one asset.

    Attributes:
        name: the asset.
        path: what :func:`asset_path` returns for it.
        built: ``False`` when it was already verified and skipped.
        seconds: wall time spent on it (download + build + checks), seconds.
    """

    name: str
    path: Path
    built: bool
    seconds: float


# --------------------------------------------------------------------------- hashing


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _list_files(root: Path) -> list[str]:
    """Relative POSIX paths of the regular files under ``root``, without MANIFEST/stamp."""
    out = []
    for p in root.rglob("*"):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            if rel not in (MANIFEST, STAMP):
                out.append(rel)
    return sorted(out)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _format_manifest(manifest: Mapping[str, str]) -> str:
    return "".join(f"{manifest[rel]}  {rel}\n" for rel in sorted(manifest))


def _read_manifest(path: Path) -> dict[str, str]:
    manifest = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, rel = line.split(None, 1)
            manifest[rel.strip().lstrip("*")] = digest
    return manifest


def _write_stamp(asset_dir: Path, name: str, manifest: Mapping[str, str]) -> None:
    """``.verified``: the manifest plus each file's size and mtime (the fast-path key)."""
    files = {}
    for rel, digest in sorted(manifest.items()):
        st = (asset_dir / rel).stat()
        files[rel] = {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    stamp = {"asset": name, "files": files}
    _write_text_atomic(asset_dir / STAMP, json.dumps(stamp, indent=1, sort_keys=True) + "\n")


def _extract_member(zf: zipfile.ZipFile, member: str, dest: Path) -> None:
    with zf.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, _HASH_CHUNK)


# --------------------------------------------------------------------------- verify / path


def _registry() -> Mapping[str, AssetSpec]:
    # Imported on use: the catalog imports the model modules, which build on this one.
    from voicelab.assets.catalog import ASSETS

    return ASSETS


def _spec(name: str) -> AssetSpec:
    assets = _registry()
    try:
        return assets[name]
    except KeyError:
        raise AssetError(f"unknown asset {name!r}; known assets: {', '.join(sorted(assets))}") from None


def _expected_manifest(spec: AssetSpec, asset_dir: Path) -> dict[str, str]:
    """The reference hashes: the pins, or the manifest written at build time."""
    manifest_path = asset_dir / MANIFEST
    if not manifest_path.is_file():
        raise AssetError(f"asset {spec.name!r} at {asset_dir} has no {MANIFEST} (incomplete or "
                         f"foreign directory). {_rebuild_hint(spec.name)}")
    written = _read_manifest(manifest_path)
    if spec.files is None:
        return written
    pinned = dict(spec.files)
    if written != pinned:
        diffs = [f"{rel}: expected sha256 {pinned.get(rel, '(not part of the asset)')}, "
                 f"manifest has {written.get(rel, '(absent)')}"
                 for rel in sorted(set(pinned) | set(written)) if pinned.get(rel) != written.get(rel)]
        raise AssetError(f"asset {spec.name!r} at {asset_dir} was built from different sources "
                         f"than this version of voicelab pins: {'; '.join(diffs)}. "
                         f"{_rebuild_hint(spec.name)}")
    return pinned


def verify(name: str, full: bool = False) -> dict[str, str]:
    """Check that asset ``name`` is built and intact.

    Fast path (default): when the ``.verified`` stamp records the expected hashes and
    every file's size and modification time (ns) still match it, nothing is re-hashed.
    Otherwise (or with ``full=True``) every file is re-hashed; if all match, the stamp
    is refreshed.

    Args:
        name: an asset name (a key of :data:`~voicelab.assets.catalog.ASSETS`).
        full: always re-hash every file.

    Returns:
        The asset's manifest: relative path -> sha256 (hex).

    Raises:
        AssetError: unknown name; asset directory, stamp, manifest or a file missing;
            a file's sha256 differs from the pin/manifest (message gives expected and
            actual). Every message names the rebuild command.
    """
    spec = _spec(name)
    asset_dir = _assets_dir() / name
    if not asset_dir.is_dir():
        raise AssetError(f"asset {name!r} ({spec.description}) is missing: {asset_dir} does not "
                         f"exist. Build it with `make setup` or `python -m voicelab.assets build {name}`.")
    stamp_path = asset_dir / STAMP
    if not stamp_path.is_file():
        raise AssetError(f"asset {name!r} at {asset_dir} is not verified (no {STAMP} stamp: the "
                         f"build did not finish). {_rebuild_hint(name)}")
    expected = _expected_manifest(spec, asset_dir)
    try:
        stamp_files = json.loads(stamp_path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        stamp_files = {}

    if not full and set(stamp_files) == set(expected) and all(
            _stat_matches(asset_dir / rel, stamp_files[rel], expected[rel]) for rel in expected):
        return expected

    for rel, digest in sorted(expected.items()):
        path = asset_dir / rel
        if not path.is_file():
            raise AssetError(f"asset {name!r} is incomplete: {path} is missing. {_rebuild_hint(name)}")
        actual = _sha256_file(path)
        if actual != digest:
            raise AssetError(f"asset {name!r} is corrupt: {path} has sha256 {actual}, expected "
                             f"{digest}. {_rebuild_hint(name)}")
    _write_stamp(asset_dir, name, expected)
    return expected


def _stat_matches(path: Path, entry: Mapping[str, object], digest: str) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return (entry.get("sha256") == digest and entry.get("size") == st.st_size
            and entry.get("mtime_ns") == st.st_mtime_ns)


def asset_path(name: str) -> Path:
    """The verified asset ``name``: its directory, or its file for the kokoro assets.

    See the table in the :mod:`voicelab.assets.catalog` docstring for which. Runs
    :func:`verify` (fast path).

    Raises:
        AssetError: unknown, missing, unverified or corrupt asset (the message names
            the asset, the path and `make setup` / `python -m voicelab.assets build NAME`).
    """
    spec = _spec(name)
    verify(name)
    asset_dir = _assets_dir() / name
    return asset_dir / spec.entry if spec.entry else asset_dir
