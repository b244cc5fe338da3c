"""Trigger policies fed like an LLM stream (token by token, and character by character).

Every assertion is an exact chunk list or an exact invariant; times are scripted.
"""

import pytest

from voicelab.trigger import TRIGGERS, TextChunk, make_trigger
from voicelab.trigger.golden import llm_like_tokens
from voicelab.trigger.sentences import is_boundary
from voicelab.trigger.words import WordTracker


def bpe_tokens(text: str) -> list[str]:
    """Split like a BPE LLM stream: a word with its leading whitespace (" Smith"), each
    punctuation mark alone with its leading whitespace ("."), trailing whitespace alone."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j].isspace():
            j += 1
        if j < n and (text[j].isalnum() or text[j] == "_"):
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
        elif j < n:
            j += 1
        tokens.append(text[i:j])
        i = j
    return tokens


def feed(policy, text: str, by: str = "token") -> list[TextChunk]:
    """Push ``text`` at 1 ms per piece, then flush; return every chunk."""
    pieces = bpe_tokens(text) if by == "token" else list(text)
    chunks = []
    for i, piece in enumerate(pieces):
        chunks += policy.push(piece, float(i))
    chunks += policy.flush(float(len(pieces)))
    return chunks


def texts_of(name: str, text: str, by: str = "token", **params) -> list[str]:
    return [c.text for c in feed(make_trigger(name, **params), text, by)]


FEEDS = ["token", "char"]

TEXTS = [
    "Hello there, how are you today?",
    "Mr. Smith went to Washington. He arrived at noon.",
    "The U.S.A. is large. It costs $100.00, e.g. a lot. Pi is 3.14 or so.",
    'Wait... what? She said "Hi!" and left. See www.example.com or mail me@x.org. Done!',
    "  Leading and trailing spaces.  ",
    "Line one.\nLine two!\n\nLast line? ",
    "1. Buy milk 2. Call Dr. Who (he knows). Fine.",
    "One",
    "",
    "   ",
]


def test_bpe_tokens_split_like_an_llm():
    assert bpe_tokens("Mr. Smith went") == ["Mr", ".", " Smith", " went"]
    assert bpe_tokens(" $100.00, ok ") == [" $", "100", ".", "00", ",", " ok", " "]
    assert bpe_tokens('"Hi!"') == ['"', "Hi", "!", '"']
    assert llm_like_tokens('"Hi!" Mr. $1.50 ') == bpe_tokens('"Hi!" Mr. $1.50 ')


# --- invariants, every policy -------------------------------------------------------------


@pytest.mark.parametrize("name", list(TRIGGERS))
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("by", FEEDS)
def test_chunks_tile_the_reply_and_hold_whole_words(name, text, by):
    chunks = feed(make_trigger(name), text, by)
    tracker = WordTracker()
    words = tracker.push(text) + tracker.flush()  # the reply's words, as the orchestrator sees them
    joined = "".join(c.text for c in chunks)
    # tiles the reply: only trailing whitespace that came after the last chunk is left out
    assert text.startswith(joined) and not text[len(joined):].strip()
    assert [c.start for c in chunks] == [0, *(c.end for c in chunks)][:len(chunks)]
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert c.text.strip()                      # never only whitespace
        assert c.text.split() == [w.text for w in words[c.first_word:c.last_word + 1]]
    assert [c.first_word for c in chunks] == [0, *(c.last_word + 1 for c in chunks)][:len(chunks)]
    assert (chunks[-1].last_word if chunks else -1) == len(words) - 1


@pytest.mark.parametrize("name", list(TRIGGERS))
def test_flush_hands_over_trailing_whitespace_with_the_last_words(name):
    trig = make_trigger(name)
    for i, tok in enumerate(["Hi", " there", " you", "!", "\n"]):
        trig.push(tok, float(i))
    (last,) = trig.flush(9.0)
    assert last.text.endswith("you!\n") and last.end == len("Hi there you!\n")


def test_whitespace_after_the_last_chunk_is_never_a_chunk():
    assert texts_of("words", "a b ", words=2) == ["a b"]          # " " completed "b"
    assert texts_of("words", "a b c ", words=2) == ["a b", " c "]
    assert texts_of("whole", "  ") == []


@pytest.mark.parametrize("name", list(TRIGGERS))
def test_reset_starts_a_new_reply(name):
    trig = make_trigger(name)
    feed(trig, "Old words here. More old words.")
    trig.reset()
    chunks = feed(trig, "New. Reply.")
    assert "".join(c.text for c in chunks) == "New. Reply."
    assert (chunks[0].start, chunks[0].first_word, chunks[-1].last_word) == (0, 0, 1)


# --- words ------------------------------------------------------------------------------


@pytest.mark.parametrize("by", FEEDS)
def test_word_count_trigger(by):
    chunks = feed(make_trigger("words", words=2), "Hello there, how are you today?", by)
    assert [c.text for c in chunks] == ["Hello there,", " how are", " you today?"]
    assert [(c.first_word, c.last_word) for c in chunks] == [(0, 1), (2, 3), (4, 5)]
    assert [(c.start, c.end) for c in chunks] == [(0, 12), (12, 20), (20, 31)]
    assert texts_of("words", "A b c", by, words=1) == ["A", " b", " c"]
    assert texts_of("words", "One two three four five", by, words=3) == ["One two three", " four five"]


def test_word_count_emits_when_the_nth_word_completes():
    trig = make_trigger("words", words=2)
    assert trig.push("Hello", 0) == []
    assert trig.push(" there", 1) == []       # "there" may still grow ("thereby")
    (c,) = trig.push(",", 2) + trig.push(" how", 3)
    assert (c.text, c.first_word, c.last_word) == ("Hello there,", 0, 1)


def test_word_needs_following_whitespace():
    trig = make_trigger("words", words=1)
    assert trig.push("Hel", 0) == [] and trig.push("lo", 1) == []
    (c,) = trig.push(" ", 2)
    assert c.text == "Hello"


# --- sentence ---------------------------------------------------------------------------


@pytest.mark.parametrize("by", FEEDS)
@pytest.mark.parametrize("text, sentences", [
    ("Mr. Smith went to Washington. He arrived at noon.",
     ["Mr. Smith went to Washington.", " He arrived at noon."]),
    ("The U.S.A. is large. It costs $100.00, e.g. a lot. Pi is 3.14 or so.",
     ["The U.S.A. is large.", " It costs $100.00, e.g. a lot.", " Pi is 3.14 or so."]),
    ("Wait... what? Then he left... Later, silence.",
     ["Wait... what?", " Then he left...", " Later, silence."]),
    ('She said "Hi!" and left. He said "Stop." Then he went.',
     ['She said "Hi!" and left.', ' He said "Stop."', " Then he went."]),
    ("See www.example.com now. Mail jane.doe@example.com today. Bye.",
     ["See www.example.com now.", " Mail jane.doe@example.com today.", " Bye."]),
    ("My name is Jonas E. Smith. Please turn to p. 55. OK.",
     ["My name is Jonas E. Smith.", " Please turn to p. 55.", " OK."]),
    ("Bring pens, paper, etc. to class. Bring pens, paper, etc. Then sit.",
     ["Bring pens, paper, etc. to class.", " Bring pens, paper, etc.", " Then sit."]),
    ("He works (mostly at night.) at the lab. Really!",
     ["He works (mostly at night.) at the lab.", " Really!"]),
    ("It is 3.14. Not 3.15 vs. 3.16 though. Ok? Yes! Good.",
     ["It is 3.14.", " Not 3.15 vs. 3.16 though.", " Ok?", " Yes!", " Good."]),
    ("Go now.\nThen rest.", ["Go now.", "\nThen rest."]),
])
def test_sentence_trigger_exact_chunks(by, text, sentences):
    assert texts_of("sentence", text, by) == sentences


def test_sentence_boundary_is_decided_when_the_next_word_starts():
    trig = make_trigger("sentence")
    assert trig.push("Hello", 0) == []
    assert trig.push(" world", 1) == []
    assert trig.push(".", 2) == []          # could still be an abbreviation
    assert trig.push(" ", 3) == []          # next word not started
    (c,) = trig.push("It", 4)               # capital: a boundary
    assert (c.text, c.first_word, c.last_word) == ("Hello world.", 0, 1)
    assert trig.push(" is", 5) == []
    (c,) = trig.flush(6)
    assert (c.text, c.first_word, c.last_word) == (" It is", 2, 3)


def test_sentence_boundary_waits_past_an_opening_quote():
    trig = make_trigger("sentence")
    assert trig.push("Go to Washington.", 0) == []
    assert trig.push(' "', 1) == []         # a quote alone does not tell
    (c,) = trig.push("Yes", 2)
    assert c.text == "Go to Washington."


def test_sentence_abbreviation_is_not_a_boundary_even_when_streamed():
    trig = make_trigger("sentence")
    chunks = [c for i, t in enumerate(bpe_tokens("Ask Dr. Who. Then go.")) for c in trig.push(t, i)]
    assert [c.text for c in chunks] == ["Ask Dr. Who."]


def test_sentence_min_words_merges_short_sentences():
    chunks = feed(make_trigger("sentence", min_words=3), "Yes. I think so. That is right.")
    assert [c.text for c in chunks] == ["Yes. I think so.", " That is right."]
    assert [(c.first_word, c.last_word) for c in chunks] == [(0, 3), (4, 6)]


def test_numbered_list_items_are_sentences():
    assert texts_of("sentence", "1. The first item 2. The second item") == [
        "1. The first item", " 2. The second item"]


# --- hybrid, whole, debounce --------------------------------------------------------------


@pytest.mark.parametrize("by", FEEDS)
def test_hybrid_trigger(by):
    assert texts_of("hybrid", "Well, I think so. It is Mr. Smith's car. Yes.", by, words=2) == [
        "Well, I", " think so.", " It is Mr. Smith's car.", " Yes."]
    assert texts_of("hybrid", "Yes. I think so. Fine then", by, words=2) == [
        "Yes.", " I think so.", " Fine then"]     # a sentence may end before N words


def test_whole_trigger_waits_for_the_end():
    trig = make_trigger("whole")
    assert all(trig.push(t, i) == [] for i, t in enumerate(bpe_tokens("One. Two three. ")))
    assert trig.next_deadline_ms() is None and trig.poll(1e9) == []
    (c,) = trig.flush(9)
    assert (c.text, c.start, c.end, c.first_word, c.last_word) == ("One. Two three. ", 0, 16, 0, 2)


def test_debounce_trigger_scripted_times():
    trig = make_trigger("debounce", ms=200)
    assert trig.next_deadline_ms() is None
    assert trig.push("Hello", 0) == []
    assert trig.next_deadline_ms() is None          # no complete word yet
    assert trig.push(" there", 50) == []
    assert trig.next_deadline_ms() == 250           # 50 + 200: "Hello" is complete
    assert trig.poll(249) == []
    (c,) = trig.poll(250)
    assert (c.text, c.first_word, c.last_word) == ("Hello", 0, 0)   # "there" may still grow
    assert trig.next_deadline_ms() is None
    assert trig.poll(1000) == []
    trig.push(" you", 600)
    trig.push(" all", 700)
    assert trig.next_deadline_ms() == 900           # restarted by the last push
    assert [c.text for c in trig.poll(950)] == [" there you"]
    assert [c.text for c in trig.flush(960)] == [" all"]


def test_debounce_default_is_200_ms():
    trig = make_trigger("debounce")
    trig.push("a b", 10.0)
    assert trig.next_deadline_ms() == 210.0


# --- words, factory -----------------------------------------------------------------------


def test_word_tracker():
    wt = WordTracker()
    assert wt.push("  Hi") == []
    assert [(w.index, w.text, w.start, w.end) for w in wt.push(", you ")] == [
        (0, "Hi,", 2, 5), (1, "you", 6, 9)]
    assert [w.text for w in wt.flush()] == []
    wt.push("end")
    assert [(w.index, w.text, w.start, w.end) for w in wt.flush()] == [(2, "end", 10, 13)]


@pytest.mark.parametrize("name, params", [("words", {"words": 0}), ("debounce", {"ms": 0}),
                                          ("sentence", {"min_words": 0}), ("hybrid", {"words": 0})])
def test_bad_parameters(name, params):
    with pytest.raises(ValueError):
        make_trigger(name, **params)


def test_unknown_policy_lists_names():
    assert list(TRIGGERS) == ["words", "sentence", "debounce", "hybrid", "whole"]
    with pytest.raises(ValueError, match="words, sentence, debounce, hybrid, whole"):
        make_trigger("paragraph")


@pytest.mark.parametrize("word, next_start, previous, ends", [
    ("I.", "Did", ["and"], True),             # the pronoun after a lowercase word
    ("I.", "Jones", ["Albert"], False),       # an initial
    ("E.", "Smith", ["Jonas"], False),
    (".", "Next", [".", ".", "."], True),     # ". . . ." : the fourth dot is a period
    (".", "Next", [".", "."], False),         # ". . ." : an ellipsis inside a sentence
    ('[...]"', "(Smith", ["stairways"], False),  # a citation after a quotation
    ("Mr.", "Smith", [], False),
    ("etc.", "Then", [], True),
    ("etc.", "to", [], False),
    ("p.", "55", ["to"], False),
    ("Yahoo!", "in", [], False),
])
def test_is_boundary_rules(word, next_start, previous, ends):
    assert is_boundary(word, next_start, previous) is ends


def test_lettered_list_items_are_sentences():
    assert texts_of("sentence", "a. The first item b. The second item") == [
        "a. The first item", " b. The second item"]
