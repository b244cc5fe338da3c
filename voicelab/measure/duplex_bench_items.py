"""Inputs of the Full-Duplex-Bench metrics (:mod:`voicelab.measure.duplex_bench`): a scored item
(the user's segments with roles, the agent's audible speech, optional agent word timings), its
validation, FDB's segment merge, and the agent's audible segments read from a voicelab trace."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from voicelab.events import PlaybackPaused, PlaybackResumed, PlaybackStall, PlaybackStarted, PlaybackStopped, Trace

ROLES = ("turn", "hold_pause", "interruption", "backchannel", "side_talk", "background")
"""User segment roles: ``turn`` (the user's own speech), ``hold_pause`` (a silence inside the
user's turn, given as a segment), and the overlap events played over the agent."""

CATEGORY_EVENT = {
    "pause_handling": "hold_pause",       # v1
    "smooth_turn_taking": "turn",         # v1: the last turn segment ends the user's turn
    "backchannel": None,                  # v1: the user talks, the agent should only backchannel
    "user_interruption": "interruption",  # v1 and v1.5
    "user_backchannel": "backchannel",    # v1.5: the user says "okay" over the agent
    "talking_to_other": "side_talk",      # v1.5: the user talks to someone else
    "background_speech": "background",    # v1.5: other people talk in the background
}
"""The categories and the user segment each is scored around."""

OVERLAP_CATEGORIES = ("user_interruption", "user_backchannel", "talking_to_other", "background_speech")
"""Categories with an overlap event (v1.5 timing metrics apply)."""

Segment = tuple[float, float]


@dataclass(frozen=True)
class UserSegment:
    """User audio from ``start_ms`` to ``end_ms`` (session clock, ms) with a :data:`ROLES` role."""

    start_ms: float
    end_ms: float
    role: str


@dataclass(frozen=True)
class AgentWord:
    """One word of the agent's output, from ASR of ``agent.wav`` (ms on the session clock)."""

    start_ms: float
    end_ms: float
    text: str = ""


@dataclass(frozen=True)
class DuplexItem:
    """One scored item: the user's segments, the agent's audible speech and optionally its words.

    ``agent``: sorted, non-overlapping ``(start_ms, end_ms)`` segments of agent speech.
    ``cuts``: the times (ms) at which the agent cut its own speech short (a barge-in stop or a
    pause: :func:`agent_cuts_from_trace`), so that a segment ending at one of them was stopped, not
    finished; None when not known (audio only), and then any end of speech counts as a stop.
    ``end_ms``: end of the item's recording (the time-aligned output's length); default the last
    user or agent end. ``group``: the source recording (clusters for the bootstrap CIs).
    """

    item_id: str
    category: str
    user: tuple[UserSegment, ...]
    agent: tuple[Segment, ...]
    words: tuple[AgentWord, ...] | None = None
    end_ms: float | None = None
    group: str = ""
    cuts: tuple[float, ...] | None = None


def _check_segments(segs: Sequence[Segment], what: str, allow_empty: bool = False) -> None:
    """Finite, positive-length, sorted and non-overlapping (touching allowed), else ValueError."""
    prev_end = -math.inf
    for i, (s, e) in enumerate(segs):
        if not (math.isfinite(s) and math.isfinite(e)):
            raise ValueError(f"{what}[{i}] = ({s}, {e}): times must be finite")
        if e < s or (e == s and not allow_empty):
            raise ValueError(f"{what}[{i}] = ({s}, {e}): {'negative' if e < s else 'zero'} duration")
        if s < prev_end:
            raise ValueError(f"{what}[{i}] = ({s}, {e}) starts before the previous one ends ({prev_end}):"
                             " segments must be sorted and must not overlap")
        prev_end = e


def validate_item(item: DuplexItem) -> None:
    """Check an item's inputs; ``ValueError`` naming the problem.

    Raises:
        ValueError: unknown category or role; user segments, agent segments or words not finite,
            of non-positive duration (words: negative), unsorted or overlapping; a category's
            event segment missing or repeated (exactly one ``hold_pause`` / ``interruption`` /
            ``backchannel`` / ``side_talk`` / ``background``; at least one ``turn`` for smooth
            turn-taking); ``end_ms`` before a segment's end; a cut time not finite.
    """
    if item.category not in CATEGORY_EVENT:
        raise ValueError(f"{item.item_id}: unknown category {item.category!r}; one of {sorted(CATEGORY_EVENT)}")
    for u in item.user:
        if u.role not in ROLES:
            raise ValueError(f"{item.item_id}: unknown user role {u.role!r}; one of {ROLES}")
    _check_segments([(u.start_ms, u.end_ms) for u in item.user], f"{item.item_id}: user")
    _check_segments(item.agent, f"{item.item_id}: agent")
    if item.words is not None:
        _check_segments([(w.start_ms, w.end_ms) for w in item.words], f"{item.item_id}: words", allow_empty=True)
    if item.cuts is not None and not all(math.isfinite(c) for c in item.cuts):
        raise ValueError(f"{item.item_id}: cuts must be finite, got {item.cuts}")
    role = CATEGORY_EVENT[item.category]
    n = sum(u.role == role for u in item.user)
    if role == "turn" and n == 0:
        raise ValueError(f"{item.item_id}: smooth_turn_taking needs a 'turn' user segment")
    if role not in (None, "turn") and n != 1:
        raise ValueError(f"{item.item_id}: {item.category} needs exactly one {role!r} user segment, got {n}")
    if item.end_ms is not None:
        last = max([u.end_ms for u in item.user] + [e for _, e in item.agent] + [-math.inf])
        if not math.isfinite(item.end_ms) or item.end_ms < last:
            raise ValueError(f"{item.item_id}: end_ms {item.end_ms} before the last segment end {last}")


def merge_segments(segs: Sequence[Segment], gap_ms: float) -> list[Segment]:
    """FDB's ``_merge`` (``get_timing.py:60-71``): segments sorted, and one joined to the previous
    when it starts at most ``gap_ms`` after that one's end (overlaps joined too). ms in, ms out."""
    if gap_ms < 0:
        raise ValueError(f"gap_ms must be >= 0, got {gap_ms}")
    merged: list[Segment] = []
    for s, e in sorted(segs):
        if merged and s - merged[-1][1] <= gap_ms:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _subtract(span: Segment, gaps: list[Segment]) -> list[Segment]:
    out, cur = [], span[0]
    for a, b in sorted(gaps):
        a, b = max(a, span[0]), min(b, span[1])
        if b <= a:
            continue
        if a > cur:
            out.append((cur, a))
        cur = max(cur, b)
    if cur < span[1]:
        out.append((cur, span[1]))
    return out


def agent_segments_from_trace(trace: Trace) -> list[Segment]:
    """When agent audio was playing, ms on the session clock, from the trace's playback events.

    Per reply (turn): from its first :class:`~voicelab.events.PlaybackStarted` to its last
    :class:`~voicelab.events.PlaybackStopped`, minus the speaker running dry
    (:class:`~voicelab.events.PlaybackStall`, ``t_ms`` to ``t_ms + duration_ms``) and minus
    pauses (:class:`~voicelab.events.PlaybackPaused` without ``duck_db`` up to its
    :class:`~voicelab.events.PlaybackResumed`, or to the stop if it never resumed; a *ducked*
    reply still sounds and counts as playing). Replies are then joined where they touch.

    This is *played* audio, so the silence Kokoro puts at the ends of a request counts as agent
    speech; for speech edges run a VAD over ``agent.wav`` instead (FDB uses Silero).

    Raises:
        ValueError: a reply started playing but has no PlaybackStopped (a truncated trace).
    """
    segs: list[Segment] = []
    for turn in sorted({p.turn for p in trace.of(PlaybackStarted)}):
        plays, stops = trace.of(PlaybackStarted, turn), trace.of(PlaybackStopped, turn)
        if not stops:
            raise ValueError(f"turn {turn}: playback started at {plays[0].t_ms} ms but never stopped")
        span = (plays[0].t_ms, stops[-1].t_ms)
        gaps = [(s.t_ms, s.t_ms + s.duration_ms) for s in trace.of(PlaybackStall, turn)]
        paused_at = None
        for e in trace.of_turn(turn):
            if isinstance(e, PlaybackPaused) and e.duck_db is None and paused_at is None:
                paused_at = e.t_ms
            elif isinstance(e, PlaybackResumed) and paused_at is not None:
                gaps.append((paused_at, e.t_ms))
                paused_at = None
        if paused_at is not None:
            gaps.append((paused_at, span[1]))
        segs.extend(_subtract(span, gaps))
    return merge_segments(segs, 0.0)


def agent_cuts_from_trace(trace: Trace) -> list[float]:
    """When the agent cut its own speech short, ms on the session clock, sorted: every
    :class:`~voicelab.events.PlaybackStopped` with ``interrupted`` (a barge-in stop, or a peer's
    own interruption: Pipecat's ``InterruptionFrame`` stops the speaker the same way) and every
    un-ducked :class:`~voicelab.events.PlaybackPaused` (pause-then-confirm). A reply whose audio
    simply ran out ends at a :class:`~voicelab.events.PlaybackStopped` without ``interrupted`` and
    is not a cut. The times equal the segment ends :func:`agent_segments_from_trace` gives there."""
    cuts = [e.t_ms for e in trace.of(PlaybackStopped) if e.interrupted]
    cuts += [e.t_ms for e in trace.of(PlaybackPaused) if e.duck_db is None]
    return sorted(cuts)
