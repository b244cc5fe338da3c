"""Streaming sentence-boundary decisions for English, abbreviation-aware.

A boundary can only follow a word ending in terminal punctuation, and is decided
when the first character of the next word is visible (one token later in an LLM
stream), from: the word itself (abbreviation? initial? dotted acronym? ellipsis?),
the few words before it, and how the next word starts (capital, digit, lowercase,
opening quote/bracket).

The abbreviation lists are a subset of pySBD's English abbreviation list
(nipunsadvilkar/pySBD, ``pysbd/abbreviation_replacer.py`` and ``pysbd/lang/english.py``,
MIT licence), split by whether they can end a sentence; the test-suite is pySBD's
English "Golden Rules" (``tests/lang/test_english.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CLOSERS = "\"'”’)]}»"
"""Closing quotes and brackets that may follow terminal punctuation ('"Hi!"')."""

OPENERS = "\"'“‘([{«"
"""Opening quotes and brackets that may precede a sentence's first letter."""

BULLETS = frozenset("•⁃")
"""Bullet characters that, standing alone, open a list item ("• 9. The first item")."""

TITLES = frozenset("""
mr mrs ms messrs mme mlle dr prof rev fr sr sra srta gen col lt capt cmdr sgt maj adm gov
pres sen rep hon supt insp st mt ft
""".split())
"""Abbreviations that precede a name and so never end a sentence ("Mr. Smith")."""

ABBREVIATIONS = frozenset("""
a.m p.m e.g i.e etc vs v al approx apt assn ave blvd bros co corp dept est fig figs inc jr ltd
misc no nos op p pp para pt rd ref sq vol vols yr yrs jan feb mar apr jun jul aug sep sept oct
nov dec mon tue tues wed thu thur thurs fri sat sun u.s u.s.a u.k e.u ph.d b.a m.a cf ed eds
""".split())
"""Abbreviations that may end a sentence: a boundary only if a capital follows
("Jane and co. They know" ends; "Jane and co. at the party" does not)."""

NUMBER_PREFIXES = frozenset("no nos n° nº p pp vol fig figs op art sec ch".split())
"""Abbreviations followed by a number ("p. 55", "No. 5"): never a boundary before a digit."""

LIST_MARKER = re.compile(r"^([•⁃\-*]?\(?\d{1,3}(\.\)|\.|\))|[a-z](\.|\))|[•⁃])$")
"""A list item marker: "1.", "2.)", "3)", "(4)", "•9.", "⁃10.", "a.", "b)" or a lone bullet "•"."""

_ELLIPSIS_DOTS = 4
"""A spaced ellipsis ending a sentence is written with four dots, ". . . ." (the fourth
is the period; pySBD golden rule "ellipsis at end of quotation / sentence")."""


def is_list_marker(word: str) -> bool:
    """True for a list item marker ("1.", "2)", "a.", "•"); no sentence ends right after one."""
    return bool(LIST_MARKER.match(word))


def _core(word: str) -> str:
    """``word`` without trailing closing quotes/brackets."""
    return word.rstrip(CLOSERS)


def ends_with_terminal(word: str) -> bool:
    """True if ``word`` ends in . ! ? or … (possibly followed by closing quotes/brackets)."""
    core = _core(word)
    return bool(core) and core[-1] in ".!?…"


def is_boundary(word: str, next_start: str, previous: Sequence[str] = (),
                starts_sentence: bool = False) -> bool:
    """Does a sentence end after ``word``, given the start of the next word?

    Args:
        word: a complete whitespace-delimited word (punctuation attached).
        next_start: the next word's first characters (at least one; more never hurt).
        previous: the words before ``word`` in the reply, most recent last (only the
            last three are consulted: pronoun "I" vs an initial, spaced ellipses).
        starts_sentence: ``word`` is the first word of its sentence (then "1." or "a."
            is a list marker, not a sentence).

    Returns:
        True if a sentence ends right after ``word``.
    """
    if not next_start or not ends_with_terminal(word):
        return False
    if starts_sentence and is_list_marker(word):
        return False
    nxt = next_start.lstrip(OPENERS) or next_start
    first = nxt[0]
    capital_or_digit = first.isupper() or first.isdigit()
    opener = next_start[0] in OPENERS
    core = _core(word)
    if core != word and next_start[0] in "([":
        return False                    # a citation after a quotation: '"[...]" (Smith 55).'
    if core.endswith(("...", "…")):
        return first.isupper()          # "Wait... what?" continues; "left... Later" ends
    if core[-1] in "!?":
        return capital_or_digit or opener or not first.isalpha()   # "Yahoo! in" continues
    # a period
    token = core.rstrip(".")
    if not token.strip("."):
        # a lone dot of a spaced ellipsis ". . .": only the fourth one is a period
        dots = 1
        for prev in reversed(previous[-(_ELLIPSIS_DOTS - 1):]):
            if prev != ".":
                break
            dots += 1
        return dots >= _ELLIPSIS_DOTS and first.isupper()
    if core != word:                    # '"Stop." Then' ends; '"This is great." she' does not
        return capital_or_digit or opener
    low = token.lower().lstrip(OPENERS)
    if low in TITLES:
        return False
    if first.isdigit() and low in NUMBER_PREFIXES:
        return False
    if len(low) == 1 and low.isalpha():
        # An initial ("Jonas E. Smith") unless it is the pronoun after a lowercase word
        # ("you and I. Did"): "Albert I. Jones" keeps the initial reading.
        pronoun = low == "i" and bool(previous) and previous[-1][:1].islower()
        return pronoun and first.isupper()
    if low in ABBREVIATIONS or "." in low:
        return first.isupper() or opener
    if any(ch.isdigit() for ch in low) and not low.isdigit():
        return first.isupper()          # "the 5th. 6 more" continues; "the 5th. Then" ends
    return capital_or_digit or opener

