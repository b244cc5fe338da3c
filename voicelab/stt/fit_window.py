"""The fit window of :class:`voicelab.stt.whisper.WhisperSTT`: its size, its token budget,
the segments of a timestamp-mode decode, and the check that a piece's transcript covers the
speech it was given (what the decode loop then seeks past or retries).

Audio: 16 kHz mono float32 of shape ``(samples,)``; times in seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from voicelab.units import INPUT_RATE

FRAMES_PER_SECOND = 100
"""Whisper log-mel frames per second: a 160-sample hop at 16 kHz (faster-whisper
``FeatureExtractor(hop_length=160)``; OpenAI Whisper ``HOP_LENGTH``)."""

FULL_WINDOW_SECONDS = 30
"""Whisper's fixed input window (OpenAI Whisper ``CHUNK_LENGTH``; 3000 frames): faster-whisper
``transcribe`` pads or trims every segment to it (``pad_or_trim``)."""

FIT_EXTRA_SECONDS = 1
"""Slack added to the rounded-up utterance length: the fit window is ceil(seconds) + 1 s
(measured at the 30 s window's WER on the six bundled clips when the fit window was built)."""

MAX_FIT_SECONDS = FULL_WINDOW_SECONDS - FIT_EXTRA_SECONDS
"""Longest audio (s) one fit window takes: beyond it ceil(s) + 1 s would exceed the 30 s window
the encoder's positional embeddings cover (pieces are cut to fit, see
:data:`voicelab.stt.pieces.MAX_PIECE_S`)."""

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

MIN_WORDS_PER_SECOND = 0.5
"""Fewest plausible words per second of *speech* (the detector's, pauses excluded) beyond
:data:`MIN_WORDS_GRACE_SECONDS`: one word per 2 s, a quarter of slow conversational speech
(~120 words/min = 2 words/s). The bundled read clips run at 2.4-3.1 words per second of
*audio* with tiny.en."""

MIN_WORDS_GRACE_SECONDS = 1.0
"""Speech (s) exempt from :data:`MIN_WORDS_PER_SECOND`: a one-word reply ("yes") or a drawn-out
"well..." needs no more than one word for its first second."""

MAX_WORDS_PER_SECOND = 6.0
"""Most plausible words per second of speech (and at least per 1 s): very fast speech is
~4-5 words/s (250-300 words/min), so more is taken as a repetition loop (a fit window gave
"He was not an old-s-y-y-y-..." for librivox_sense_and_sensibility_0880; 1 s of white noise
at 0.01 RMS gave "I'm going to go ahead and see you next time." five times over). Words are
counted as runs of letters/digits, so hyphenated loops count per piece."""

MAX_UNCOVERED_TAIL_SECONDS = 1.0
"""Most speech (s) allowed after the end of the last closed segment: more and the decode
stopped before the speech did, and the decode loop seeks to that segment's end, as Whisper's
own long-form loop does. A truncated decode leaves whole sentences (3-7 s) after its last
timestamp; on the 744 pieces of ``benchmarks/stt_window.py`` (4 int8 back ends) no complete
decode ended its last segment more than 1 s before its speech did (no seek fired)."""

PAST_SPEECH_SECONDS = 0.5
"""A segment that begins this long (s) or more after the piece's last speech is not speech:
it is dropped. A fit window holds silence after the speech (the piece's pad, then the window's
own second), and tiny.en sometimes fills it by repeating the sentence in new segments
(``<|5.00|><|5.00|> He might even have been made amiable himself.<|10.00|>...`` on a 3.5 s
piece, timestamps past the window's own end). Segments inside the speech begin before it ends."""

REPEAT_MIN_WORDS = 8
"""Shortest back-to-back repetition (words, all copies together) taken as a decoding loop: a
run of one to :data:`REPEAT_MAX_NGRAM` words said again at once, at least twice for runs of
four words or more and at least four times for shorter ones, spanning this many words
("y y y y y y y y" from "old-s-y-y-y-y-y-y-y-y"; a whole sentence said twice)."""

REPEAT_MAX_NGRAM = 12
"""Longest run of words (see :data:`REPEAT_MIN_WORDS`) checked for back-to-back repetition."""

EMPTY_MIN_SPEECH_SECONDS = 0.5
"""An empty transcript is accepted only for pieces with at most this much speech (s);
voicelab's endpointer hands over utterances with >= ``vad.min_speech_ms`` (250 ms) of speech,
so an empty transcript of more speech more likely means a failed decode than a cough."""

NO_SPEECH_THRESHOLD = 0.6
"""A fit result whose ``<|nospeech|>`` probability exceeds this while its average log
probability is below :data:`LOG_PROB_THRESHOLD` is silence: its text is dropped. Both are
faster-whisper ``transcribe``'s defaults, so the fit window judges silence as the 30 s window
does (without it, 0.25 s of digital silence came out as "Thank you.")."""

LOG_PROB_THRESHOLD = -1.0
"""See :data:`NO_SPEECH_THRESHOLD` (faster-whisper ``log_prob_threshold`` default)."""

_WORD = re.compile(r"[^\W_]+")

Window = Literal["full", "fit"]

Problem = Literal["length-limit", "repetition", "too-many-words", "empty", "too-few-words",
                  "uncovered-tail"]
"""What :func:`decode_problem` found wrong with a piece's transcript."""

LOOP_PROBLEMS: frozenset[str] = frozenset({"length-limit", "repetition", "too-many-words"})
"""Problems that mean the decoder looped: such a transcript ranks below any other."""


@dataclass(frozen=True)
class Segment:
    """A timestamp-mode segment: ``<|start|> text <|end|>``.

    Attributes:
        start_s: its opening timestamp (s from the decoded audio's first sample).
        end_s: its closing timestamp (s), or None if the decode stopped inside it.
        tokens: its text token ids (no timestamps).
    """

    start_s: float
    end_s: float | None
    tokens: tuple[int, ...]


def fit_window_frames(n_samples: int) -> int:
    """Log-mel frames of the fit window for ``n_samples`` of 16 kHz audio.

    ``(ceil(n_samples / 16000) + 1) * 100``: the audio rounded up to whole seconds plus
    :data:`FIT_EXTRA_SECONDS`, at :data:`FRAMES_PER_SECOND`; e.g. 2.99 s -> 400 frames (4 s).
    Always even, as the encoder's stride-2 convolution needs.
    """
    return (math.ceil(n_samples / INPUT_RATE) + FIT_EXTRA_SECONDS) * FRAMES_PER_SECOND


def fit_token_budget(frames: int) -> int:
    """Most tokens the fit pass may generate for a window of ``frames`` log-mel frames:
    :data:`MAX_TOKENS_PER_SECOND` per second of window, at most :data:`DECODER_TOKEN_LIMIT`."""
    return min(DECODER_TOKEN_LIMIT, math.ceil(frames / FRAMES_PER_SECOND * MAX_TOKENS_PER_SECOND))


def words_of(text: str) -> list[str]:
    """Words of ``text`` as lower-cased runs of letters or digits ("ill-disposed" = 2 words)."""
    return [w.lower() for w in _WORD.findall(text)]


def count_words(text: str) -> int:
    """Words in ``text`` as runs of letters or digits ("ill-disposed" = 2, "Mr." = 1)."""
    return len(_WORD.findall(text))


def parse_segments(token_ids: Sequence[int], timestamp_begin: int) -> list[Segment]:
    """The segments of a timestamp-mode decode (prompt excluded, end-of-text not included).

    Whisper writes ``<|t0|> text <|t1|><|t1|> text <|t2|>``: a timestamp opens a segment, the
    next one closes it, and a closing timestamp directly followed by another opens the next
    segment at the second one. Text always begins at the last timestamp before it (0 s if
    none); text after the last timestamp is an unfinished segment (``end_s`` None).

    Args:
        token_ids: generated ids; ids at or above ``timestamp_begin`` are timestamps, each
            :data:`TIME_PRECISION_S` apart.
        timestamp_begin: id of ``<|0.00|>``.
    """
    segments: list[Segment] = []
    start = 0.0  # the last timestamp seen: where text that follows it begins
    text: list[int] = []
    for t in token_ids:
        if t < timestamp_begin:
            text.append(t)
            continue
        stamp = (t - timestamp_begin) * TIME_PRECISION_S
        if text:
            segments.append(Segment(start, stamp, tuple(text)))
            text = []
        start = stamp
    if text:
        segments.append(Segment(start, None, tuple(text)))
    return segments


def within_speech(segments: Sequence[Segment], speech_end_s: float) -> list[Segment]:
    """The segments that begin less than :data:`PAST_SPEECH_SECONDS` after ``speech_end_s``
    (s from the decoded audio's start); later ones are not speech and are dropped."""
    return [s for s in segments if s.start_s < speech_end_s + PAST_SPEECH_SECONDS]


def covered_until(segments: Sequence[Segment]) -> float:
    """End (s) of the last closed segment, 0.0 if none is closed."""
    return max((s.end_s for s in segments if s.end_s is not None), default=0.0)


def _first_repeat(words: Sequence[str]) -> tuple[int, int] | None:
    """``(start, n)`` of the earliest back-to-back repetition :func:`repeats` looks for (the
    shortest run at that start), or None."""
    n_words = len(words)
    for i in range(n_words):
        for n in range(1, REPEAT_MAX_NGRAM + 1):
            copies_needed = max(2 if n >= 4 else 4, math.ceil(REPEAT_MIN_WORDS / n))
            if i + n * copies_needed > n_words:
                break
            run = words[i:i + n]
            if all(words[i + k * n:i + (k + 1) * n] == run for k in range(1, copies_needed)):
                return i, n
    return None


def repeats(words: Sequence[str]) -> bool:
    """True if a run of 1 to :data:`REPEAT_MAX_NGRAM` words is said again back to back,
    spanning at least :data:`REPEAT_MIN_WORDS` words: twice for runs of four words or more,
    four times for shorter ones (a decoding loop, not "no, no")."""
    return _first_repeat(words) is not None


def trim_loop(text: str) -> str:
    """``text`` cut where a decoding loop begins: after the first copy of its earliest
    back-to-back repetition (:func:`repeats`), else after its last word (a loop of dashes or
    punctuation), keeping the text's own spelling up to there."""
    matches = list(_WORD.finditer(text))
    if not matches:
        return ""
    found = _first_repeat([m.group().lower() for m in matches])
    last = matches[-1] if found is None else matches[found[0] + found[1] - 1]
    return text[:last.end()].strip()


def decode_problem(text: str, n_tokens: int, token_budget: int, speech_seconds: float,
                   speech_end_s: float, covered_s: float) -> Problem | None:
    """What is wrong with a piece's transcript, or None if it covers the speech it was given.

    The rule, first match wins (constants documented at module level):

    1. ``length-limit``: the last decode returned ``token_budget`` tokens or more: it ran into
       its length limit (a loop) instead of finishing (:func:`fit_token_budget`);
    2. ``repetition``: words said again back to back (:func:`repeats`);
    3. ``too-many-words``: more than :data:`MAX_WORDS_PER_SECOND` x max(speech_seconds, 1);
    4. ``empty``: no words while the piece holds more than :data:`EMPTY_MIN_SPEECH_SECONDS`
       of speech;
    5. ``uncovered-tail``: the speech goes on more than :data:`MAX_UNCOVERED_TAIL_SECONDS`
       after ``covered_s``, the end of the last closed segment (checked before the word rate,
       so that a decode that stopped early is continued rather than retried);
    6. ``too-few-words``: fewer than :data:`MIN_WORDS_PER_SECOND` x
       (speech_seconds - :data:`MIN_WORDS_GRACE_SECONDS`) words.

    Args:
        text: the piece's transcript so far (timestamps stripped).
        n_tokens: tokens the last decode generated (prompt excluded).
        token_budget: the most tokens that decode was allowed.
        speech_seconds: detected speech in the piece (s, pauses excluded).
        speech_end_s: end of the piece's last speech (s from the piece's start).
        covered_s: end of the transcript's last closed segment (s from the piece's start).
    """
    if n_tokens >= token_budget:
        return "length-limit"
    words = words_of(text)
    if repeats(words):
        return "repetition"
    if len(words) > MAX_WORDS_PER_SECOND * max(speech_seconds, 1.0):
        return "too-many-words"
    if not words:
        return "empty" if speech_seconds > EMPTY_MIN_SPEECH_SECONDS else None
    if covered_s < speech_end_s - MAX_UNCOVERED_TAIL_SECONDS:
        return "uncovered-tail"
    if len(words) < MIN_WORDS_PER_SECOND * (speech_seconds - MIN_WORDS_GRACE_SECONDS):
        return "too-few-words"
    return None


def rank(text: str, problem: str | None) -> tuple[bool, int]:
    """Order of two transcripts of the same piece: one that did not loop
    (:data:`LOOP_PROBLEMS`) before one that did, then the one with more words."""
    return (problem not in LOOP_PROBLEMS, count_words(text))
