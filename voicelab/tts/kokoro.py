"""Kokoro-82M v1.0 (int8 ONNX) through kokoro-onnx."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort

from voicelab.config import TTSConfig
from voicelab.assets.paths import resolve_model_path
from voicelab.tts.base import TTS

SENTENCE_PAUSE_S = 0.25
CLAUSE_PAUSE_S = 0.1
"""Silence appended after a chunk ending a sentence / clause: kokoro-onnx's own
``create()`` defaults for the joins between its batches, applied at our chunk joins."""


class KokoroTTS(TTS):
    """Kokoro-82M through kokoro-onnx, 24 kHz mono float32, espeak-ng G2P.

    One :meth:`synthesize` call per triggered chunk, run in a dedicated worker
    thread so synthesis overlaps LLM generation. kokoro-onnx trims the leading and
    trailing silence of each request, so the pause a chunk's final punctuation calls
    for is appended here (``SENTENCE_PAUSE_S`` / ``CLAUSE_PAUSE_S``).

    Raises:
        ValueError: unknown voice (lists the available ones).
    """

    name = "kokoro-onnx"
    sample_rate = 24_000

    def __init__(self, config: TTSConfig) -> None:
        from kokoro_onnx import Kokoro

        self.config = config
        self.model_path = resolve_model_path(config.model)
        self.voices_path = resolve_model_path(config.voices)
        if self.model_path.is_dir():
            self.model_path = next(self.model_path.glob("*.onnx"))
        if self.voices_path.is_dir():
            self.voices_path = next(self.voices_path.glob("*.npz"))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = config.threads
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(self.model_path), sess_options=opts,
                                       providers=["CPUExecutionProvider"])
        self._kokoro = Kokoro.from_session(session, str(self.voices_path))
        if config.voice not in self._kokoro.voices:
            raise ValueError(f"unknown Kokoro voice {config.voice!r}; available: "
                             f"{', '.join(self._kokoro.get_voices())}")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kokoro")

    def synthesize_sync(self, text: str) -> np.ndarray:
        """Blocking synthesis of ``text`` (float32, 24 kHz), with the trailing pause."""
        audio, rate = self._kokoro.create(text, voice=self.config.voice, speed=self.config.speed,
                                          lang=self.config.lang)
        assert rate == self.sample_rate, rate
        end = text.rstrip().rstrip("\"')]”’")[-1:]
        pause = SENTENCE_PAUSE_S if end in ".!?" and end else CLAUSE_PAUSE_S if end in ",;:" and end else 0.0
        if pause:
            audio = np.concatenate([audio, np.zeros(int(pause * rate), dtype=np.float32)])
        return audio.astype(np.float32, copy=False)

    async def synthesize(self, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.synthesize_sync, text)

    async def idle(self) -> None:
        # one worker thread: a no-op queued behind the running job finishes after it
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    def warmup(self) -> None:
        self.synthesize_sync("Hello there.")
