"""Piper (VITS) through piper-tts on onnxruntime, resampled to the 24 kHz speaker rate."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import soxr

from voicelab.assets.paths import resolve_model_path
from voicelab.config import TTSConfig
from voicelab.tts.base import SENTENCE_PAUSE_S, ThreadedTTS, with_trailing_pause

TRIM_TOP_DB = 60.0
"""Edge frames whose RMS is more than 60 dB below the loudest frame's are trimmed from
each sentence, as kokoro-onnx's trim (librosa's ``trim`` defaults) does for Kokoro, so
chunk joins sound the same."""

NOISE_SEED = 0
"""Seed of onnxruntime's generator when the Piper session is built. VITS draws Gaussian
noise (two ``RandomNormalLike`` nodes without a ``seed`` attribute); onnxruntime seeds
such kernels from its global seed when the session is created, so a fixed seed makes a
stage's output a function of the texts it has synthesized, in order."""


class PiperTTS(ThreadedTTS):
    """A Piper voice (default ``piper-en_US-joe-medium``, 22,050 Hz) as a 24 kHz TTS stage.

    Loaded offline: the voice config (``<model>.onnx.json``) is read beside the model and
    the ONNX session is built here with ``config.threads`` intra-op threads (one
    inter-op), then handed to ``piper.PiperVoice``. Each sentence Piper synthesizes is
    trimmed of edge silence (:data:`TRIM_TOP_DB`), sentences are joined with
    ``SENTENCE_PAUSE_S`` of silence, the result is resampled to 24 kHz with soxr (HQ),
    and the pause the chunk's final punctuation calls for is appended, as
    :class:`~voicelab.tts.kokoro.KokoroTTS` does. ``config.speed`` divides the voice's
    ``length_scale``; ``voice``, ``voices``, ``lang`` (Kokoro's) are ignored. Audio is
    not peak-normalized (Piper's default would raise every chunk to full scale; raw
    peaks are about 0.5-0.65, like Kokoro's). The VITS noise is seeded
    (:data:`NOISE_SEED`): two stages fed the same texts in the same order say them
    identically.

    Attributes:
        model_path: the ONNX file loaded; ``voice_rate``: its sample rate, Hz.
        info: engine, runtime, model, threads, for summaries.

    Raises:
        voicelab.assets.AssetError: the voice asset is missing or corrupt.
        FileNotFoundError: a model path without its ``.onnx.json`` config.
    """

    name = "piper"
    sample_rate = 24_000

    def __init__(self, config: TTSConfig) -> None:
        from piper import PiperConfig, PiperVoice, SynthesisConfig

        self.config = config
        path = resolve_model_path(config.resolved_model())
        if path.is_dir():
            path = next(path.glob("*.onnx"))
        self.model_path = path
        with open(path.with_name(path.name + ".json"), encoding="utf-8") as f:
            voice_config = PiperConfig.from_dict(json.load(f))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = config.threads
        opts.inter_op_num_threads = 1
        ort.set_seed(NOISE_SEED)
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._voice = PiperVoice(config=voice_config, session=session)
        self.voice_rate = int(voice_config.sample_rate)
        self._syn = SynthesisConfig(length_scale=voice_config.length_scale / config.speed,
                                    normalize_audio=False)
        self.info = {"engine": "piper", "runtime": "onnxruntime", "model": str(path),
                     "precision": None, "threads": config.threads, "edge_pad_cap": None}
        super().__init__("piper")

    def synthesize_sync(self, text: str) -> np.ndarray:
        """Blocking synthesis of ``text``: float32 ``(n,)`` at 24 kHz, with the trailing pause.

        Text without speakable phonemes gives just the pause (possibly empty).
        """
        gap = np.zeros(round(SENTENCE_PAUSE_S * self.voice_rate), dtype=np.float32)
        parts: list[np.ndarray] = []
        for chunk in self._voice.synthesize(text, syn_config=self._syn):
            audio = _trim(np.asarray(chunk.audio_float_array, dtype=np.float32))
            if parts:
                parts.append(gap)
            parts.append(audio)
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        if len(audio):
            audio = soxr.resample(audio, self.voice_rate, self.sample_rate, quality="HQ")
        return with_trailing_pause(audio, text, self.sample_rate)


def _trim(audio: np.ndarray) -> np.ndarray:
    """``audio`` without its leading/trailing frames (2048 samples, hop 512) whose RMS is
    :data:`TRIM_TOP_DB` dB below the loudest frame's (kokoro-onnx's trim)."""
    from kokoro_onnx.trim import trim

    if not len(audio) or not np.any(audio):
        return audio
    return trim(audio, top_db=TRIM_TOP_DB)[0]
