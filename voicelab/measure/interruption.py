"""Barge-in metrics: how fast the agent went quiet for a real interruption, and how often it
stopped or paused for nothing (definitions: docs/concepts.md). Pure functions of a trace."""

from __future__ import annotations

import math

from voicelab.events import (
    BargeInConfirmed,
    BargeInDetected,
    Event,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
    Trace,
    TurnPlanned,
)

NAN = math.nan


BARGE_IN_COLUMNS = ["interruption_latency_ms", "barge_in_detect_ms", "cancel_ms", "barge_in_confirm_ms",
                    "resume_gap_ms"]
"""Interruption latencies, on the row of the interrupting (barge-in) turn; ``resume_gap_ms``
(what false pauses cost the listener) on the row of the reply's turn."""

FALSE_BARGE_IN_SLACK_MS = 500.0
"""A detection up to this long after a user's true speech end still counts as caused by
that speech (the detector needs ``min_barge_in_ms`` of it, and VADs lag the true end)."""


def user_audio_spans(trace: Trace) -> list[tuple[float, float]]:
    """When user audio was in the microphone, ms: each clip from its first sample to its
    last, or to :data:`FALSE_BARGE_IN_SLACK_MS` after its true speech end if later."""
    return [(p.t_ms, max(p.t_ms + p.duration_ms, p.speech_end_ms + FALSE_BARGE_IN_SLACK_MS))
            for p in trace.of(TurnPlanned)]


def _pauses(trace: Trace, turn: int) -> tuple[list[tuple[Event, Event]], Event | None]:
    """``turn``'s pauses (or ducks) that resumed, as (paused, resumed) pairs, and the one
    still open when the reply stopped (the pause a confirmed barge-in cut), if any."""
    pairs, open_ = [], None
    for e in trace.of_turn(turn):
        if isinstance(e, PlaybackPaused) and e.turn == turn:
            open_ = e
        elif isinstance(e, PlaybackResumed) and e.turn == turn and open_ is not None:
            pairs.append((open_, e))
            open_ = None
        elif isinstance(e, PlaybackStopped) and e.turn == turn and not e.interrupted:
            open_ = None  # a reply that played out ducked
    return pairs, open_


def _quiet(trace: Trace, turn: int) -> tuple[float, Event | None, BargeInConfirmed | None] | None:
    """When reply ``turn`` went quiet for good after a barge-in (its audio stopped, or paused
    or ducked before the confirmed cut), the detection that caused it, and the confirmation;
    None if it was not cut.

    The detection is the last one logged before the stop (or the pause) in trace order: the
    stop or pause is logged right after its detection, but its time is where the audio
    ended, which precedes the detection when the reply had already run dry (a stall
    between chunks) by then."""
    stops = trace.of(PlaybackStopped, turn)
    if not stops or not stops[-1].interrupted:
        return None
    _, open_ = _pauses(trace, turn)
    quiet_event = open_ if open_ is not None else stops[-1]
    t = quiet_event.t_ms
    det = None
    for e in trace.of_turn(turn):
        if e is quiet_event:
            break
        if isinstance(e, BargeInDetected) and e.turn == turn:
            det = e
    confirmed = trace.of(BargeInConfirmed, turn)
    return t, det, confirmed[-1] if confirmed and open_ is not None else None


def interruption_metrics(trace: Trace, min_barge_in_ms: float) -> dict[int, dict]:
    """Barge-in columns per turn (definitions: docs/concepts.md).

    A reply goes *quiet* when its audio stops for a barge-in or, with ``barge_in.mode:
    pause_confirm``, when it pauses (or ducks) before the barge-in is confirmed and it is cut.
    For a barge-in turn *n* (its clip started while reply *n-1* played), from the true onset
    of its speech: ``barge_in_detect_ms`` to the detection that made reply *n-1* quiet
    (the last one before), ``interruption_latency_ms`` to it going quiet, ``cancel_ms`` from
    the detection to that, ``barge_in_confirm_ms`` from the detection to the confirmation
    (pause_confirm). A detection after the clip started but before its true onset is an
    **early** detection of this barge-in (``early_detection``; ``barge_in_detect_ms``
    negative), not a false one. ``missed_interruption`` when the user spoke over the reply
    for more than ``min_barge_in_ms`` and it was not cut (never for a clip the scenario
    calls a ``backchannel``). For every turn, ``false_interruption`` when its reply was cut
    by a detection while no user clip was playing at all (:func:`user_audio_spans`): echo,
    noise; ``false_pauses`` counts its pauses that resumed (``false_pause``: any), and
    ``resume_gap_ms`` sums their length (paused or ducked time; NaN without such pauses).
    """
    plans = {p.turn: p for p in trace.of(TurnPlanned)}
    user_audio = user_audio_spans(trace)
    out: dict[int, dict] = {}
    for n, plan in plans.items():
        row = {c: NAN for c in BARGE_IN_COLUMNS}
        row["missed_interruption"] = row["early_detection"] = False
        quiet = _quiet(trace, n)
        row["false_interruption"] = quiet is not None and quiet[1] is not None and not any(
            a <= quiet[1].t_ms <= b for a, b in user_audio)
        resumed, _ = _pauses(trace, n)
        row["false_pauses"] = len(resumed)
        row["false_pause"] = bool(resumed)
        row["resume_gap_ms"] = float(sum(r.t_ms - p.t_ms for p, r in resumed)) if resumed else NAN
        prev = plans.get(n - 1)
        if plan.barge_in and prev is not None:
            onset = plan.speech_start_ms
            quiet = _quiet(trace, n - 1)
            stops = trace.of(PlaybackStopped, n - 1)
            stop = stops[-1] if stops else None
            plays = trace.of(PlaybackStarted, n - 1)
            if quiet is not None and quiet[1] is not None and quiet[1].t_ms >= plan.t_ms:
                t, det, confirmed = quiet
                row["barge_in_detect_ms"] = det.t_ms - onset
                row["interruption_latency_ms"] = t - onset
                row["cancel_ms"] = t - det.t_ms
                row["barge_in_confirm_ms"] = confirmed.t_ms - det.t_ms if confirmed is not None else NAN
                row["early_detection"] = det.t_ms < onset
            elif plays and not plan.backchannel:
                # the reply kept playing over the user for longer than min_barge_in_ms
                end = stop.t_ms if stop is not None else math.inf
                overlap = min(end, plan.speech_end_ms) - max(plays[0].t_ms, onset)
                row["missed_interruption"] = overlap > min_barge_in_ms
        out[n] = row
    return out
