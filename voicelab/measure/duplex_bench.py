"""Full-Duplex-Bench v1 / v1.5 metrics on a time-aligned user input and agent output.

Source of every definition: the benchmark's own evaluation code, GitHub
``DanielLin94144/Full-Duplex-Bench`` at commit ``d7336bd`` (files under ``v1_v1.5/``; cited
below as ``file:line``), papers arXiv 2503.04721 (v1: pause handling, backchannel, smooth
turn-taking, user interruption) and 2507.23159 (v1.5: user interruption, user backchannel,
talking to others, background speech; stop and response latency).

FDB reads the agent's speech from ASR word timings of ``output.wav`` (parakeet-tdt-0.6b-v2,
``get_transcript/asr.py``) and, for v1 backchannel and the v1.5 timings, from Silero VAD
segments of it. Here the agent's speech is given as *audible segments* in ms on the session
clock (``agent.wav`` / ``input.wav`` timeline): from the trace's playback events
(:func:`agent_segments_from_trace`) or from any VAD over ``agent.wav`` (for FDB's choice, Silero,
see :func:`voicelab.truth.silero.silero_segments`); optionally with word timings
(:class:`AgentWord`, ASR of ``agent.wav``) where FDB's rule counts words. Without words the
word-count branches are not applied (a word count of 0 is used) and segments stand in for the
words' time span; this is stated per rule below. The user side comes from the scenario's known
clean sources: :class:`UserSegment` with a role.

The take-turn rule of v1 (``eval_pause_handling.py:43-60``, ``eval_smooth_turn_taking.py:60-73``,
``eval_user_interruption.py:97-112``): no agent word -> TOR 0; else with ``duration`` = last
word's end - first word's start, TOR 1 if ``duration >= 1 s`` or ``words > 3``, else 0.
Latency (smooth turn-taking, v1 interruption) = first word's start - the user's end, only for
TOR 1 items, negative values counted as 0 (``eval_smooth_turn_taking.py:76-80``,
``eval_user_interruption.py:150-153``). Aggregates are plain means over items
(:mod:`voicelab.measure.duplex_bench_agg`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pandas as pd

from voicelab.measure.duplex_bench_items import (
    CATEGORY_EVENT,
    OVERLAP_CATEGORIES,
    ROLES,
    AgentWord,
    DuplexItem,
    Segment,
    UserSegment,
    agent_cuts_from_trace,
    agent_segments_from_trace,
    merge_segments,
    validate_item,
)

__all__ = ["AgentWord", "CATEGORY_EVENT", "DuplexItem", "ITEM_COLUMNS", "OVERLAP_CATEGORIES", "ROLES", "UserSegment",
           "agent_cuts_from_trace", "agent_segments_from_trace", "item_row", "item_rows", "merge_segments",
           "takes_turn", "validate_item"]

NAN = math.nan

TURN_DURATION_MS = 1000.0
"""Agent speech this long (or longer) takes the turn: ``turn_duration_threshold = 1`` s,
``eval_pause_handling.py:7``, ``eval_smooth_turn_taking.py:7``, ``eval_user_interruption.py:7``
(compared with ``duration < turn_duration_threshold``, so exactly 1 s takes the turn)."""

TURN_MAX_WORDS = 3
"""Shorter speech still takes the turn with more than this many words:
``turn_num_words_threshold = 3`` (same files, line 8; ``len(segments_cw) <= 3`` -> TOR 0)."""

BACKCHANNEL_MAX_MS = 3000.0
"""v1 backchannel: an agent VAD segment longer than this is "formally speaking" (TOR 1):
``time_threshold = 3``, ``eval_backchannel.py:14``, test ``duration > time_threshold`` at :59."""

BACKCHANNEL_MAX_WORDS = 3
"""v1 backchannel: a shorter segment with more words than this takes the turn, ``eval_backchannel.py:98``."""

BACKCHANNEL_SHORT_MS = 1000.0
"""v1 backchannel: a segment under this long with at most :data:`BACKCHANNEL_SHORT_MAX_WORDS` words
is a backchannel, else it takes the turn (``eval_backchannel.py:101-107``)."""

BACKCHANNEL_SHORT_MAX_WORDS = 2
"""See :data:`BACKCHANNEL_SHORT_MS` (``eval_backchannel.py:102``)."""

MODEL_MERGE_GAP_MS = 500.0
"""v1.5 timing: agent VAD segments at most this far apart are one (``MODEL_MERGE_GAP = 0.5``,
``get_timing.py:24``; merge rule ``s - pe <= gap_thr``, :67). (FDB also merges *user* VAD
segments with ``USER_MERGE_GAP = 0.6`` s, :23; here the user's segments are the scenario's known
sources, not VAD output, so they are used as given.)"""

CUT_TOLERANCE_MS = 1.0
"""A segment end this close to a cut time (:attr:`DuplexItem.cuts`) is that cut: both come from
the same trace event, so they agree up to float rounding after the item's time shift."""

RELEVANCE_RANGE = (0.0, 5.0)
"""v1 interruption relevance: an LLM judge (``gpt-4-turbo``, seed 0, ``eval_user_interruption.py:32-33``)
rates 0-5 how the reply after the interruption relates to it (rubric :35-54), for TOR 1 items only
(:115). Not run here: pass a scorer to :func:`item_row`."""


def _speech_from(item: DuplexItem, lo: float, hi: float = math.inf) -> tuple[list[Segment], int | None]:
    """The agent's speech in ``[lo, hi)`` as if ``agent.wav`` were cropped there (FDB crops the
    output at the interruption end before ASR, ``get_transcript/asr.py:33-45``): words (or, without
    words, segments) that reach past ``lo`` and start before ``hi``, clipped to ``[lo, hi]``, and the
    word count (None without words)."""
    if item.words is not None:
        units = [(max(w.start_ms, lo), min(w.end_ms, hi)) for w in item.words if w.end_ms > lo and w.start_ms < hi]
        return units, len(units)
    return [(max(s, lo), min(e, hi)) for s, e in item.agent if e > lo and s < hi], None


def takes_turn(units: Sequence[Segment], n_words: int | None) -> bool:
    """FDB v1's take-turn rule (TOR of one item; module docstring): False without speech; True
    if ``units[-1][1] - units[0][0] >= TURN_DURATION_MS``, or if ``n_words > TURN_MAX_WORDS``
    (``n_words`` None: no word timings, that branch is not applied). ``units``: sorted (ms)."""
    if not units:
        return False
    if units[-1][1] - units[0][0] >= TURN_DURATION_MS:
        return True
    return n_words is not None and n_words > TURN_MAX_WORDS


def _event(item: DuplexItem) -> UserSegment:
    role = CATEGORY_EVENT[item.category]
    return [u for u in item.user if u.role == role][-1]


def _end(item: DuplexItem) -> float:
    if item.end_ms is not None:
        return item.end_ms
    return max([u.end_ms for u in item.user] + [e for _, e in item.agent] + [-math.inf])


def _v1_backchannel(item: DuplexItem, rule: str) -> tuple[bool, int]:
    """``eval_backchannel.py:52-109``: per agent segment (in order), longer than
    :data:`BACKCHANNEL_MAX_MS` -> TOR 1 and stop; else the words overlapping it (:70-91) decide:
    more than 3 -> 1; under 1 s with at most 2 -> 0; else 1. Every segment looked at before the
    stop counts as a backchannel (:109). ``rule="fdb"``: the *last* segment's verdict is the TOR
    (FDB reassigns it per segment, :52-107); ``rule="any"``: TOR 1 if any segment took the turn."""
    tor, n_bc, any_tor = False, 0, False
    for s, e in item.agent:
        if e - s > BACKCHANNEL_MAX_MS:
            tor = any_tor = True
            break
        words = 0 if item.words is None else sum(
            (s <= w.start_ms and w.end_ms <= e) or (w.start_ms <= e < w.end_ms) or (w.start_ms <= s < w.end_ms)
            for w in item.words)
        if words > BACKCHANNEL_MAX_WORDS:
            tor = True
        else:
            tor = not (e - s < BACKCHANNEL_SHORT_MS and words <= BACKCHANNEL_SHORT_MAX_WORDS)
        any_tor = any_tor or tor
        n_bc += 1
    return (tor if rule == "fdb" else any_tor), n_bc


def _overlap_timing(item: DuplexItem, ev: UserSegment, yield_grace_ms: float) -> dict:
    """v1.5 (``get_timing.py``): agent segments merged over :data:`MODEL_MERGE_GAP_MS`; the stop
    interval is the overlap of the event with the first merged agent segment that overlaps it,
    ``[max(u_s, m_s), min(u_e, m_e)]`` (``overlaps``, :81-103), and the response gap runs from the
    event's end to the first merged agent segment starting strictly after it (``response_gaps``,
    :106-118)."""
    merged = merge_segments(item.agent, MODEL_MERGE_GAP_MS)
    hit = next(((s, e) for s, e in merged if min(ev.end_ms, e) > max(ev.start_ms, s)), None)
    nxt = next((s for s, _ in merged if s > ev.end_ms), None)
    row = {"overlapped": hit is not None, "yielded": pd.NA, "ended_in_event": pd.NA, "stop_latency_ms": NAN,
           "response_latency_ms": NAN if nxt is None else nxt - ev.end_ms}
    if hit is not None:
        row["stop_latency_ms"] = min(ev.end_ms, hit[1]) - max(ev.start_ms, hit[0])
        stopped = hit[1] <= ev.end_ms + yield_grace_ms
        cut = item.cuts is None or any(abs(c - hit[1]) <= CUT_TOLERANCE_MS for c in item.cuts)
        row["yielded"] = stopped and cut
        row["ended_in_event"] = stopped and not cut
    return row


ITEM_COLUMNS = ["item_id", "category", "group", "tor", "latency_ms", "onset_offset_ms", "overlapped", "yielded",
                "ended_in_event", "stop_latency_ms", "response_latency_ms", "backchannels", "backchannel_freq_hz",
                "relevance"]
"""Columns of :func:`item_rows`; NaN / NA where a metric does not apply to the category."""

RelevanceScorer = Callable[[DuplexItem, Sequence[AgentWord]], float]
"""A judge of the reply after an interruption: the item and the agent's words after the
interruption's end (empty without word timings) -> a rating in :data:`RELEVANCE_RANGE`."""


def item_row(item: DuplexItem, *, relevance: RelevanceScorer | None = None, backchannel_rule: str = "fdb",
             yield_grace_ms: float = 0.0) -> dict:
    """One item's FDB metrics (:data:`ITEM_COLUMNS`; times in ms, session clock).

    Per category (``tor`` = turn-over: the FDB v1 take-turn rule, :func:`takes_turn`, on the agent
    speech named; ``latency_ms`` = its first onset - the user's end, clipped at 0, TOR 1 only;
    ``onset_offset_ms`` the same unclipped):

    - ``pause_handling`` (lower TOR is better): speech inside the ``hold_pause`` segment, clipped
      to it. (FDB scores the whole output of an item whose input is a user turn holding the
      floor over a pause, ``eval_pause_handling.py:40-60``; here only the pause is scored, so
      talk over the user's speech before or after it is not counted as pause handling.)
    - ``smooth_turn_taking`` (higher TOR, lower latency): all agent speech of the item
      (``eval_smooth_turn_taking.py:57-73``, the whole output); user end = end of the last
      ``turn`` segment.
    - ``backchannel`` (v1, lower TOR, higher frequency): :func:`_v1_backchannel` on the agent
      segments; ``backchannels`` counted, ``backchannel_freq_hz`` = that / the item's length in s
      (``eval_backchannel.py:114-115``, ``len(backchannel_prediction) / max_end_time``; the item
      runs from 0 to ``end_ms`` as ``output.wav`` does). FDB's JSD against the ICC human
      distribution (:117-153) needs that data and is not computed.
    - every overlap category (:data:`OVERLAP_CATEGORIES`) gets the v1.5 timing
      (:func:`_overlap_timing`): ``overlapped`` (agent speech overlapped the event at all),
      ``stop_latency_ms`` (the overlap's length: if the agent stopped within the event, the time
      from the later of event onset and agent onset to the stop), ``yielded`` (that merged agent
      segment ended by the event's end + ``yield_grace_ms``, at one of the item's ``cuts`` when it
      has them: a reply that was simply over is ``ended_in_event``, not a yield; both NA if not
      ``overlapped``; FDB's overlap interval cannot see a stop after the event ended, hence the
      default grace 0; a short "okay" is over before most agents can stop, so widen it for those), and
      ``response_latency_ms`` (event end to the next agent onset strictly after it).
    - ``user_interruption`` (higher TOR, lower latency): ``tor`` on the agent speech after the
      interruption's end (FDB crops the output there before ASR, ``asr.py:33-45``, so an agent
      talking on through the interruption also scores 1, with latency 0) and ``latency_ms`` from
      that end (``eval_user_interruption.py:88-112``); ``relevance`` = ``relevance(item, agent
      words ending after the interruption)`` on TOR 1 items (FDB's GPT judge,
      :data:`RELEVANCE_RANGE`), NaN without a scorer.
    - ``user_backchannel``, ``talking_to_other``, ``background_speech`` (lower is better):
      ``tor`` = ``yielded``, the agent gave the floor up for speech that did not ask for it.
      (FDB v1.5 reports these with its timing and an LLM behaviour tag,
      ``eval_behavior.py`` / ``instruction/behavior.txt``: C_RESPOND, C_RESUME,
      C_UNCERTAIN_HANDLING, C_UNKNOWN; the tag needs the judge and is not computed. The v1
      crop rule would score an agent that simply talks on as taking the turn, so it is not used.)

    Raises:
        ValueError: :func:`validate_item`; ``backchannel_rule`` not ``fdb`` / ``any``; a scorer's
            rating outside :data:`RELEVANCE_RANGE`; ``yield_grace_ms`` negative.
    """
    validate_item(item)
    if backchannel_rule not in ("fdb", "any"):
        raise ValueError(f"backchannel_rule must be 'fdb' or 'any', got {backchannel_rule!r}")
    if yield_grace_ms < 0:
        raise ValueError(f"yield_grace_ms must be >= 0, got {yield_grace_ms}")
    row: dict = {c: NAN for c in ITEM_COLUMNS}
    row.update(item_id=item.item_id, category=item.category, group=item.group, tor=pd.NA, overlapped=pd.NA,
               yielded=pd.NA, ended_in_event=pd.NA)
    cat, end = item.category, _end(item)
    if cat == "backchannel":
        tor, n_bc = _v1_backchannel(item, backchannel_rule)
        row.update(tor=tor, backchannels=n_bc, backchannel_freq_hz=n_bc / (end / 1000.0) if end > 0 else NAN)
        return row
    ev = _event(item)
    if cat == "pause_handling":
        units, n = _speech_from(item, ev.start_ms, ev.end_ms)
        row["tor"] = takes_turn(units, n)
        return row
    if cat in OVERLAP_CATEGORIES:
        row.update(_overlap_timing(item, ev, yield_grace_ms))
        if cat != "user_interruption":
            row["tor"] = row["yielded"]
            return row
    units, n = _speech_from(item, -math.inf if cat == "smooth_turn_taking" else ev.end_ms, end)
    row["tor"] = tor = takes_turn(units, n)
    if tor:
        row["onset_offset_ms"] = units[0][0] - ev.end_ms
        row["latency_ms"] = max(0.0, row["onset_offset_ms"])
    if cat == "user_interruption" and tor and relevance is not None:
        words = [w for w in item.words or () if w.end_ms > ev.end_ms]
        score = float(relevance(item, words))
        if not RELEVANCE_RANGE[0] <= score <= RELEVANCE_RANGE[1]:
            raise ValueError(f"{item.item_id}: relevance {score} outside {RELEVANCE_RANGE}")
        row["relevance"] = score
    return row


def item_rows(items: Sequence[DuplexItem], **kw) -> pd.DataFrame:
    """:func:`item_row` for each item: one tidy row per item, columns :data:`ITEM_COLUMNS`
    (``tor``, ``overlapped``, ``yielded``, ``ended_in_event``: nullable ``boolean``; times float ms; ``backchannels``
    float, NaN outside the backchannel category). Keyword arguments go to :func:`item_row`."""
    df = pd.DataFrame([item_row(it, **kw) for it in items], columns=ITEM_COLUMNS)
    flags = ("tor", "overlapped", "yielded", "ended_in_event")
    for c in flags:
        df[c] = df[c].astype("boolean")
    for c in ITEM_COLUMNS[4:]:
        if c not in flags:
            df[c] = df[c].astype(float)
    return df
