"""Pipecat's stock Whisper and Kokoro services on voicelab's model assets, offline.

Both are Pipecat 1.14's own classes; voicelab changes only what the measurement needs:

- :class:`BeamWhisperSTTService`: ``WhisperSTTService`` calls faster-whisper's
  ``transcribe`` without a ``beam_size``, so faster-whisper's default of 5 beams applies;
  this passes the configured beam size (5 = unchanged).
- :class:`TracedKokoroTTSService`: ``KokoroTTSService`` whose ``run_tts`` calls are reported
  (text, then first audio) at the moment they happen: with token aggregation a TTS request
  is not a frame, so an observer cannot see it.

Both load from local paths only: the Whisper directory of the ``whisper-tiny.en`` asset
(faster-whisper treats an existing directory as a local model) and the Kokoro model and
voices files (``KokoroTTSService`` downloads from GitHub when either path is missing, so
:func:`kokoro_service` checks them first).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from pathlib import Path

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.services.kokoro.tts import KokoroTTSService
from pipecat.services.tts_service import TextAggregationMode
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language


class _TranscribeWith:
    """A faster-whisper model whose ``transcribe`` gets extra default keyword arguments."""

    def __init__(self, model, **defaults) -> None:
        self._model, self._defaults = model, defaults

    def transcribe(self, audio, **kwargs):
        return self._model.transcribe(audio, **{**self._defaults, **kwargs})

    def __getattr__(self, name: str):
        return getattr(self._model, name)


class BeamWhisperSTTService(WhisperSTTService):
    """``WhisperSTTService`` with a configurable Whisper beam size."""

    def __init__(self, *, beam_size: int = 5, **kwargs) -> None:
        self._beam_size = beam_size
        super().__init__(**kwargs)

    def _load(self) -> None:
        super()._load()
        self._model = _TranscribeWith(self._model, beam_size=self._beam_size)


def whisper_service(model_dir: Path, beam_size: int) -> BeamWhisperSTTService:
    """Pipecat's Whisper on the local CTranslate2 directory ``model_dir`` (CPU, int8, English).

    Raises:
        FileNotFoundError: ``model_dir`` is not a directory with ``model.bin`` and
            ``tokenizer.json`` (faster-whisper would otherwise try the model hub).
    """
    for name in ("model.bin", "tokenizer.json"):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir / name} is missing: Pipecat's Whisper would download it")
    return BeamWhisperSTTService(beam_size=beam_size, device="cpu", compute_type="int8", ttfs_p99_latency=0.5,
                                 settings=WhisperSTTService.Settings(model=str(model_dir), language=Language.EN))


class TracedKokoroTTSService(KokoroTTSService):
    """``KokoroTTSService`` that reports each synthesis request and its first audio.

    ``on_request(text)`` is called when ``run_tts`` starts on ``text``; ``on_audio(samples,
    sample_rate)`` when that request yields its first audio frame.
    """

    def __init__(self, *, on_request: Callable[[str], None], on_audio: Callable[[int, int], None],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._on_request, self._on_audio = on_request, on_audio

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        self._on_request(text)
        first = True
        async for frame in super().run_tts(text, context_id):
            if first and isinstance(frame, TTSAudioRawFrame):
                first = False
                self._on_audio(len(frame.audio) // 2, frame.sample_rate)
            yield frame


def kokoro_service(model_path: Path, voices_path: Path, voice: str, speed: float, aggregation: str,
                   on_request: Callable[[str], None],
                   on_audio: Callable[[int, int], None]) -> TracedKokoroTTSService:
    """Pipecat's Kokoro on local files, ``aggregation`` ``sentence`` or ``token``.

    Raises:
        FileNotFoundError: the model or voices file is missing (Pipecat would download it).
    """
    for p in (model_path, voices_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p} is missing: Pipecat's Kokoro would download it")
    mode = TextAggregationMode.TOKEN if aggregation == "token" else TextAggregationMode.SENTENCE
    return TracedKokoroTTSService(model_path=str(model_path), voices_path=str(voices_path),
                                  settings=KokoroTTSService.Settings(voice=voice, language=Language.EN, speed=speed),
                                  text_aggregation_mode=mode, on_request=on_request, on_audio=on_audio)
