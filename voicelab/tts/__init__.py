"""Text-to-speech stages: :class:`~voicelab.tts.base.TTS` and the engines behind ``tts.engine``.

- ``kokoro``: :class:`~voicelab.tts.kokoro.KokoroTTS` (kokoro-onnx on onnxruntime, or
  on OpenVINO via :mod:`voicelab.tts.openvino_runtime`; optional edge pad cap);
- ``piper``: :class:`~voicelab.tts.piper.PiperTTS` (piper-tts on onnxruntime);
- :class:`~voicelab.tts.scripted.ScriptedTTS`: fixed delays, for tests;
- :class:`~voicelab.tts.supervised.SupervisedTTS` (:func:`make_supervised_tts`): any of them
  with per-request timeouts and restarts, in-process or in a worker process
  (:class:`~voicelab.tts.process.ProcessTTS`, ``tts.isolation: process``).

Engine modules are imported by :func:`make_tts` on use, so importing this package
loads neither kokoro-onnx, piper nor OpenVINO.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from voicelab.config import TTSConfig
from voicelab.tts.base import TTS

if TYPE_CHECKING:
    from voicelab.tts.supervised import SupervisedTTS


def _kokoro(config: TTSConfig) -> TTS:
    from voicelab.tts.kokoro import KokoroTTS

    return KokoroTTS(config)


def _piper(config: TTSConfig) -> TTS:
    from voicelab.tts.piper import PiperTTS

    return PiperTTS(config)


ENGINES: dict[str, Callable[[TTSConfig], TTS]] = {"kokoro": _kokoro, "piper": _piper}
"""TTS engine factories by ``tts.engine`` name, each importing its engine module on use.
:data:`voicelab.stages.TTS_ENGINES` wraps this dict; an engine is added here (one line
and its factory), not in a module the worker process would not import
(``tts.isolation: process`` spawns a process that builds the engine by this name)."""


def make_tts(config: TTSConfig) -> TTS:
    """The TTS stage ``config.engine`` names (:data:`ENGINES`), loaded (not warmed up) from ``config``.

    Raises:
        voicelab.assets.AssetError: its model asset is missing or corrupt.
        ValueError: unknown engine (the message lists the engines) or unknown Kokoro voice.
    """
    try:
        factory = ENGINES[config.engine]
    except KeyError:
        raise ValueError(f"unknown TTS engine {config.engine!r}; choose one of: {', '.join(ENGINES)}") from None
    return factory(config)


def make_supervised_tts(config: TTSConfig) -> SupervisedTTS:
    """:func:`make_tts` under a :class:`~voicelab.tts.supervised.SupervisedTTS`: in a worker
    process when ``config.isolation`` is ``process``, with ``config.timeout_ms`` plus
    ``config.timeout_per_word_ms`` per word as each request's time limit, and
    ``config.restart_attempts`` restarts, ``config.restart_backoff_ms`` apart, doubling.

    Raises:
        voicelab.assets.AssetError: its model asset is missing or corrupt (thread isolation).
        voicelab.tts.process.TTSFailure: the worker process could not load the model.
        ValueError: unknown engine or Kokoro voice (thread isolation).
    """
    from voicelab.tts.supervised import SupervisedTTS

    timeout_s = None if config.timeout_ms is None else config.timeout_ms / 1000.0
    per_word_s = config.timeout_per_word_ms / 1000.0
    if config.isolation == "process":
        from voicelab.tts.process import ProcessTTS

        factory = lambda: ProcessTTS(config, timeout_s, per_word_s)  # noqa: E731
    else:
        factory = lambda: make_tts(config)  # noqa: E731
    return SupervisedTTS(factory, timeout_s, config.restart_attempts, config.restart_backoff_ms / 1000.0,
                         per_word_s)


__all__ = ["ENGINES", "TTS", "make_supervised_tts", "make_tts"]
