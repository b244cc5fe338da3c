"""The fit window of :class:`voicelab.stt.whisper.WhisperSTT`: its size, token budget and
the sanity check that sends a fit result back to the 30 s window.

Audio: 16 kHz mono float32 of shape ``(samples,)``; times in seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SAMPLE_RATE = 16_000
"""Whisper's input rate (Hz); voicelab's microphone rate."""

FRAMES_PER_SECOND = 100
"""Whisper log-mel frames per second: a 160-sample hop at 16 kHz (faster-whisper
``FeatureExtractor(hop_length=160)``; OpenAI Whisper ``HOP_LENGTH``)."""

FULL_WINDOW_SECONDS = 30
"""Whisper's fixed input window (OpenAI Whisper ``CHUNK_LENGTH``; 3000 frames): faster-whisper
``transcribe`` pads or trims every segment to it (``pad_or_trim``)."""

FIT_EXTRA_SECONDS = 1
"""Slack added to the rounded-up utterance length: the fit window is ceil(seconds) + 1 s
(FAST-PATHS.md section 2, measured there at the 30 s window's WER on the six bundled clips)."""

MAX_FIT_SECONDS = FULL_WINDOW_SECONDS - FIT_EXTRA_SECONDS
"""Longest audio (s) the fit window takes: beyond it ceil(s) + 1 s would exceed the 30 s window
the encoder's positional embeddings cover, so longer audio goes straight to the full window
(faster-whisper splits it into 30 s segments)."""

TIME_PRECISION_S = 0.02
"""Seconds per Whisper timestamp token (``<|0.02|>`` steps; faster-whisper ``time_precision``)."""

DECODER_MAX_LENGTH = 448
"""Whisper's text context (``n_text_ctx``): the decoder has positions for 448 tokens, prompt
included; faster-whisper passes it as ``max_length`` to CTranslate2 ``Whisper.generate``."""

DECODER_TOKEN_LIMIT = DECODER_MAX_LENGTH // 2
"""Most tokens one ``generate`` call can return: CTranslate2 decodes at most
``min(max_length / 2, max_length - prompt tokens before the last)`` new tokens
(``src/models/whisper.cc``; as OpenAI Whisper's ``sample_len = n_text_ctx // 2``). Measured with
CT2 4.8.5: max_length 20/22/50/100/448 returned 10/11/25/50/224 tokens on a looping decode."""

MAX_TOKENS_PER_SECOND = 12
"""Decoder budget of the fit pass, in tokens per second of fit window: 2 tokens (word pieces,
punctuation, timestamps) per word at :data:`MAX_WORDS_PER_SECOND`. The bundled clips need
3.8-4.4 tokens per second of audio. A decode that spends the whole budget is looping; the budget
bounds what the loop costs before the fallback (a 224-token loop took ~1.5 s on 2 busy cores,
a 4 s window's 48 tokens take a fifth of that)."""

EMPTY_MIN_SECONDS = 0.5
"""An empty fit result is accepted only for audio up to this long (s). voicelab's endpointer
hands over utterances that held >= ``vad.min_speech_ms`` (250 ms) of speech plus 100 ms pads on
each side, so an empty transcript of a longer utterance more likely means a failed short-window
decode than silence (the 30 s window then decides)."""

MIN_WORDS_PER_SECOND = 0.5
"""Fewest plausible words per second of audio beyond :data:`MIN_WORDS_GRACE_SECONDS`: one word
per 2 s, a quarter of slow conversational speech (~120 words/min = 2 words/s). The bundled read
clips run at 2.4-3.1 words/s with tiny.en, so this leaves room for pauses inside a turn and
still catches a decode that stopped early on a long utterance. (The one truncation seen on the
bundled clips kept 0.86 words/s and is caught by :data:`MAX_UNCOVERED_TAIL_SECONDS` instead.)"""

MIN_WORDS_GRACE_SECONDS = 1.0
"""Audio (s) exempt from :data:`MIN_WORDS_PER_SECOND`: leading silence and pads (the bundled
clips start ~0.25 s before speech; the endpointer adds 100 ms each side) and a one-word reply
("yes") need no more than one word for their first second."""

MAX_WORDS_PER_SECOND = 6.0
"""Most plausible words per second (per second of audio, and at least per 1 s): very fast
speech is ~4-5 words/s (250-300 words/min), so more is taken as a repetition loop (the
short window produced "old-s-y-y-y-..." on librivox_sense_and_sensibility_0880 when the *audio*
was zero-padded, and with 3 s of silence appended; 1 s of white noise at 0.01 RMS gave
"I'm going to go ahead and see you next time." five times over).
Words are counted as runs of letters/digits, so hyphenated loops count per piece."""

MAX_UNCOVERED_TAIL_SECONDS = 1.5
"""Most audio (s) allowed after the last timestamp token of a non-empty fit result. An
endpointed utterance ends ~100 ms (``vad.speech_pad_ms``) after speech. On the six bundled
clips and their 30 two-clip concatenations (500 ms gap) the last timestamp fell between
0.29 s before and 1.71 s after the audio's end, except for one truncated decode: cmu_arctic_a0007
+ 500 ms + librivox_sense_and_sensibility_0870 (11.6 s) stopped mid-word at 8.52 s, 3.08 s
before the end, and its 10 words (0.86/s) passed :data:`MIN_WORDS_PER_SECOND`."""

NO_SPEECH_THRESHOLD = 0.6
"""A fit result whose ``<|nospeech|>`` probability exceeds this while its average log
probability is below :data:`LOG_PROB_THRESHOLD` is silence: its text is dropped. Both are
faster-whisper ``transcribe``'s defaults, so the fit window judges silence as the 30 s window
does (without it, 0.25 s of digital silence came out as "Thank you.")."""

LOG_PROB_THRESHOLD = -1.0
"""See :data:`NO_SPEECH_THRESHOLD` (faster-whisper ``log_prob_threshold`` default)."""

_WORD = re.compile(r"[^\W_]+")

Window = Literal["full", "fit"]


@dataclass(frozen=True)
class WindowChoice:
    """How one transcription was made (``WhisperSTT.last_choice``).

    Attributes:
        window: the window whose text was returned: ``"fit"`` or ``"full"`` (30 s).
        audio_seconds: length of the transcribed audio (samples / 16 kHz).
        fit_frames: log-mel frames the fit pass fed to the encoder (100 per second;
            ``(ceil(audio_seconds) + 1) * 100``); None when no fit pass ran.
        fit_text: the fit pass's text (also when rejected); None without a fit pass.
        reason: why the full window answered in fit mode: a :func:`fit_fallback_reason`
            reason, or ``"too-long"`` (audio over :data:`MAX_FIT_SECONDS`, no fit pass);
            None when it did not.
    """

    window: Window
    audio_seconds: float
    fit_frames: int | None = None
    fit_text: str | None = None
    reason: str | None = None


def fit_window_frames(n_samples: int) -> int:
    """Log-mel frames of the fit window for ``n_samples`` of 16 kHz audio.

    ``(ceil(n_samples / 16000) + 1) * 100``: the audio rounded up to whole seconds plus
    :data:`FIT_EXTRA_SECONDS`, at :data:`FRAMES_PER_SECOND`; e.g. 2.99 s -> 400 frames (4 s).
    Always even, as the encoder's stride-2 convolution needs.
    """
    return (math.ceil(n_samples / SAMPLE_RATE) + FIT_EXTRA_SECONDS) * FRAMES_PER_SECOND


def fit_token_budget(frames: int) -> int:
    """Most tokens the fit pass may generate for a window of ``frames`` log-mel frames:
    :data:`MAX_TOKENS_PER_SECOND` per second of window, at most :data:`DECODER_TOKEN_LIMIT`."""
    return min(DECODER_TOKEN_LIMIT, math.ceil(frames / FRAMES_PER_SECOND * MAX_TOKENS_PER_SECOND))


def count_words(text: str) -> int:
    """Words in ``text`` as runs of letters or digits ("ill-disposed" = 2, "Mr." = 1)."""
    return len(_WORD.findall(text))


def fit_fallback_reason(audio_seconds: float, text: str, token_ids: Sequence[int],
                        timestamp_begin: int, token_budget: int) -> str | None:
    """Why a fit-window result should be replaced by the 30 s window, or None to keep it.

    The rule, first match wins (constants documented at module level):

    1. ``length-limit``: the decoder returned ``token_budget`` tokens or more, i.e. it ran into
       its length limit (a repetition loop) instead of finishing (:func:`fit_token_budget`).
    2. ``empty``: no text while the audio is longer than :data:`EMPTY_MIN_SECONDS`.
    3. ``too-many-words``: more than :data:`MAX_WORDS_PER_SECOND` x max(audio_seconds, 1) words.
    4. ``too-few-words``: fewer than :data:`MIN_WORDS_PER_SECOND` x
       (audio_seconds - :data:`MIN_WORDS_GRACE_SECONDS`) words.
    5. ``uncovered-tail``: the last timestamp token lies more than
       :data:`MAX_UNCOVERED_TAIL_SECONDS` before the end of the audio (or a non-empty result has
       no timestamp token at all), i.e. the decode stopped before the speech did.

    Args:
        audio_seconds: length of the transcribed audio (s).
        text: the decoded text (timestamp tokens stripped).
        token_ids: the generated token ids, timestamp tokens included, prompt excluded.
        timestamp_begin: id of ``<|0.00|>``; ids at or above it are timestamps
            (:data:`TIME_PRECISION_S` apart).
        token_budget: the most tokens the decoder was allowed to generate.
    """
    if len(token_ids) >= token_budget:
        return "length-limit"
    words = count_words(text)
    if words == 0:
        return "empty" if audio_seconds > EMPTY_MIN_SECONDS else None
    if words > MAX_WORDS_PER_SECOND * max(audio_seconds, 1.0):
        return "too-many-words"
    if words < MIN_WORDS_PER_SECOND * (audio_seconds - MIN_WORDS_GRACE_SECONDS):
        return "too-few-words"
    stamps = [t for t in token_ids if t >= timestamp_begin]
    if not stamps:
        return "uncovered-tail"
    last_stamp_seconds = (stamps[-1] - timestamp_begin) * TIME_PRECISION_S
    if last_stamp_seconds < audio_seconds - MAX_UNCOVERED_TAIL_SECONDS:
        return "uncovered-tail"
    return None
