"""Exact Full-Duplex-Bench metrics on scripted items (voicelab.measure.duplex_bench*)."""

import math

import numpy as np
import pandas as pd
import pytest

from voicelab.events import PlaybackPaused, PlaybackResumed, PlaybackStall, PlaybackStarted, PlaybackStopped, Trace
from voicelab.measure.duplex_bench import (
    ITEM_COLUMNS,
    AgentWord,
    DuplexItem,
    UserSegment,
    agent_segments_from_trace,
    item_row,
    item_rows,
    merge_segments,
    takes_turn,
)
from voicelab.measure.duplex_bench_agg import AGG_METRICS, aggregate, cluster_bootstrap_ci

U = UserSegment


def words(*spans):
    return tuple(AgentWord(s, e, f"w{i}") for i, (s, e) in enumerate(spans))


# ---- pause handling: the agent must not take the floor in a hold pause --------------------

PAUSE_USER = (U(0, 2000, "turn"), U(2000, 4000, "hold_pause"), U(4000, 6000, "turn"))


def pause(agent, w=None):
    return item_row(DuplexItem("p", "pause_handling", PAUSE_USER, tuple(agent), w))


def test_agent_audio_inside_hold_pause_is_a_takeover():
    assert pause([(2500, 3700)])["tor"] is True
    assert pause([])["tor"] is False                                   # silent through the pause
    assert pause([(6500, 9000)])["tor"] is False                       # replied after the user's end


def test_pause_duration_threshold_boundary():
    # FDB: duration < 1 s (and <= 3 words) -> TOR 0, so exactly 1000 ms takes the turn
    assert pause([(2500, 3499)])["tor"] is False
    assert pause([(2500, 3500)])["tor"] is True
    # duration = last end - first start, across segments
    assert pause([(2100, 2300), (2900, 3100)])["tor"] is True
    # speech reaching past the pause is clipped to it: 3500..4000 is 500 ms
    assert pause([(3500, 5000)])["tor"] is False


def test_pause_word_count_threshold_boundary():
    three = words((2100, 2200), (2300, 2400), (2500, 2600))
    four = three + words((2700, 2800))
    assert pause([(2100, 2800)], three)["tor"] is False                # 3 words in 0.5 s
    assert pause([(2100, 2800)], four)["tor"] is True                  # 4 words in 0.7 s


# ---- smooth turn-taking: TOR and latency after the user's end ------------------------------

def turn_item(agent, user=(U(0, 1000, "turn"), U(1500, 3000, "turn")), end=None):
    return item_row(DuplexItem("t", "smooth_turn_taking", user, tuple(agent), end_ms=end))


def test_smooth_turn_taking_latency_exact():
    r = turn_item([(3450, 6000)])
    assert r["tor"] is True and r["latency_ms"] == 450.0 and r["onset_offset_ms"] == 450.0


def test_smooth_turn_taking_early_start_counts_zero_latency():
    r = turn_item([(2800, 5000)])                                     # FDB: negative latency -> 0
    assert r["tor"] is True and r["latency_ms"] == 0.0 and r["onset_offset_ms"] == -200.0


def test_smooth_turn_taking_short_reply_is_no_turn_and_has_no_latency():
    r = turn_item([(3200, 3500)])
    assert r["tor"] is False and math.isnan(r["latency_ms"])


# ---- user interruption: stop latency, TOR, latency, relevance hook -------------------------

INTERRUPT_USER = (U(0, 1000, "turn"), U(3000, 4000, "interruption"))


def interrupt(agent, **kw):
    return item_row(DuplexItem("i", "user_interruption", INTERRUPT_USER, tuple(agent), end_ms=8000), **kw)


def test_interruption_stop_latency_and_response_exact():
    r = interrupt([(1500, 3400), (4600, 7000)])                       # stops 400 ms after the onset
    assert r["overlapped"] is True and r["yielded"] is True
    assert r["stop_latency_ms"] == 400.0
    assert r["tor"] is True and r["latency_ms"] == 600.0
    assert r["response_latency_ms"] == 600.0


def test_interruption_talking_on_is_tor_1_latency_0_like_fdb():
    # agent gaps <= 500 ms merge (get_timing.py:24): one segment 1500..7000 over the whole event
    r = interrupt([(1500, 3400), (3900, 7000)])
    assert r["yielded"] is False and r["stop_latency_ms"] == 1000.0
    assert r["tor"] is True and r["latency_ms"] == 0.0               # output cropped at the event end
    assert math.isnan(r["response_latency_ms"])                         # no onset strictly after it


def test_interruption_agent_silent_after_is_tor_0():
    r = interrupt([(1500, 3400)])
    assert r["tor"] is False and math.isnan(r["latency_ms"]) and r["stop_latency_ms"] == 400.0


def test_relevance_hook_called_on_tor_1_only_with_words_after_the_event():
    seen = []

    def judge(item, ws):
        seen.append([w.text for w in ws])
        return 4

    w = words((1500, 1900), (4600, 5000), (5100, 5600))
    item = DuplexItem("i", "user_interruption", INTERRUPT_USER, ((1500, 3400), (4600, 7000)), w, 8000)
    assert item_row(item, relevance=judge)["relevance"] == 4.0
    assert seen == [["w1", "w2"]]
    assert math.isnan(interrupt([(1500, 3400)], relevance=judge)["relevance"])   # TOR 0: not judged
    assert len(seen) == 1
    assert math.isnan(interrupt([(1500, 3400), (4600, 7000)])["relevance"])       # no scorer
    with pytest.raises(ValueError, match="relevance"):
        item_row(item, relevance=lambda i, ws: 7)


# ---- v1.5 overlap categories: the agent should keep the floor -------------------------------

def overlap(cat, role, agent, **kw):
    user = (U(0, 1000, "turn"), U(3000, 3400, role))
    return item_row(DuplexItem("o", cat, user, tuple(agent), end_ms=9000), **kw)


def test_user_backchannel_agent_keeps_talking_is_tor_0():
    r = overlap("user_backchannel", "backchannel", [(1500, 8000)])
    assert r["tor"] is False and r["yielded"] is False and r["stop_latency_ms"] == 400.0


def test_user_backchannel_agent_stops_is_tor_1():
    r = overlap("user_backchannel", "backchannel", [(1500, 3250), (3900, 8000)])   # 650 ms gap
    assert r["tor"] is True and r["stop_latency_ms"] == 250.0 and r["response_latency_ms"] == 500.0


def test_yield_grace_sees_a_stop_after_a_short_event():
    agent = [(1500, 3600), (4400, 8000)]
    assert overlap("talking_to_other", "side_talk", agent)["tor"] is False
    assert overlap("talking_to_other", "side_talk", agent, yield_grace_ms=200)["tor"] is True
    assert overlap("talking_to_other", "side_talk", agent, yield_grace_ms=199)["tor"] is False


def test_no_overlap_means_nothing_was_tested():
    r = overlap("background_speech", "background", [(5000, 6000)])
    assert r["overlapped"] is False and r["tor"] is pd.NA and math.isnan(r["stop_latency_ms"])


# ---- v1 backchannel: the agent listens and may only backchannel -----------------------------

def bc(agent, w=None, end=10_000, rule="fdb"):
    user = (U(0, 9000, "turn"),)
    return item_row(DuplexItem("b", "backchannel", user, tuple(agent), w, end), backchannel_rule=rule)


def test_backchannel_tor_and_frequency():
    r = bc([(2000, 2400), (5000, 5500)])
    assert r["tor"] is False and r["backchannels"] == 2 and r["backchannel_freq_hz"] == 0.2
    r = bc([(2000, 2400), (5000, 8001)])                              # > 3 s: formally speaking
    assert r["tor"] is True and r["backchannels"] == 1
    assert bc([(5000, 8000)])["tor"] is True                          # exactly 3 s: 1-3 s rule -> 1


def test_backchannel_word_and_duration_boundaries():
    assert bc([(2000, 2999)])["tor"] is False                         # < 1 s, 0 words
    assert bc([(2000, 3000)])["tor"] is True                          # 1 s
    two = words((2000, 2200), (2300, 2500))
    three = two + words((2600, 2800))
    assert bc([(2000, 2900)], two)["tor"] is False
    assert bc([(2000, 2900)], three)["tor"] is True                   # 3 words in < 1 s
    four = three + words((2850, 2900))
    assert bc([(2000, 2900)], four)["tor"] is True


def test_backchannel_fdb_last_verdict_quirk_and_any_rule():
    agent = [(1000, 2500), (5000, 5300)]                              # a 1.5 s turn, then "mhm"
    assert bc(agent)["tor"] is False                                   # eval_backchannel.py keeps the last
    assert bc(agent, rule="any")["tor"] is True


# ---- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("agent, match", [
    ([(3000, 2500)], "negative duration"),
    ([(2500, 2500)], "zero duration"),
    ([(2500, 3000), (2900, 3500)], "overlap"),
    ([(3000, 3500), (2000, 2500)], "sorted"),
    ([(2000, math.nan)], "finite"),
])
def test_bad_agent_segments(agent, match):
    with pytest.raises(ValueError, match=match):
        pause(agent)


def test_bad_items():
    with pytest.raises(ValueError, match="negative duration"):
        item_row(DuplexItem("x", "pause_handling", (U(0, 1000, "turn"), U(3000, 2000, "hold_pause")), ()))
    with pytest.raises(ValueError, match="exactly one 'hold_pause'"):
        item_row(DuplexItem("x", "pause_handling", (U(0, 1000, "turn"),), ()))
    with pytest.raises(ValueError, match="unknown category"):
        item_row(DuplexItem("x", "pause", PAUSE_USER, ()))
    with pytest.raises(ValueError, match="unknown user role"):
        item_row(DuplexItem("x", "pause_handling", (U(0, 1000, "hold"),), ()))
    with pytest.raises(ValueError, match="end_ms"):
        item_row(DuplexItem("x", "pause_handling", PAUSE_USER, (), end_ms=5000))
    with pytest.raises(ValueError, match="words"):
        pause([(2100, 2800)], words((2500, 2600), (2100, 2200)))
    with pytest.raises(ValueError, match="backchannel_rule"):
        bc([], rule="last")


# ---- building blocks ------------------------------------------------------------------------

def test_takes_turn_rule():
    assert takes_turn([], 0) is False
    assert takes_turn([(0, 999)], 3) is False and takes_turn([(0, 999)], 4) is True
    assert takes_turn([(0, 999)], None) is False and takes_turn([(0, 1000)], None) is True


def test_merge_segments_is_fdb_merge():
    assert merge_segments([(1000, 2000), (0, 400), (2500, 3000), (3600, 4000)], 500) == \
        [(0, 400), (1000, 3000), (3600, 4000)]                         # 500 ms gaps merge, 600 do not
    with pytest.raises(ValueError):
        merge_segments([(0, 1)], -1)


def test_agent_segments_from_trace_minus_stalls_and_pauses():
    trace = Trace([
        PlaybackStarted(1000, turn=0, request=0, sample_index=0),
        PlaybackStall(1500, turn=0, duration_ms=200),
        PlaybackStopped(3000, turn=0, sample_index=0),
        PlaybackStarted(5000, turn=1, request=0, sample_index=0),
        PlaybackPaused(5600, turn=1, sample_index=0),
        PlaybackResumed(6000, turn=1, sample_index=0),
        PlaybackPaused(6500, turn=1, sample_index=0, duck_db=-12.0),        # ducked: still audible
        PlaybackResumed(6800, turn=1, sample_index=0),
        PlaybackPaused(7000, turn=1, sample_index=0),
        PlaybackStopped(7400, turn=1, sample_index=0, interrupted=True),     # cut while paused
    ])
    assert agent_segments_from_trace(trace) == [(1000, 1500), (1700, 3000), (5000, 5600), (6000, 7000)]
    with pytest.raises(ValueError, match="never stopped"):
        agent_segments_from_trace(Trace([PlaybackStarted(0, turn=0, request=0, sample_index=0)]))


# ---- tidy rows and aggregates with cluster-bootstrap CIs -----------------------------------

def test_item_rows_and_aggregate():
    items = [DuplexItem(f"p{i}", "pause_handling", PAUSE_USER, agent, group=g)
             for i, (agent, g) in enumerate([(((2500, 3700),), "A"), ((), "A"), ((), "A"), ((), "B")])]
    items.append(DuplexItem("t0", "smooth_turn_taking", (U(0, 3000, "turn"),), ((3450, 6000),), group="A"))
    items.append(DuplexItem("t1", "smooth_turn_taking", (U(0, 3000, "turn"),), ((3250, 6000),), group="B"))
    rows = item_rows(items)
    assert list(rows.columns) == ITEM_COLUMNS and str(rows["tor"].dtype) == "boolean"
    agg = aggregate(rows, n_boot=500).set_index(["category", "metric"])
    p = agg.loc[("pause_handling", "tor_rate")]
    assert (p["n"], p["n_groups"], p["estimate"]) == (4, 2, 0.25)
    # groups A = [1, 0, 0] and B = [0]: pooled rates {A,A} 1/3, {A,B} 1/4, {B,B} 0 -> [0, 1/3]
    assert p["ci_low"] == 0.0 and p["ci_high"] == pytest.approx(1 / 3)
    t = agg.loc[("smooth_turn_taking", "latency_ms_mean")]
    assert (t["n"], t["estimate"]) == (2, 350.0)
    assert agg.loc[("smooth_turn_taking", "latency_ms_p50"), "estimate"] == 350.0
    assert ("pause_handling", "latency_ms_mean") not in agg.index       # no value -> no row
    assert {c for _, c, _ in AGG_METRICS} <= set(ITEM_COLUMNS)


def test_cluster_bootstrap_resamples_groups_not_items():
    # A holds four 0s, B one 1: resamples {A,A} = 0, {A,B} = 0.2, {B,B} = 1
    est, lo, hi, n, k = cluster_bootstrap_ci([0, 0, 0, 0, 1], list("AAAAB"), n_boot=2000, seed=1)
    assert (est, lo, hi, n, k) == (0.2, 0.0, 1.0, 5, 2)
    x = np.arange(10.0)
    one = cluster_bootstrap_ci(x, ["g"] * 10, "p50")                                 # one group: no interval
    assert one[0] == 4.5 and one[3:] == (10, 1) and math.isnan(one[1]) and math.isnan(one[2])
    assert cluster_bootstrap_ci(x, list("ab") * 5, seed=3) == cluster_bootstrap_ci(x, list("ab") * 5, seed=3)
    nan = cluster_bootstrap_ci([math.nan], ["a"])
    assert nan[3:] == (0, 0) and math.isnan(nan[0])
    with pytest.raises(ValueError, match="group labels"):
        cluster_bootstrap_ci([1, 2], ["a"])
    with pytest.raises(ValueError, match="stat"):
        cluster_bootstrap_ci([1, 2], ["a", "b"], "p90")
    with pytest.raises(KeyError):
        aggregate(pd.DataFrame({"category": []}))


# ---- a stop is a yield only when the agent cut its reply (cuts known) -----------------------

def test_a_reply_that_was_over_during_the_event_is_not_a_yield():
    user = (U(0, 1000, "turn"), U(3000, 3400, "background"))
    agent = ((1500, 3250),)
    cut = item_row(DuplexItem("c", "background_speech", user, agent, end_ms=9000, cuts=(3250.0,)))
    assert (cut["tor"], cut["yielded"], cut["ended_in_event"]) == (True, True, False)
    over = item_row(DuplexItem("o", "background_speech", user, agent, end_ms=9000, cuts=(2000.0,)))
    assert (over["tor"], over["yielded"], over["ended_in_event"]) == (False, False, True)
    assert over["stop_latency_ms"] == 250.0                          # FDB's overlap timing is unchanged
    unknown = item_row(DuplexItem("u", "background_speech", user, agent, end_ms=9000))
    assert (unknown["tor"], unknown["ended_in_event"]) == (True, False)   # audio only: any stop counts
    with pytest.raises(ValueError, match="cuts must be finite"):
        item_row(DuplexItem("n", "background_speech", user, agent, end_ms=9000, cuts=(math.nan,)))


def test_cuts_from_trace_are_interrupted_stops_and_unducked_pauses():
    from voicelab.events import PlaybackPaused, PlaybackResumed, PlaybackStarted, PlaybackStopped, Trace
    from voicelab.measure.duplex_bench import agent_cuts_from_trace, agent_segments_from_trace

    trace = Trace([PlaybackStarted(100.0, 1, 0, 0), PlaybackPaused(300.0, 1, 10, -12.0),
                   PlaybackResumed(400.0, 1, 20), PlaybackStopped(900.0, 1, 0, False),
                   PlaybackStarted(1000.0, 2, 0, 0), PlaybackPaused(1200.0, 2, 30),
                   PlaybackResumed(1800.0, 2, 40), PlaybackStopped(2500.0, 2, 0, True)])
    assert agent_cuts_from_trace(trace) == [1200.0, 2500.0]
    assert agent_segments_from_trace(trace) == [(100.0, 900.0), (1000.0, 1200.0), (1800.0, 2500.0)]
