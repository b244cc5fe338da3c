"""faster-whisper (CTranslate2) speech-to-text.

Two encoder windows (``STTConfig.window``):

- ``full``: faster-whisper's ``transcribe``, which pads every call to Whisper's 30 s
  window (3000 log-mel frames), so a call costs about the same for 1 s or 7 s of audio.
- ``fit`` (default): the utterance is cut at its own pauses (:mod:`voicelab.stt.pieces`,
  speech regions from faster-whisper's Silero VAD), and each piece's log-mel frames,
  zero-padded to ceil(seconds) + 1 s, go to CTranslate2's ``Whisper.generate`` directly
  (CT2 >= 4.8 accepts encoder inputs shorter than 3000 frames): short encoder passes
  instead of a 30 s one. Each piece is decoded in timestamp mode and checked
  (:func:`~voicelab.stt.fit_window.decode_problem`): an uncovered tail is decoded again from
  the last closed segment (Whisper's own seek); a loop or a missing transcript is decoded
  again with beam search and a repetition penalty, the retry is kept only if it ranks higher
  (:func:`~voicelab.stt.fit_window.rank`), so it never returns less than it was given, and a
  loop left after it is cut where it begins.

Audio everywhere: 16 kHz mono float32 of shape ``(samples,)``, nominally in [-1, 1].
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from voicelab.assets.paths import resolve_model_path
from voicelab.config import STTConfig
from voicelab.stt.base import STT
from voicelab.stt.fit_window import (
    LOG_PROB_THRESHOLD,
    NO_SPEECH_THRESHOLD,
    covered_until,
    fit_token_budget,
    fit_window_frames,
    parse_segments,
    within_speech,
)
from voicelab.stt.piece_decode import RETRY, Decode, DecodeOptions, TranscriptionDetail, transcribe_piece
from voicelab.stt.pieces import split_at_pauses
from voicelab.units import INPUT_RATE

SPEECH_THRESHOLD = 0.5
"""Silero speech probability of the pause finder (faster-whisper ``VadOptions.threshold``
default, and voicelab's endpointer default)."""

SPEECH_MIN_SILENCE_MS = 100
"""Silence (ms) that separates two speech regions for the pause finder (silero-vad's own
``min_silence_duration_ms`` default); :func:`~voicelab.stt.pieces.split_at_pauses` then cuts
only at pauses of :data:`~voicelab.stt.pieces.SPLIT_MIN_PAUSE_S` or more."""


@dataclass(frozen=True)
class WordTiming:
    """A recognised word and where Whisper placed it (ms from the audio's first sample).

    ``probability``: Whisper's word probability in [0, 1].
    """

    text: str
    start_ms: float
    end_ms: float
    probability: float


def speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """Speech regions of 16 kHz mono float32 audio as ``(start, end)`` samples: faster-whisper's
    Silero VAD (``get_speech_timestamps``; threshold :data:`SPEECH_THRESHOLD`, regions apart
    after :data:`SPEECH_MIN_SILENCE_MS` of silence, no padding, no minimum length)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=SPEECH_THRESHOLD, min_silence_duration_ms=SPEECH_MIN_SILENCE_MS,
                         speech_pad_ms=0, min_speech_duration_ms=0)
    return [(int(r["start"]), min(int(r["end"]), audio.size))
            for r in get_speech_timestamps(audio, options) if r["end"] > r["start"]]


class WhisperSTT(STT):
    """Whisper via faster-whisper on CPU (int8), one call per endpointed utterance.

    ``config.window == "full"``: faster-whisper pads every call to a 30 s window, so a call
    costs about the same for 1 s or 7 s of audio (0.45-0.8 s for tiny.en on 2 cores).
    Decoding: ``language`` fixed (no detection), ``beam_size`` from config (1 = greedy), no
    conditioning on previous text, no timestamps; no internal VAD filter because voicelab's
    endpointer already cut the utterance.

    ``config.window == "fit"`` (default): see :meth:`transcribe_sync_detail`. Counters (fit
    mode, warm-up excluded): ``fit_calls`` transcriptions, ``pieces`` decoded, ``seeks`` and
    ``retries`` (per problem that caused them, see
    :func:`~voicelab.stt.fit_window.decode_problem`); ``last_detail`` describes the last call.
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
        self.pieces = 0
        self.seeks = 0
        self.retries: Counter[str] = Counter()
        self.last_detail: TranscriptionDetail | None = None
        if config.window == "fit":
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            self._tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual,
                                        task="transcribe", language=config.language)
            # Timestamp mode: the sot sequence without <|notimestamps|>; segments tell how far
            # a decode got (the no-timestamps prompt truncated an 11 s input after its first
            # sentence with nothing to show it).
            self._prompt = list(self._tokenizer.sot_sequence)
            self._options = DecodeOptions(beam_size=config.beam_size)
            # What faster-whisper's transcribe suppresses by default (suppress_tokens=[-1]).
            self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def transcribe_sync(self, audio: np.ndarray) -> str:
        """Blocking transcription of 16 kHz mono float32 audio of shape ``(samples,)``."""
        if self.config.window == "fit":
            return self.transcribe_sync_detail(audio)[0]
        return self.transcribe_full_window(audio)

    def transcribe_sync_detail(self, audio: np.ndarray) -> tuple[str, TranscriptionDetail]:
        """Blocking transcription; returns ``(text, detail)`` and sets :attr:`last_detail`.

        ``window == "full"``: the 30 s window, as :meth:`transcribe_sync`.

        ``window == "fit"``:

        1. find the speech (:func:`speech_regions`) and cut the audio at its pauses
           (:func:`~voicelab.stt.pieces.split_at_pauses`);
        2. decode each piece in a fit window of its own, in timestamp mode, dropping segments
           that begin after the piece's speech (:func:`~voicelab.stt.fit_window.within_speech`),
           seeking past an uncovered tail and retrying a loop with beam search and a repetition penalty
           (:func:`~voicelab.stt.piece_decode.transcribe_piece`);
        3. join the pieces' texts with spaces.

        Args:
            audio: 16 kHz mono float32 samples, shape ``(samples,)``.

        Raises:
            ValueError: ``audio`` is not one-dimensional.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio of shape (samples,), got shape {audio.shape}")
        seconds = audio.size / INPUT_RATE
        if self.config.window == "full":
            text = self.transcribe_full_window(audio)
            self.last_detail = TranscriptionDetail("full", seconds)
            return text, self.last_detail
        self.fit_calls += 1
        results = [transcribe_piece(audio, piece, self._fit_decode, self._options)
                   for piece in split_at_pauses(speech_regions(audio), audio.size)]
        self.pieces += len(results)
        self.seeks += sum(r.seeks for r in results)
        self.retries.update(r.retried for r in results if r.retried)
        self.last_detail = TranscriptionDetail("fit", seconds, tuple(results))
        return " ".join(r.text for r in results if r.text), self.last_detail

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

    def _fit_decode(self, audio: np.ndarray, speech_end_s: float, options: DecodeOptions) -> Decode:
        """One CTranslate2 encoder + decoder pass on ``audio`` (16 kHz float32) in its fit window.

        Segments beginning :data:`~voicelab.stt.fit_window.PAST_SPEECH_SECONDS` after
        ``speech_end_s`` (s from ``audio``'s start) are dropped; a result judged silence
        (:data:`~voicelab.stt.fit_window.NO_SPEECH_THRESHOLD`) has no text.
        """
        import ctranslate2

        features = self.fit_features(audio)
        budget = fit_token_budget(features.shape[-1])
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(features),
            [self._prompt],
            beam_size=options.beam_size,
            repetition_penalty=options.repetition_penalty,
            # generate() decodes at most max_length / 2 new tokens (see DECODER_TOKEN_LIMIT)
            max_length=2 * budget,
            suppress_blank=True,
            suppress_tokens=self._suppress,
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        ids = list(result.sequences_ids[0])
        # faster-whisper's average log probability (length_penalty 1) and its no-speech skip
        avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD:
            return Decode("", "", 0.0, len(ids), budget)
        segments = within_speech(parse_segments(ids, self._tokenizer.timestamp_begin), speech_end_s)
        decode = self._tokenizer.decode
        return Decode(" ".join(decode(list(s.tokens)).strip() for s in segments).strip(),
                       " ".join(decode(list(s.tokens)).strip() for s in segments if s.end_s is not None).strip(),
                       covered_until(segments), len(ids), budget)

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
        """One throw-away inference on 1 s of silence; in fit mode the pause finder, the fit
        decode and its beam-search retry are warmed, and none touches the counters."""
        silence = np.zeros(INPUT_RATE, dtype=np.float32)
        if self.config.window == "fit":
            speech_regions(silence)
            for options in (self._options, RETRY):
                self._fit_decode(silence, 1.0, options)
            return
        self.transcribe_sync(silence)
