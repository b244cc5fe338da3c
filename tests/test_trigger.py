"""Trigger policies fed token by token (and character by character), exact chunk lists."""

import pytest

from voicelab.trigger import TRIGGERS, make_trigger
from voicelab.trigger.golden import llm_like_tokens
from voicelab.trigger.words import WordTracker


def feed(policy, text, by="token", times=None):
    pieces = llm_like_tokens(text) if by == "token" else list(text)
    chunks = []
    for i, p in enumerate(pieces):
        chunks += policy.push(p, float(times[i]) if times else float(i))
    chunks += policy.flush(1e9)
    return chunks


TEXTS = [
    "Hello there, how are you today?",
    "Mr. Smith went to Washington. He arrived at noon.",
    "The U.S.A. is large. It costs $100.00, e.g. a lot. Pi is 3.14 or so.",
    'Wait... what? She said "Hi!" and left. See www.example.com or mail me@x.org. Done!',
    "  Leading and trailing spaces.  ",
]


@pytest.mark.parametrize("name", list(TRIGGERS))
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("by", ["token", "char"])
def test_chunks_tile_the_reply_and_hold_whole_words(name, text, by):
    chunks = feed(make_trigger(name), text, by)
    assert "".join(c.text for c in chunks) == text.rstrip()  # tiles the reply
    words = text.split()
    assert [w for c in chunks for w in c.text.split()] == words
    for c in chunks:
        assert c.text.strip()
        assert c.last_word - c.first_word + 1 == len(c.text.split())
    assert chunks[0].first_word == 0 and chunks[-1].last_word == len(words) - 1


@pytest.mark.parametrize("by", ["token", "char"])
def test_sentence_trigger_abbreviations(by):
    def sentences(text):
        return [c.text.strip() for c in feed(make_trigger("sentence"), text, by)]
    assert sentences("Mr. Smith went to Washington. He arrived at noon.") == [
        "Mr. Smith went to Washington.", "He arrived at noon."]
    assert sentences("The U.S.A. is large. It costs $100.00, e.g. a lot. Pi is 3.14 or so.") == [
        "The U.S.A. is large.", "It costs $100.00, e.g. a lot.", "Pi is 3.14 or so."]
    assert sentences('Wait... what? She said "Hi!" and left. See www.example.com now. Done!') == [
        "Wait... what?", 'She said "Hi!" and left.', "See www.example.com now.", "Done!"]
    assert sentences("My name is Jonas E. Smith. Please turn to p. 55. OK.") == [
        "My name is Jonas E. Smith.", "Please turn to p. 55.", "OK."]
    assert sentences('He said "Stop." Then he left... Later, silence.') == [
        'He said "Stop."', "Then he left...", "Later, silence."]


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
    assert c.text == " It is"


def test_sentence_min_words_merges_short_sentences():
    chunks = feed(make_trigger("sentence", min_words=3), "Yes. I think so. That is right.")
    assert [c.text.strip() for c in chunks] == ["Yes. I think so.", "That is right."]


def test_word_count_trigger():
    chunks = feed(make_trigger("words", words=2), "Hello there, how are you today?")
    assert [c.text for c in chunks] == ["Hello there,", " how are", " you today?"]
    assert [(c.first_word, c.last_word) for c in chunks] == [(0, 1), (2, 3), (4, 5)]
    one = feed(make_trigger("words", words=1), "A b c")
    assert [c.text for c in one] == ["A", " b", " c"]


def test_word_needs_following_whitespace():
    trig = make_trigger("words", words=1)
    assert trig.push("Hel", 0) == [] and trig.push("lo", 1) == []
    (c,) = trig.push(" ", 2)
    assert c.text == "Hello"


def test_hybrid_trigger():
    chunks = feed(make_trigger("hybrid", words=2), "Well, I think so. It is Mr. Smith's car. Yes.")
    assert [c.text.strip() for c in chunks] == ["Well, I", "think so.", "It is Mr. Smith's car.", "Yes."]


def test_whole_trigger_waits_for_the_end():
    trig = make_trigger("whole")
    assert all(trig.push(t, i) == [] for i, t in enumerate(llm_like_tokens("One. Two three.")))
    assert [c.text for c in trig.flush(9)] == ["One. Two three."]


def test_debounce_trigger_scripted_times():
    trig = make_trigger("debounce", ms=200)
    assert trig.next_deadline_ms() is None
    assert trig.push("Hello", 0) == []
    assert trig.next_deadline_ms() is None          # no complete word yet
    assert trig.push(" there", 50) == []
    assert trig.next_deadline_ms() == 250
    assert trig.poll(249) == []
    (c,) = trig.poll(250)
    assert c.text == "Hello"
    assert trig.next_deadline_ms() is None
    trig.push(" you", 600)
    trig.push(" all", 700)
    assert trig.next_deadline_ms() == 900
    assert [c.text for c in trig.poll(900)] == [" there you"]
    assert [c.text for c in trig.flush(950)] == [" all"]


def test_reset_starts_a_new_reply():
    trig = make_trigger("words", words=1)
    trig.push("Old ", 0)
    trig.reset()
    (c,) = trig.push("New ", 1)
    assert (c.text, c.first_word) == ("New", 0)


def test_word_tracker():
    wt = WordTracker()
    assert wt.push("  Hi") == []
    assert [(w.index, w.text, w.start, w.end) for w in wt.push(", you ")] == [(0, "Hi,", 2, 5), (1, "you", 6, 9)]
    assert [w.text for w in wt.flush()] == []
    wt.push("end")
    assert [w.text for w in wt.flush()] == ["end"]


@pytest.mark.parametrize("name, params", [("words", {"words": 0}), ("debounce", {"ms": 0}),
                                          ("sentence", {"min_words": 0}), ("hybrid", {"words": 0})])
def test_bad_parameters(name, params):
    with pytest.raises(ValueError):
        make_trigger(name, **params)


def test_unknown_policy_lists_names():
    with pytest.raises(ValueError, match="words, sentence, debounce, hybrid, whole"):
        make_trigger("paragraph")
