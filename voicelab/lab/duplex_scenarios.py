"""Full-Duplex-Bench scenario sets generated from the corpus with seeded timing.

Five categories (Full-Duplex-Bench v1, arXiv 2503.04721 sect. 3, and v1.5, arXiv 2507.23159
sect. 3; metric definitions in :mod:`voicelab.measure.duplex_bench`), each item one or two
scripted user turns (:class:`voicelab.config.ScenarioTurn`; clip names of
:mod:`voicelab.lab.duplex_clips`):

- ``pause_handling``: one ``hold`` corpus item (a user turn split mid-sentence by an inserted
  pause of 150-1500 ms): the agent should not take the floor in the pause.
- ``smooth_turn_taking``: one ``eot`` item: the agent should take the turn, soon.
- ``user_interruption``: an eot item, then another recording's eot item started
  ``after_agent_starts`` at a seeded offset in :data:`INTERRUPT_OFFSET_MS`.
- ``user_backchannel``: an eot item, then a ``backchannel``-flagged item ("yes", "okay",
  ...) ``after_agent_starts`` at a seeded offset in :data:`BACKCHANNEL_OFFSET_MS`, with
  ``backchannel: true``: the agent should keep the floor.
- ``background_speech``: an eot item mixed with another recording's eot item at
  :data:`BACKGROUND_LEVEL_DB` (RMS over speech), its speech starting a seeded
  :data:`BACKGROUND_OFFSET_MS` after the user's ends, i.e. around the agent's reply onset
  (voice-to-voice p50 ~1050 ms, README "the fast path"): the agent should not yield.

Every turn of an item is ``start: after_reply`` except the second of the two overlap
categories, so a scenario maps back to its items by the rule of :func:`items_of_scenario`.
Draws are sequential per category (a seeded permutation of the pool, drawn in order and
reshuffled when used up), so the first ``n`` items of a category are the same for any
count above ``n``: the 40-item sets are prefixes of the 100-item sets.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicelab.lab.duplex_clips import corpus_name, is_duplex_clip, mix_name, parse_clip_name

CATEGORIES = ("pause_handling", "smooth_turn_taking", "user_interruption", "user_backchannel", "background_speech")
"""The five categories, in the order items are interleaved."""
INTERRUPT_OFFSET_MS = (300, 1500)
"""Interruption onset after the reply's first played sample, ms (the issue's range), 10 ms steps."""
BACKCHANNEL_OFFSET_MS = (300, 1500)
"""User backchannel onset after the reply's first played sample, ms, 10 ms steps (as interruptions)."""
BACKGROUND_OFFSET_MS = (1000, 3000)
"""Background speech onset after the user's speech end, ms, 10 ms steps: from about the
agent's voice-to-voice p50 (~1050 ms) to 2 s into a reply."""
BACKGROUND_LEVEL_DB = -10.0
"""Background level relative to the user, dB RMS over each one's reference speech (the issue's -10 dB)."""
TURN_SPEECH_MS = (800.0, 10000.0)
"""Reference speech length (ms) of items used as a user's turn: long enough to ask something,
short enough to keep sessions short (hold items: without the inserted pause)."""
CHUNK_TURNS = 16
"""Most turns in one run (one sweep preset): a crash loses at most this many."""


@dataclass(frozen=True)
class ScenarioItem:
    """One generated item: its category and its turns (``ScenarioTurn`` fields as a dict)."""

    category: str
    turns: tuple[dict, ...]


def _speech_len(item: Any) -> float:
    return item.speech_ms[1] - item.speech_ms[0] - (item.pause_ms if item.kind == "hold" else 0.0)


def pools(items: Sequence[Any]) -> dict[str, list[Any]]:
    """The corpus items each role draws from, sorted by id: ``turn`` (eot, not ``short``,
    speech within :data:`TURN_SPEECH_MS`), ``hold`` (hold items, the same length rule),
    ``backchannel`` (eot items flagged ``backchannel``)."""
    lo, hi = TURN_SPEECH_MS
    ok = [it for it in sorted(items, key=lambda it: it.id) if lo <= _speech_len(it) <= hi]
    return {"turn": [it for it in ok if it.kind == "eot" and "short" not in it.flags],
            "hold": [it for it in ok if it.kind == "hold"],
            "backchannel": [it for it in sorted(items, key=lambda it: it.id)
                            if it.kind == "eot" and "backchannel" in it.flags]}


def _stream(pool: list[Any], rng: np.random.Generator) -> Iterator[Any]:
    """Items of ``pool`` in a seeded order, reshuffled after each pass."""
    while True:
        yield from (pool[i] for i in rng.permutation(len(pool)))


def _offset(rng: np.random.Generator, span: tuple[int, int]) -> int:
    lo, hi = span
    return int(lo + 10 * rng.integers(0, (hi - lo) // 10 + 1))


def _other(stream: Iterator[Any], than: Any) -> Any:
    """The next item of ``stream`` from another recording than ``than``."""
    for _ in range(10_000):
        it = next(stream)
        if it.recording != than.recording:
            return it
    raise ValueError("the pool has a single recording: cannot pair two different ones")


def _turn(clip: str, **kw) -> dict:
    return {"clip": clip, **kw}


def _category_items(category: str, p: dict[str, list[Any]], rng: np.random.Generator) -> Iterator[ScenarioItem]:
    users = _stream(p["hold" if category == "pause_handling" else "turn"], rng)
    second = _stream(p["backchannel" if category == "user_backchannel" else "turn"], rng)
    while True:
        a = next(users)
        if category in ("pause_handling", "smooth_turn_taking"):
            yield ScenarioItem(category, (_turn(corpus_name(a.id)),))
        elif category == "background_speech":
            bg = _other(second, a)
            yield ScenarioItem(category, (_turn(mix_name(a.id, bg.id, BACKGROUND_LEVEL_DB,
                                                          _offset(rng, BACKGROUND_OFFSET_MS))),))
        else:
            bc = category == "user_backchannel"
            b = _other(second, a)
            span = BACKCHANNEL_OFFSET_MS if bc else INTERRUPT_OFFSET_MS
            extra = {"backchannel": True} if bc else {}
            yield ScenarioItem(category, (_turn(corpus_name(a.id)),
                                          _turn(corpus_name(b.id), start="after_agent_starts",
                                                offset_ms=float(_offset(rng, span)), **extra)))


def generate_items(items: Sequence[Any], per_category: int, seed: int) -> list[ScenarioItem]:
    """``per_category`` items of each of :data:`CATEGORIES`, interleaved round-robin
    (item 0 of each category, then item 1, ...), drawn from :func:`pools` of ``items``
    (corpus items: ``id``, ``kind``, ``flags``, ``speech_ms``, ``pause_ms``, ``recording``).
    Category ``k`` uses ``numpy.random.default_rng([seed, crc32(category)])``.

    Raises:
        ValueError: ``per_category < 1``; a pool a category needs is empty.
    """
    if per_category < 1:
        raise ValueError(f"per_category must be >= 1, got {per_category}")
    p = pools(items)
    for role, need in (("turn", "every category but pause_handling"), ("hold", "pause_handling"),
                       ("backchannel", "user_backchannel")):
        if not p[role]:
            raise ValueError(f"no corpus items for the {role!r} role (needed by {need}); "
                             f"{len(items)} items given")
    gens = [_category_items(c, p, np.random.default_rng([seed, zlib.crc32(c.encode())])) for c in CATEGORIES]
    per = [[next(g) for _ in range(per_category)] for g in gens]
    return [cat[i] for i in range(per_category) for cat in per]


def chunk(items: Sequence[ScenarioItem], max_turns: int = CHUNK_TURNS) -> list[list[ScenarioItem]]:
    """Consecutive items packed into runs of at most ``max_turns`` turns (an item is never split).

    Raises:
        ValueError: ``max_turns`` below 2 (an item has up to two turns).
    """
    if max_turns < 2:
        raise ValueError(f"max_turns must be >= 2, got {max_turns}")
    out: list[list[ScenarioItem]] = [[]]
    for it in items:
        if sum(len(x.turns) for x in out[-1]) + len(it.turns) > max_turns:
            out.append([])
        out[-1].append(it)
    return [c for c in out if c]


def items_of_scenario(turns: Sequence[dict], kind_of: Callable[[str], str]) -> list[tuple[str, list[int]]]:
    """Group a scenario's turns into items: ``(category, turn indices)`` in order.

    The rule (the generator's layout): a turn with ``start: after_reply`` opens an item; an
    ``after_agent_starts`` turn right after it makes the item a ``user_backchannel`` (if that
    turn is ``backchannel: true``) or ``user_interruption``; a single turn is
    ``background_speech`` (a ``mix:`` clip), ``pause_handling`` (``kind_of(clip) == "hold"``)
    or ``smooth_turn_taking``. ``turns``: dicts with ``clip``, ``start``, ``backchannel``.

    Raises:
        ValueError: an ``after_agent_starts`` turn that does not follow a single opening turn;
            a clip that is not a duplex clip name.
    """
    out: list[tuple[str, list[int]]] = []
    for i, t in enumerate(turns):
        if not is_duplex_clip(t["clip"]):
            raise ValueError(f"turn {i}: {t['clip']!r} is not a corpus: / mix: clip")
        if t.get("start", "after_reply") == "after_agent_starts":
            if not out or len(out[-1][1]) != 1 or out[-1][0] != "smooth_turn_taking":
                raise ValueError(f"turn {i}: an after_agent_starts turn must follow one after_reply turn of an "
                                 "eot corpus: item")
            out[-1] = ("user_backchannel" if t.get("backchannel") else "user_interruption", [out[-1][1][0], i])
            continue
        clip = t["clip"]
        cat = ("background_speech" if parse_clip_name(clip).background is not None
               else "pause_handling" if kind_of(clip) == "hold" else "smooth_turn_taking")
        out.append((cat, [i]))
    return out
