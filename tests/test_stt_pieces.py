"""The fit-window STT's rules, exactly, without a model: where an utterance is cut
(:mod:`voicelab.stt.pieces`), how a timestamp-mode decode is read and judged
(:mod:`voicelab.stt.fit_window`), and how a piece is sought past and retried
(:mod:`voicelab.stt.piece_decode`, on scripted decodes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voicelab.measure.metrics import truncated_words
from voicelab.stt.fit_window import (
    DECODER_TOKEN_LIMIT,
    Segment,
    count_words,
    covered_until,
    decode_problem,
    fit_token_budget,
    fit_window_frames,
    parse_segments,
    rank,
    repeats,
    trim_loop,
    within_speech,
    words_of,
)
from voicelab.stt.piece_decode import MAX_SEEKS, RETRY, Decode, DecodeOptions, transcribe_piece
from voicelab.stt.pieces import Piece, split_at_pauses

SR = 16_000
TB = 50363  # <|0.00|> of the English-only vocabulary; any id works for the rules


def s(seconds: float) -> int:
    """Sample index of ``seconds``."""
    return round(seconds * SR)


def stamp(seconds: float) -> int:
    """Timestamp token id for ``seconds`` (0.02 s steps)."""
    return TB + round(seconds / 0.02)


# --- window arithmetic ---------------------------------------------------------------------

@pytest.mark.parametrize("samples, frames", [
    (0, 100), (1, 200), (16_000, 200), (16_001, 300), (47_840, 400), (64_000, 500),
    (29 * 16_000, 3000),
])
def test_fit_window_is_ceil_seconds_plus_one(samples, frames):
    assert fit_window_frames(samples) == frames == (math.ceil(samples / 16_000) + 1) * 100


def test_fit_token_budget():
    assert fit_token_budget(400) == 48  # 4 s x 12 tokens/s
    assert fit_token_budget(3000) == DECODER_TOKEN_LIMIT == 224


def test_words_split_hyphens_and_lower_case():
    assert count_words("He was not an old-s-y-y") == 8
    assert count_words(" . ") == 0
    assert words_of("Mr. Ill-disposed") == ["mr", "ill", "disposed"]


# --- cutting at pauses ---------------------------------------------------------------------

def test_no_speech_is_one_piece_over_the_whole_audio():
    assert split_at_pauses([], s(2)) == [Piece(0, s(2), 0, s(2), s(2))]


def test_one_region_gets_the_edge_pad_clipped_to_the_audio():
    assert split_at_pauses([(s(0.1), s(3.0))], s(4.0)) == [Piece(0, s(3.7), s(0.1), s(3.0), s(2.9))]
    assert split_at_pauses([(s(1.0), s(3.0))], s(3.2), edge_pad_s=0.3) == [
        Piece(s(0.7), s(3.2), s(1.0), s(3.0), s(2.0))]


def test_a_long_pause_cuts_at_most_edge_pad_either_side():
    # 0.5 s pause: half (0.25 s) to each side; 2 s pause: 0.3 s to each side, the rest dropped
    pieces = split_at_pauses([(s(0.5), s(3.0)), (s(3.5), s(5.0)), (s(7.0), s(8.0))], s(9.0), edge_pad_s=0.3)
    assert pieces == [
        Piece(s(0.2), s(3.25), s(0.5), s(3.0), s(2.5)),
        Piece(s(3.25), s(5.3), s(3.5), s(5.0), s(1.5)),
        Piece(s(6.7), s(8.3), s(7.0), s(8.0), s(1.0)),
    ]


def test_pauses_shorter_than_the_minimum_stay_inside_a_piece():
    pieces = split_at_pauses([(s(0.3), s(2.0)), (s(2.29), s(4.0))], s(4.2))
    assert pieces == [Piece(0, s(4.2), s(0.3), s(4.0), s(1.7) + s(4.0) - s(2.29))]
    assert pieces[0].speech_end_s == pytest.approx(4.0)
    # exactly the minimum pause cuts
    assert len(split_at_pauses([(s(0.3), s(2.0)), (s(2.3), s(4.0))], s(4.2))) == 2


def test_a_piece_longer_than_the_maximum_ends_at_its_last_pause():
    regions = [(s(0.0), s(10.0)), (s(10.1), s(20.0)), (s(20.1), s(30.0))]  # 100 ms pauses only
    pieces = split_at_pauses(regions, s(30.0), max_piece_s=25.0)
    assert [(p.speech_start, p.speech_end) for p in pieces] == [(0, s(20.0)), (s(20.1), s(30.0))]
    assert [(p.start, p.end) for p in pieces] == [(0, s(20.05)), (s(20.05), s(30.0))]


def test_one_region_longer_than_the_maximum_is_cut_in_equal_parts():
    pieces = split_at_pauses([(0, s(60.0))], s(60.0), max_piece_s=28.0)
    assert [(p.speech_start, p.speech_end) for p in pieces] == [(0, s(20)), (s(20), s(40)), (s(40), s(60))]
    assert all(p.seconds <= 28.0 for p in pieces)


def test_default_pieces_never_exceed_the_30_s_window():
    long_talk = [(s(0.7 + 10.1 * k), s(0.7 + 10.1 * k + 10.0)) for k in range(6)]  # 100 ms pauses
    for regions, n in (([(s(0.7), s(60.7))], s(61.4)), (long_talk, s(62.0))):
        pieces = split_at_pauses(regions, n)
        assert len(pieces) > 1
        assert all(fit_window_frames(p.end - p.start) <= 3000 for p in pieces)


@pytest.mark.parametrize("regions, n", [
    ([(s(2), s(1))], s(3)),                    # empty
    ([(s(1), s(2)), (s(1.5), s(2.5))], s(3)),  # overlapping
    ([(s(2), s(2.5)), (s(0), s(1))], s(3)),    # unsorted
    ([(s(1), s(4))], s(3)),                    # past the end
])
def test_bad_regions_are_refused(regions, n):
    with pytest.raises(ValueError, match="speech regions"):
        split_at_pauses(regions, n)


def test_max_piece_must_be_positive():
    with pytest.raises(ValueError, match="max_piece_s"):
        split_at_pauses([], s(1), max_piece_s=0)


# --- reading a timestamp-mode decode ------------------------------------------------------

def test_segments_of_a_decode_that_stopped_at_a_pause():
    # what tiny.en gave for arctic a0007 + 0.5 s + librivox 0870 in one fit window
    ids = [stamp(0), 1, 2, 3, stamp(4.92), stamp(4.92)]
    assert parse_segments(ids, TB) == [Segment(0.0, 4.92, (1, 2, 3))]
    assert covered_until(parse_segments(ids, TB)) == pytest.approx(4.92)


def test_segments_closed_open_and_unfinished():
    ids = [stamp(0), 1, stamp(2.0), stamp(2.5), 2, 3, stamp(4.0), 4, 5]
    assert parse_segments(ids, TB) == [Segment(0.0, 2.0, (1,)), Segment(2.5, 4.0, (2, 3)),
                                       Segment(4.0, None, (4, 5))]
    assert covered_until(parse_segments(ids, TB)) == pytest.approx(4.0)
    assert parse_segments([1, 2], TB) == [Segment(0.0, None, (1, 2))]
    assert covered_until(parse_segments([1, 2], TB)) == 0.0


def test_segments_beginning_after_the_speech_are_dropped():
    # tiny.en repeating a 3.5 s piece's sentence into the window's silence
    segs = parse_segments([stamp(0), 1, stamp(5.0), stamp(5.0), 1, stamp(10.0)], TB)
    assert within_speech(segs, speech_end_s=3.2) == [Segment(0.0, 5.0, (1,))]
    assert within_speech(segs, speech_end_s=4.6) == segs  # 5.0 < 4.6 + 0.5


# --- judging a piece's transcript ---------------------------------------------------------

@pytest.mark.parametrize("words, expected", [
    ("old s y y y y y y y y", True),             # one word eight times
    ("no no no no", False),                      # too short a span
    ("a b a b a b a b", True),                   # two words four times
    ("he might even have been made amiable himself he might even have been made amiable himself", True),
    ("he might even have been made amiable", False),
    ("we will see we will see", False),          # three words twice
])
def test_repeats(words, expected):
    assert repeats(words.split()) is expected


SENTENCE = "he might even have been made amiable himself"  # 8 words


@pytest.mark.parametrize("text, n_tokens, budget, speech, end, covered, problem", [
    (SENTENCE, 12, 48, 3.0, 3.1, 3.0, None),
    (SENTENCE, 48, 48, 3.0, 3.1, 3.0, "length-limit"),
    (f"{SENTENCE} {SENTENCE}", 30, 48, 6.0, 6.1, 6.0, "repetition"),
    (" ".join(f"w{k}" for k in range(19)), 30, 48, 3.0, 3.1, 3.0, "too-many-words"),
    (" ".join(f"w{k}" for k in range(18)), 30, 48, 3.0, 3.1, 3.0, None),  # 6 words/s
    ("", 1, 48, 1.0, 1.1, 0.0, "empty"),
    ("", 1, 48, 0.5, 0.6, 0.0, None),            # short enough to be a cough
    ("yes", 3, 48, 0.4, 0.5, 0.5, None),
    ("a b c d", 10, 156, 10.0, 10.2, 10.0, "too-few-words"),  # 4 < 0.5 x 9
    ("a b c d", 10, 156, 10.0, 10.2, 2.0, "uncovered-tail"),  # the tail is checked first
    ("a b c d e", 10, 156, 10.0, 10.2, 10.0, None),
    ("and you always want to see it in the superlative degree", 20, 156, 10.0, 11.4, 4.92,
     "uncovered-tail"),
    (SENTENCE, 12, 48, 3.0, 4.0, 3.0, None),     # 1.0 s uncovered: Whisper's ends run early
])
def test_decode_problem(text, n_tokens, budget, speech, end, covered, problem):
    assert decode_problem(text, n_tokens, budget, speech, end, covered) == problem


def test_rank_puts_loops_last_then_more_words_first():
    assert rank("a b c", None) > rank("a b", None)
    assert rank("a", "too-few-words") > rank("a b c d e f g h", "length-limit")
    assert rank("a b", "uncovered-tail") == rank("a b", None)


# --- seeking and retrying, on scripted decodes --------------------------------------------

class ScriptedDecoder:
    """A :data:`~voicelab.stt.piece_decode.DecodeFn` that returns scripted decodes in order and
    records what it was asked: (audio seconds, speech_end_s, options)."""

    def __init__(self, *decodes: Decode):
        self.decodes = list(decodes)
        self.calls: list[tuple[float, float, int]] = []

    def __call__(self, audio: np.ndarray, speech_end_s: float, options: DecodeOptions) -> Decode:
        self.calls.append((round(audio.size / SR, 3), round(speech_end_s, 3), options))
        return self.decodes.pop(0)


def piece(seconds: float = 11.6, speech_start: float = 0.3, speech_end: float = 11.4) -> Piece:
    return Piece(0, s(seconds), s(speech_start), s(speech_end), s(speech_end - speech_start))


AUDIO = np.zeros(s(11.6), np.float32)
GREEDY = DecodeOptions()
FIRST = "and you always want to see it in the superlative degree"
SECOND = "and mr john dashwood had then leisure to consider how much there might be"


def test_a_complete_decode_is_kept_as_it_is():
    dec = ScriptedDecoder(Decode(f"{FIRST} {SECOND}", f"{FIRST} {SECOND}", 11.3, 40, 156))
    r = transcribe_piece(AUDIO, piece(), dec, GREEDY)
    assert (r.text, r.decodes, r.seeks, r.retried, r.problem) == (f"{FIRST} {SECOND}", 1, 0, None, None)
    assert dec.calls == [(11.6, 11.4, GREEDY)]


def test_an_uncovered_tail_is_decoded_again_from_the_last_closed_segment():
    dec = ScriptedDecoder(
        Decode(f"{FIRST} and mr", FIRST, 4.92, 20, 156),  # stops; "and mr" is unfinished
        Decode(SECOND, SECOND, 6.4, 25, 96),
    )
    r = transcribe_piece(AUDIO, piece(), dec, GREEDY)
    assert r.text == f"{FIRST} {SECOND}"
    assert (r.decodes, r.seeks, r.retried, r.problem) == (2, 1, None, None)
    # the second decode gets the rest of the piece, with the speech end moved along
    assert dec.calls == [(11.6, 11.4, GREEDY), (6.68, 6.48, GREEDY)]


def test_seeking_stops_without_progress_and_after_max_seeks():
    stuck = ScriptedDecoder(Decode("a b c d e f", "", 0.2, 10, 156), Decode("a b c", "", 0.2, 10, 156))
    r = transcribe_piece(AUDIO, piece(), stuck, GREEDY)
    assert (r.text, r.decodes, r.seeks, r.retried, r.problem) == ("a b c d e f", 2, 0, "uncovered-tail",
                                                                   "uncovered-tail")
    assert stuck.calls == [(11.6, 11.4, GREEDY), (11.6, 11.4, RETRY)]
    steps = ScriptedDecoder(*[Decode(f"w{k} x y", f"w{k} x y", 1.0, 5, 156) for k in range(MAX_SEEKS + 1)])
    steps.decodes.append(Decode("", "", 0.0, 1, 156))  # the retry finds nothing
    r = transcribe_piece(AUDIO, piece(), steps, GREEDY)
    assert r.seeks == MAX_SEEKS and r.decodes == MAX_SEEKS + 2 and r.problem == "uncovered-tail"
    assert r.text == " ".join(f"w{k} x y" for k in range(MAX_SEEKS + 1))
    assert [c[0] for c in steps.calls] == [11.6, 10.6, 9.6, 8.6, 11.6]


def test_an_unreachable_tail_is_retried_and_the_longer_transcript_kept():
    dec = ScriptedDecoder(Decode("a b c d e f", "", 0.2, 10, 156),
                          Decode(f"{FIRST} {SECOND}", f"{FIRST} {SECOND}", 11.3, 40, 156))
    r = transcribe_piece(AUDIO, piece(), dec, GREEDY)
    assert (r.text, r.retried, r.problem, r.decodes) == (f"{FIRST} {SECOND}", "uncovered-tail", None, 2)


def test_a_loop_is_retried_with_beam_search_and_a_repetition_penalty():
    loop = "he was not an old s " + "y " * 40
    heard = "he was not an old sposed young man"
    dec = ScriptedDecoder(Decode(loop, "", 0.0, 48, 48), Decode(heard, heard, 2.9, 12, 48))
    r = transcribe_piece(AUDIO[: s(3.4)], piece(3.4, 0.2, 3.0), dec, GREEDY)
    assert r.text == heard
    assert (r.retried, r.problem, r.decodes) == ("length-limit", None, 2)
    assert [c[2] for c in dec.calls] == [GREEDY, RETRY]
    assert (RETRY.beam_size, RETRY.repetition_penalty) == (5, 1.2)


def test_a_loop_left_after_the_retry_is_cut_where_it_begins():
    dec = ScriptedDecoder(Decode("He was not an old-s-s-y-y-y-y-y-y-y-y-y-y-y", "", 0.0, 48, 48),
                          Decode("He was not, an old-s-y-y-y-y-y-y-y-y-y-y-y-y-y", "", 0.0, 48, 48))
    r = transcribe_piece(AUDIO[: s(3.4)], piece(3.4, 0.2, 3.0), dec, GREEDY)
    assert (r.text, r.retried, r.problem) == ("He was not, an old-s-y", "length-limit", "length-limit")


def test_a_retry_never_returns_fewer_words_than_a_first_transcript_that_did_not_loop():
    dec = ScriptedDecoder(Decode("a b", "a b", 11.0, 5, 156), Decode("a", "a", 11.0, 3, 156))
    r = transcribe_piece(AUDIO, piece(), dec, GREEDY)  # 2 words for 11 s of speech: too few
    assert (r.text, r.retried, r.problem) == ("a b", "too-few-words", "too-few-words")


def test_an_empty_piece_stays_empty_when_the_retry_finds_nothing_either():
    dec = ScriptedDecoder(Decode("", "", 0.0, 1, 156), Decode("", "", 0.0, 1, 156))
    r = transcribe_piece(AUDIO, piece(), dec, GREEDY)
    assert (r.text, r.decodes, r.retried, r.problem) == ("", 2, "empty", "empty")


@pytest.mark.parametrize("text, trimmed", [
    ("He was not an old-s-s-y-y-y-y-y-y-y-y-y-y", "He was not an old-s-s-y"),
    ("He was not an old------------", "He was not an old"),
    ("Hi. He might be. He might be. He might be.", "Hi. He might be. He might be. He might be"),  # 3 x 3: no loop
    ("----", ""),
])
def test_trim_loop(text, trimmed):
    assert trim_loop(text) == trimmed


# --- truncation, the metric the real-model tests hold the STT to --------------------------

@pytest.mark.parametrize("hypothesis, lost", [
    ("He was not an ill-disposed young man.", 0),
    ("He was not an old-sposed young man.", 0),   # misheard, not truncated
    ("He was not an ill", 3),
    ("He was not an ill-disposed young lad", 0),
    ("", 8),
])
def test_truncated_words(hypothesis, lost):
    assert truncated_words("He was not an ill-disposed young man", hypothesis) == lost


def test_truncated_words_needs_a_reference():
    with pytest.raises(ValueError, match="non-empty reference"):
        truncated_words(" ", "a")
