"""faster-whisper (CTranslate2) speech-to-text.

Two encoder windows (``STTConfig.window``):

- ``full``: faster-whisper's ``transcribe``, which pads every call to Whisper's 30 s
  window (3000 log-mel frames), so a call costs about the same for 1 s or 7 s of audio.
- ``fit``: the utterance's log-mel frames, zero-padded to ceil(seconds) + 1 s, go to
  CTranslate2's ``Whisper.generate`` directly (CT2 >= 4.8 accepts encoder inputs
  shorter than 3000 frames); one short encoder pass instead of a 30 s one
  (/work/shared/FAST-PATHS.md section 2: 65-107 ms instead of ~450 ms per clip for
  tiny.en on 2 cores). Decoding runs in timestamp mode, and a result that fails
  :func:`~voicelab.stt.fit_window.fit_fallback_reason` is replaced by a 30 s window transcription.

Audio everywhere: 16 kHz mono float32 of shape ``(samples,)``, nominally in [-1, 1].
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from voicelab.config import STTConfig
from voicelab.assets.paths import resolve_model_path
from voicelab.stt.base import STT
from voicelab.stt.fit_window import (
    LOG_PROB_THRESHOLD, MAX_FIT_SECONDS, NO_SPEECH_THRESHOLD, SAMPLE_RATE, Window,
    WindowChoice, fit_fallback_reason, fit_token_budget, fit_window_frames,
)


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

    ``config.window == "full"`` (default): faster-whisper pads every call to a 30 s
    window, so a call costs about the same for 1 s or 7 s of audio (MODELS.md: 0.55-0.8 s
    for tiny.en on 2 cores). Decoding: ``language`` fixed (no detection), ``beam_size``
    from config (1 = greedy), no conditioning on previous text, no timestamps; no internal
    VAD filter because voicelab's endpointer already cut the utterance.

    ``config.window == "fit"``: see :meth:`transcribe_sync_detail`. Counters (fit mode,
    warm-up excluded): ``fit_calls`` transcriptions, ``fallbacks`` of them answered by the
    30 s window, ``fallback_reasons`` per reason (see :class:`~voicelab.stt.fit_window.WindowChoice`);
    ``last_choice`` describes the last fit-mode or :meth:`transcribe_sync_detail` call.
    """

    name = "faster-whisper"

    def __init__(self, config: STTConfig) -> None:
        from faster_whisper import WhisperModel

        self.config = config
        self.model_path = resolve_model_path(config.model)
        self._model = WhisperModel(str(self.model_path), device="cpu", compute_type="int8",
                                   cpu_threads=config.threads, num_workers=1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self.fit_calls = 0
        self.fallbacks = 0
        self.fallback_reasons: Counter[str] = Counter()
        self.last_choice: WindowChoice | None = None
        if config.window == "fit":
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            self._tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual,
                                        task="transcribe", language=config.language)
            # Timestamp mode: the sot sequence without <|notimestamps|> (FAST-PATHS.md section 2:
            # the no-timestamps prompt truncated an 11 s input after its first sentence).
            self._prompt = list(self._tokenizer.sot_sequence)
            # What faster-whisper's transcribe suppresses by default (suppress_tokens=[-1]).
            self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def transcribe_sync(self, audio: np.ndarray) -> str:
        """Blocking transcription of 16 kHz mono float32 audio of shape ``(samples,)``."""
        if self.config.window == "fit":
            return self.transcribe_sync_detail(audio)[0]
        return self.transcribe_full_window(audio)

    def transcribe_sync_detail(self, audio: np.ndarray) -> tuple[str, Window]:
        """Blocking transcription; returns ``(text, window_used)``.

        ``window == "full"``: the 30 s window, as :meth:`transcribe_sync`.

        ``window == "fit"``: audio up to :data:`~voicelab.stt.fit_window.MAX_FIT_SECONDS` is transcribed from a
        window of ceil(seconds) + 1 s (:func:`~voicelab.stt.fit_window.fit_window_frames`) by one CTranslate2
        ``generate`` call in timestamp mode; if :func:`~voicelab.stt.fit_window.fit_fallback_reason` rejects the
        result (or the audio is longer), the 30 s window answers instead, in timestamp mode
        too (faster-whisper then continues an unfinished last segment in a further window).
        Each call sets :attr:`last_choice` and the counters.

        Args:
            audio: 16 kHz mono float32 samples, shape ``(samples,)``.

        Raises:
            ValueError: ``audio`` is not one-dimensional.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio of shape (samples,), got shape {audio.shape}")
        seconds = audio.size / SAMPLE_RATE
        if self.config.window == "full":
            self.last_choice = WindowChoice("full", seconds)
            return self.transcribe_sync(audio), "full"
        self.fit_calls += 1
        if seconds > MAX_FIT_SECONDS:
            choice = WindowChoice("full", seconds, reason="too-long")
        else:
            features = self.fit_features(audio)
            text, ids = self._fit_decode(features)
            reason = fit_fallback_reason(seconds, text, ids, self._tokenizer.timestamp_begin,
                                         fit_token_budget(features.shape[-1]))
            choice = WindowChoice("fit" if reason is None else "full", seconds,
                                  fit_frames=features.shape[-1], fit_text=text, reason=reason)
            if reason is None:
                self.last_choice = choice
                return text, "fit"
        self.fallbacks += 1
        self.fallback_reasons[choice.reason] += 1
        self.last_choice = choice
        return self._full_window_timestamps(audio), "full"

    def fit_features(self, audio: np.ndarray) -> np.ndarray:
        """Log-mel input of the fit window: float32, shape ``(1, n_mels, frames)``.

        ``frames = fit_window_frames(len(audio))``. The features are computed by the loaded
        model's own extractor on the audio alone, which normalises to the audio's loudest
        frame (log10 clipped at max - 8, then (x + 4) / 4), then zero-padded *in log-mel*,
        as faster-whisper's ``transcribe`` does (``pad_or_trim`` of the content frames to
        3000). Zero-padding the audio instead puts the padding at the clipping floor, as
        OpenAI Whisper does; with the short window that made tiny.en loop
        ("old-s-y-y-y-...") on librivox_sense_and_sensibility_0880 for windows of ceil + 2 s
        and ceil + 3 s, while log-mel padding gave the 30 s window's text at +1, +2 and +3 s.
        """
        frames = fit_window_frames(audio.size)
        mel = self._model.feature_extractor(np.asarray(audio, dtype=np.float32))
        content = mel[:, : min(mel.shape[-1] - 1, frames)]  # faster-whisper drops the last frame
        out = np.zeros((1, mel.shape[0], frames), dtype=np.float32)
        out[0, :, : content.shape[-1]] = content
        return out

    def _fit_decode(self, features: np.ndarray) -> tuple[str, list[int]]:
        """One CTranslate2 encoder + decoder pass on ``features`` (float32, ``(1, n_mels, frames)``).

        Returns ``(text, token_ids)``: the text without timestamp tokens ("" when judged
        silence, see :data:`~voicelab.stt.fit_window.NO_SPEECH_THRESHOLD`) and the generated ids, prompt excluded (at
        most :func:`~voicelab.stt.fit_window.fit_token_budget` of them).
        """
        import ctranslate2

        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(features),
            [self._prompt],
            beam_size=self.config.beam_size,
            # generate() decodes at most max_length / 2 new tokens (see DECODER_TOKEN_LIMIT)
            max_length=2 * fit_token_budget(features.shape[-1]),
            suppress_blank=True,
            suppress_tokens=self._suppress,
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        ids = list(result.sequences_ids[0])
        # faster-whisper's average log probability (length_penalty 1) and its no-speech skip
        avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD:
            return "", ids
        begin = self._tokenizer.timestamp_begin
        return self._tokenizer.decode([t for t in ids if t < begin]).strip(), ids

    def _full_window_timestamps(self, audio: np.ndarray) -> str:
        """The 30 s window in timestamp mode (the fit mode's fallback)."""
        segments, _info = self._model.transcribe(
            audio,
            language=self.config.language,
            beam_size=self.config.beam_size,
            condition_on_previous_text=False,
            without_timestamps=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()

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

        Always the 30 s window, whatever ``config.window``. faster-whisper aligns words by
        dynamic time warping of cross-attention (``word_timestamps=True``); its timestamps are
        coarse: on the bundled clips the first word starts at 0 ms whatever the leading
        silence, and the last one ends up to ~240 ms off the annotated end (see
        :mod:`voicelab.truth.consensus`).
        """
        segments = self._segments(audio, word_timestamps=True)
        return [WordTiming(w.word.strip(), w.start * 1000.0, w.end * 1000.0, float(w.probability))
                for s in segments for w in (s.words or []) if w.word.strip()]

    async def transcribe(self, audio: np.ndarray) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.transcribe_sync, audio)

    def transcribe_full_window(self, audio: np.ndarray) -> str:
        """Blocking transcription in faster-whisper's 30 s window, whatever ``window`` says."""
        return " ".join(s.text.strip() for s in self._segments(audio, word_timestamps=False)).strip()

    async def transcribe_reference(self, audio: np.ndarray) -> str:
        """The 30 s window (``window: full``) even when the agent uses ``fit``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.transcribe_full_window, audio)

    def warmup(self) -> None:
        """One throw-away inference on 1 s of silence; in fit mode both the fit pass and
        the 30 s fallback are warmed, and neither touches the counters."""
        silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
        if self.config.window == "fit":
            self._fit_decode(self.fit_features(silence))
            self._full_window_timestamps(silence)
            return
        self.transcribe_sync(silence)
