"""The TTS engines by name, and building the (supervised) TTS stage from ``tts:``.

:data:`TTS_ENGINES` wraps :data:`voicelab.tts.ENGINES`, the table
:func:`voicelab.tts.make_tts` reads, in this process and in the worker process of
``tts.isolation: process``. Adding an engine: its factory in that table (one line in
``voicelab/tts/__init__.py``; registering here too reaches the table, but a worker process
would not run the registration) and its name in ``TTSConfig.engine``'s ``Literal``
(:mod:`voicelab.config.stages`), with its default model in ``TTS_DEFAULT_MODELS``.
"""

from __future__ import annotations

from collections.abc import Callable

from voicelab.config import TTSConfig
from voicelab.stages.registry import Registry
from voicelab.tts import ENGINES, TTS, make_supervised_tts
from voicelab.tts.supervised import SupervisedTTS

TTS_ENGINES: Registry[Callable[[TTSConfig], TTS]] = Registry("TTS engine", ENGINES)
"""TTS factories by ``tts.engine`` (the same dict as :data:`voicelab.tts.ENGINES`)."""


def make_tts_stage(config: TTSConfig) -> SupervisedTTS:
    """The ``config.engine`` TTS under supervision (timeouts, restarts, optional worker
    process): :func:`voicelab.tts.make_supervised_tts`, loaded, not warmed up.

    Raises:
        voicelab.stages.registry.UnknownName: no engine of that name (the message lists them).
        voicelab.assets.AssetError: its model asset is missing or corrupt (thread isolation).
        voicelab.tts.process.TTSFailure: the worker process could not load the model.
    """
    TTS_ENGINES.get(config.engine)  # fail on an unknown name before any worker starts
    return make_supervised_tts(config)
