"""Text-to-speech stages: :class:`~voicelab.tts.base.TTS` and the engines behind ``tts.engine``.

- ``kokoro``: :class:`~voicelab.tts.kokoro.KokoroTTS` (kokoro-onnx on onnxruntime, or
  on OpenVINO via :mod:`voicelab.tts.openvino_runtime`; optional edge pad cap);
- ``piper``: :class:`~voicelab.tts.piper.PiperTTS` (piper-tts on onnxruntime);
- :class:`~voicelab.tts.scripted.ScriptedTTS`: fixed delays, for tests.

Engine modules are imported by :func:`make_tts` on use, so importing this package
loads neither kokoro-onnx, piper nor OpenVINO.
"""

from __future__ import annotations

from voicelab.config import TTSConfig
from voicelab.tts.base import TTS


def make_tts(config: TTSConfig) -> TTS:
    """The TTS stage ``config.engine`` names, loaded (not warmed up) from ``config``.

    Raises:
        voicelab.assets.AssetError: its model asset is missing or corrupt.
        ValueError: unknown Kokoro voice.
    """
    if config.engine == "piper":
        from voicelab.tts.piper import PiperTTS

        return PiperTTS(config)
    from voicelab.tts.kokoro import KokoroTTS

    return KokoroTTS(config)


__all__ = ["TTS", "make_tts"]
