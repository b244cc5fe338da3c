"""``smart-turn-v3.2``: Smart Turn v3.2 end-of-turn model (ONNX, CPU), from PyPI ``pipecat-ai``.

:func:`~voicelab.assets.asset_path` returns the file ``smart-turn-v3.2-cpu.onnx``
(8,679,182 bytes; input ``input_features`` float32 ``(B, 80, 800)``, output ``logits``
float32 ``(B, 1)``, already a sigmoid probability), extracted as is from the
``pipecat-ai==1.14.0`` wheel (BSD-2-Clause, Daily), which bundles it at
``pipecat/audio/turn/smart_turn/data/``. Only that member is read from the wheel;
pipecat is never installed. Used by :class:`voicelab.vad.turn_detector.SmartTurnDetector`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from voicelab.assets.cache import AssetSpec, _extract_member
from voicelab.assets.fetch import _pypi

SMART_TURN_ONNX = "smart-turn-v3.2-cpu.onnx"
SMART_TURN_ONNX_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
SMART_TURN_WHEEL_MEMBER = "pipecat/audio/turn/smart_turn/data/" + SMART_TURN_ONNX
PIPECAT_WHEEL = _pypi("pipecat-ai==1.14.0", "pipecat_ai-1.14.0-py3-none-any.whl",
                      "0352f504b44e78bdf524e45af4bc759601c835b9b7dc195efe5e03384b974a44")
"""The wheel that carries the model (12.1 MB); also holds pipecat's reference feature
extractor ``pipecat/audio/turn/smart_turn/_whisper_features.py``."""


def _build_smart_turn(sources: Sequence[Path], out: Path) -> None:
    """Extract the ONNX model from the wheel (no pip install)."""
    (wheel,) = sources
    with zipfile.ZipFile(wheel) as zf:
        _extract_member(zf, SMART_TURN_WHEEL_MEMBER, out / SMART_TURN_ONNX)


SPEC = AssetSpec(
    name="smart-turn-v3.2",
    description="Smart Turn v3.2 end-of-turn model, ONNX CPU",
    downloads=(PIPECAT_WHEEL,),
    builder=_build_smart_turn,
    files={SMART_TURN_ONNX: SMART_TURN_ONNX_SHA256},
    entry=SMART_TURN_ONNX,
)
