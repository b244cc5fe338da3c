"""Decoding one piece until its transcript covers its speech: Whisper's seek, then a retry
with beam search and a repetition penalty, kept only if it ranks higher
(:func:`transcribe_piece`).

The model call is passed in (:data:`DecodeFn`), so the rules here run on scripted decodes in
the tests and on CTranslate2 in :class:`voicelab.stt.whisper.WhisperSTT`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicelab.stt.fit_window import LOOP_PROBLEMS, Window, decode_problem, rank, trim_loop
from voicelab.stt.pieces import Piece
from voicelab.units import INPUT_RATE

MAX_SEEKS = 3
"""Most decodes that continue a piece after its last closed segment (each must advance by
:data:`MIN_SEEK_SECONDS`); a piece of up to 28 s holds at most a few sentences."""

MIN_SEEK_SECONDS = 0.5
"""Least progress (s) a decode must cover before the loop seeks past it."""


@dataclass(frozen=True)
class DecodeOptions:
    """CTranslate2 ``Whisper.generate`` options of one decode.

    Attributes:
        beam_size: beam width (1 = greedy).
        repetition_penalty: penalty on tokens already generated (1.0 = none; CTranslate2 and
            faster-whisper's ``repetition_penalty``, after Keskar et al. 2019, CTRL).
    """

    beam_size: int = 1
    repetition_penalty: float = 1.0


RETRY = DecodeOptions(beam_size=5, repetition_penalty=1.2)
"""Options of the retry of a piece whose transcript still has a problem after seeking: beam
search with faster-whisper's default width (5) and the repetition penalty the CTRL paper
recommends (1.2; Keskar et al. 2019, "CTRL: A Conditional Transformer Language Model for
Controllable Generation", section 4.1). LibriVox 0880's "ill-disposed" is a loop attractor for
tiny.en: in a 3.2 s piece it decoded "He was not an old-s-s-y-y-y-..." greedily and
"He was not, an old-s-y-y-y-..." with 5 beams alone, "He was not, an old supposed young man?"
with both (int8, AVX2 EPYC). Paid only where a retry runs."""


@dataclass(frozen=True)
class PieceResult:
    """How one piece of an utterance was transcribed (``WhisperSTT.last_detail.pieces``).

    Attributes:
        start_s, end_s: the piece within the utterance (s).
        speech_s: detected speech inside it (s).
        text: the transcript returned for it.
        decodes: fit-window decodes run for it (first pass, seeks, retry).
        seeks: decodes that continued after the last closed segment (uncovered tail).
        retried: the first transcript had this problem, so the piece was decoded again
            with :data:`RETRY` (None: no retry).
        problem: what :func:`~voicelab.stt.fit_window.decode_problem` still found in the
            kept transcript (None: nothing); a loop's text is cut where the loop begins.
    """

    start_s: float
    end_s: float
    speech_s: float
    text: str
    decodes: int
    seeks: int = 0
    retried: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class TranscriptionDetail:
    """How one transcription was made (``WhisperSTT.last_detail``).

    Attributes:
        window: ``"fit"`` (pieces in fit windows) or ``"full"`` (faster-whisper's 30 s window).
        audio_seconds: length of the transcribed audio (samples / 16 kHz).
        pieces: per piece, in order (empty for the 30 s window).
    """

    window: Window
    audio_seconds: float
    pieces: tuple[PieceResult, ...] = ()


@dataclass(frozen=True)
class Decode:
    """One fit-window decode of (the rest of) a piece.

    Attributes:
        text: text of its segments that begin within the speech
            (:func:`~voicelab.stt.fit_window.within_speech`); "" if judged silence.
        closed_text: the same without an unfinished last segment.
        covered_s: end of its last closed segment (s from the decoded audio's start).
        n_tokens: tokens generated (prompt excluded).
        budget: the most tokens it was allowed (:func:`~voicelab.stt.fit_window.fit_token_budget`).
    """

    text: str
    closed_text: str
    covered_s: float
    n_tokens: int
    budget: int


DecodeFn = Callable[[np.ndarray, float, DecodeOptions], Decode]
"""``decode(audio, speech_end_s, options)``: one fit-window decode of 16 kHz float32 audio
whose last speech ends ``speech_end_s`` seconds after its first sample."""


def _decode_with_seeks(x: np.ndarray, piece: Piece, decode: DecodeFn, options: DecodeOptions
                       ) -> tuple[str, str | None, int, int]:
    """Decode ``x`` (the piece's audio), seeking past each closed segment while the tail is
    uncovered; returns ``(text, problem, decodes, seeks)``."""
    texts: list[str] = []
    offset = 0.0  # s into the piece where the current decode starts
    seeks = 0
    while True:
        d = decode(x[round(offset * INPUT_RATE):], piece.speech_end_s - offset, options)
        text = " ".join(t for t in [*texts, d.text] if t)
        problem = decode_problem(text, d.n_tokens, d.budget, piece.speech_seconds,
                                 piece.speech_end_s, offset + d.covered_s)
        if problem != "uncovered-tail" or seeks == MAX_SEEKS or d.covered_s < MIN_SEEK_SECONDS:
            return text, problem, seeks + 1, seeks
        if d.closed_text:
            texts.append(d.closed_text)
        offset += d.covered_s
        seeks += 1


def transcribe_piece(audio: np.ndarray, piece: Piece, decode: DecodeFn, options: DecodeOptions) -> PieceResult:
    """Transcribe one piece of an utterance.

    1. decode the piece's audio with ``options``;
    2. while :func:`~voicelab.stt.fit_window.decode_problem` finds an ``uncovered-tail``,
       decode the rest from the end of the last closed segment (Whisper's seek: OpenAI
       Whisper's ``transcribe`` seeks to a decode's last timestamp unless it ends in a single
       one), keeping the closed segments' text and dropping the unfinished one; at most
       :data:`MAX_SEEKS` times, and only while each decode covers :data:`MIN_SEEK_SECONDS`;
    3. any problem left (a loop, empty, too few words, a tail the seeks could not reach):
       steps 1-2 again with :data:`RETRY`, and keep the retry only if it ranks higher
       (:func:`~voicelab.stt.fit_window.rank`), so a retry never returns fewer words unless
       the first transcript looped;
    4. a transcript that still loops is cut where the loop begins
       (:func:`~voicelab.stt.fit_window.trim_loop`): a loop is never passed on.

    Args:
        audio: the whole utterance, 16 kHz mono float32 ``(samples,)``.
        piece: the stretch to transcribe (:func:`~voicelab.stt.pieces.split_at_pauses`).
        decode: the model call (:data:`DecodeFn`).
        options: decoding options of the first pass (the config's beam size).
    """
    x = audio[piece.start:piece.end]
    text, problem, decodes, seeks = _decode_with_seeks(x, piece, decode, options)
    start_s, end_s = piece.start / INPUT_RATE, piece.end / INPUT_RATE
    if problem is None:
        return PieceResult(start_s, end_s, piece.speech_seconds, text, decodes, seeks)
    first_problem = problem
    text2, problem2, decodes2, seeks2 = _decode_with_seeks(x, piece, decode, RETRY)
    if rank(text2, problem2) > rank(text, problem):
        text, problem = text2, problem2
    if problem in LOOP_PROBLEMS:
        text = trim_loop(text)
    return PieceResult(start_s, end_s, piece.speech_seconds, text, decodes + decodes2, seeks + seeks2,
                       retried=first_problem, problem=problem)
