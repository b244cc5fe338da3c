"""faster-whisper (CTranslate2) speech-to-text."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from voicelab.config import STTConfig
from voicelab.assets.paths import resolve_model_path
from voicelab.stt.base import STT


@dataclass(frozen=True)
class WordTiming:
    """A recognised word and where Whisper placed it (ms from the audio's first sample).

    ``probability``: Whisper's word probability in [0, 1].
    """

    text: str
    start_ms: float
    end_ms: float
    probability: float


class WhisperSTT(STT):
    """Whisper via faster-whisper on CPU (int8), one call per endpointed utterance.

    Whisper pads every call to a 30 s window, so a call costs about the same for
    1 s or 7 s of audio (MODELS.md: 0.55-0.8 s for tiny.en on 2 cores).
    Decoding: ``language`` fixed (no detection), ``beam_size`` from config (1 =
    greedy), no conditioning on previous text, no timestamps; no internal VAD
    filter because voicelab's endpointer already cut the utterance.
    """

    name = "faster-whisper"

    def __init__(self, config: STTConfig) -> None:
        from faster_whisper import WhisperModel

        self.config = config
        self.model_path = resolve_model_path(config.model)
        self._model = WhisperModel(str(self.model_path), device="cpu", compute_type="int8",
                                   cpu_threads=config.threads, num_workers=1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")

    def transcribe_sync(self, audio: np.ndarray) -> str:
        """Blocking transcription of 16 kHz mono float32 audio."""
        return " ".join(s.text.strip() for s in self._segments(audio, word_timestamps=False)).strip()

    def _segments(self, audio: np.ndarray, word_timestamps: bool):
        segments, _info = self._model.transcribe(
            np.asarray(audio, dtype=np.float32),
            language=self.config.language,
            beam_size=self.config.beam_size,
            condition_on_previous_text=False,
            without_timestamps=not word_timestamps,
            word_timestamps=word_timestamps,
            vad_filter=False,
        )
        return segments

    def word_timings_sync(self, audio: np.ndarray) -> list[WordTiming]:
        """Blocking transcription of 16 kHz mono float32 audio with word timestamps.

        faster-whisper aligns words by dynamic time warping of cross-attention
        (``word_timestamps=True``); its timestamps are coarse: on the bundled clips the
        first word starts at 0 ms whatever the leading silence, and the last one ends
        up to ~240 ms off the annotated end (see :mod:`voicelab.truth.consensus`).
        """
        segments = self._segments(audio, word_timestamps=True)
        return [WordTiming(w.word.strip(), w.start * 1000.0, w.end * 1000.0, float(w.probability))
                for s in segments for w in (s.words or []) if w.word.strip()]

    async def transcribe(self, audio: np.ndarray) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.transcribe_sync, audio)

    def warmup(self) -> None:
        self.transcribe_sync(np.zeros(16_000, dtype=np.float32))
