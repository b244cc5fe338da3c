"""Streaming sentence-boundary decisions for English, abbreviation-aware.

A boundary can only follow a word ending in terminal punctuation, and is decided
when the first character of the next word is visible (one token later in an LLM
stream), from: the word itself (abbreviation? initial? dotted acronym? ellipsis?)
and how the next word starts (capital, digit, lowercase, opening quote/bracket).

The abbreviation lists are a subset of pySBD's English abbreviation list
(nipunsadvilkar/pySBD, ``pysbd/lang/english.py``, MIT licence), split by whether
they can end a sentence; the test-suite is pySBD's English "Golden Rules".
"""

from __future__ import annotations

import re

CLOSERS = "\"'”’)]}»"
OPENERS = "\"'“‘([{«"

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
"""Abbreviations that may end a sentence: a boundary only if a capital follows."""

NUMBER_PREFIXES = frozenset("no nos n° nº p pp vol fig figs op art sec ch".split())
"""Abbreviations followed by a number ("p. 55", "No. 5"): never a boundary before a digit."""


LIST_MARKER = re.compile(r"^([•⁃\-*]?\(?\d{1,3}(\.\)|\.|\))|[•⁃])$")
"""A list item marker: "1.", "2.)", "3)", "(4)", "•9.", "⁃10.", or a lone bullet "•"."""


def is_list_marker(word: str) -> bool:
    """True for a numbered list marker; no sentence ends right after one."""
    return bool(LIST_MARKER.match(word))


def _core(word: str) -> str:
    return word.rstrip(CLOSERS)


def ends_with_terminal(word: str) -> bool:
    """True if ``word`` ends in . ! ? or … (possibly followed by closing quotes/brackets)."""
    core = _core(word)
    return bool(core) and core[-1] in ".!?…"


def is_boundary(word: str, next_start: str, starts_sentence: bool = False) -> bool:
    """Does a sentence end after ``word``, given the start of the next word?

    Args:
        word: a complete whitespace-delimited word (punctuation attached).
        next_start: the next word's first characters (at least one).
        starts_sentence: ``word`` is the first word of its sentence (then "1." is a
            list marker, not a sentence).
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
    closed_by_quote = core != word
    if core.endswith(("...", "…")):
        return first.isupper()
    if core[-1] in "!?":
        return capital_or_digit or opener or not first.isalpha()
    # a period
    token = core.rstrip(".")
    if not token.strip("."):
        return False  # a spaced ellipsis ". . ." continues the sentence
    low = token.lower().lstrip(OPENERS)
    if closed_by_quote:
        return capital_or_digit or opener
    if low in TITLES:
        return False
    if first.isdigit() and low in NUMBER_PREFIXES:
        return False
    if len(low) == 1 and low.isalpha():
        # single-letter initial ("Jonas E. Smith"): a boundary only before a lowercase-free
        # sentence start that is not a name is undecidable here; treat as no boundary.
        return False
    if low in ABBREVIATIONS or "." in low:
        return first.isupper() or opener
    if any(ch.isdigit() for ch in low) and not low.isdigit():
        return first.isupper()
    return capital_or_digit or opener
