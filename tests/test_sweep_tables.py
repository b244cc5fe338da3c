"""The sweep report's tables on hand-built results: interruptions (barge-in rates and latencies
with their by-clip intervals), nodes, and points that cannot be told apart."""

import math

import pandas as pd
import pytest


def test_interruption_table_counts_early_detections_apart_from_false_ones():
    from voicelab.reports import interruption_table

    def row(turn, barge, lat=math.nan, det=math.nan, cancel=math.nan, early=False, false=False,
            missed=False, v2v=1000.0, warm=False):
        return {"point": "p", "turn": turn, "warmup": warm, "barge_in": barge,
                "interruption_latency_ms": lat, "barge_in_detect_ms": det, "cancel_ms": cancel,
                "early_detection": early, "false_interruption": false, "missed_interruption": missed,
                "voice_to_voice_latency_ms": v2v}

    results = pd.DataFrame([
        row(0, False, warm=True, false=True),                      # warm-up: ignored
        row(1, False, false=True),                                 # cut with no user clip playing
        row(2, True, lat=-120.0, det=-124.0, cancel=4.0, early=True),
        row(3, True, lat=250.0, det=246.0, cancel=4.0),
        row(4, True, lat=300.0, det=290.0, cancel=10.0),
        row(5, True, missed=True),
    ])
    t = interruption_table(results).iloc[0]
    assert t["barge_ins"] == 4 and t["early_detections"] == 1
    assert t["interruption_p50_ms"] == 250.0 and t["detect_p50_ms"] == 246.0 and t["cancel_p50_ms"] == 4.0
    assert t["false_interruption_rate"] == pytest.approx(1 / 5)
    assert t["missed_interruption_rate"] == pytest.approx(1 / 4)
    assert math.isnan(t["false_pause_rate"]) and math.isnan(t["erle_p50_db"])  # no such columns (cut mode, no AEC)


def test_interruption_table_false_pauses_and_erle():
    """Five replies (a warm-up one ignored): two paused and resumed (gaps 400 and 1000 ms: median
    700), ERLE 10, 20, NaN (nothing echo-only), 30 dB: median 20."""
    from voicelab.reports import interruption_table

    results = pd.DataFrame([
        {"point": "p", "turn": k, "warmup": k == 0, "barge_in": False, "voice_to_voice_latency_ms": 900.0,
         "interruption_latency_ms": math.nan, "false_interruption": False, "missed_interruption": False,
         "false_pause": fp, "resume_gap_ms": gap, "aec_erle_db": erle}
        for k, (fp, gap, erle) in enumerate([(True, 50.0, 99.0), (True, 400.0, 10.0), (False, math.nan, 20.0),
                                              (True, 1000.0, math.nan), (False, math.nan, 30.0)])])
    t = interruption_table(results).iloc[0]
    assert t["false_pause_rate"] == pytest.approx(2 / 4) and t["resume_gap_p50_ms"] == 700.0
    assert t["erle_p50_db"] == 20.0 and t["barge_ins"] == 0 and math.isnan(t["missed_interruption_rate"])


def test_nodes_are_tabled_and_mixed_kinds_warned():
    """Runs on two hosts of two CPU kinds: one row per host with its runs, points and p50
    voice-to-voice, and a warning; one kind: no warning."""
    from voicelab.reports.sweep_tables import node_table, node_warning

    rows = [{"point": p, "run_id": f"{p}/rep-{r}", "turn": 0, "warmup": False, "node": host, "node_kind": kind,
             "voice_to_voice_latency_ms": v}
            for p, r, host, kind, v in [("a", 0, "n1", "Xeon x2", 900.0), ("b", 0, "n1", "Xeon x2", 1100.0),
                                        ("a", 1, "n2", "EPYC x8", 700.0)]]
    nodes = node_table(pd.DataFrame(rows))
    assert nodes[["node", "runs", "points", "v2v_p50_ms"]].values.tolist() == [["n1", 2, 2, 1000.0],
                                                                               ["n2", 1, 1, 700.0]]
    assert "2 kinds of node (EPYC x8; Xeon x2)" in node_warning(nodes)
    assert node_warning(node_table(pd.DataFrame(rows[:2]))) is None
    assert node_table(pd.DataFrame([{"point": "a", "run_id": "x", "node": ""}])).empty


def test_interruption_rates_and_latencies_carry_intervals_by_clip():
    """Four barge-ins on two clips: clip a's two were missed, clip b's two were not (latencies
    200 and 300 ms). Drawing whole clips the missed rate is 0 ({b, b}), 0.5 or 1 ({a, a}): its
    95 % interval is exactly [0, 1]; the latencies all come from clip b, one clip: no interval."""
    from voicelab.reports import interruption_table
    from voicelab.reports.sweep_tables import interruption_cells

    results = pd.DataFrame([
        {"point": "p", "turn": k, "clip": clip, "warmup": False, "barge_in": True,
         "interruption_latency_ms": lat, "barge_in_detect_ms": lat, "cancel_ms": 1.0,
         "missed_interruption": missed, "false_interruption": False, "voice_to_voice_latency_ms": 900.0}
        for k, (clip, lat, missed) in enumerate([("a", math.nan, True), ("a", math.nan, True),
                                                  ("b", 200.0, False), ("b", 300.0, False)])])
    t = interruption_table(results).iloc[0]
    assert (t["missed_interruption_rate"], t["missed_interruption_rate_lo"], t["missed_interruption_rate_hi"]) \
        == (0.5, 0.0, 1.0)
    assert t["interruption_p50_ms"] == 250.0 and math.isnan(t["interruption_p50_ms_lo"])
    assert (t["false_interruption_rate"], t["false_interruption_rate_lo"], t["false_interruption_rate_hi"]) \
        == (0.0, 0.0, 0.0)
    _, rows = interruption_cells(interruption_table(results))
    assert rows[0][2] == "250" and rows[0][8] == "50% [0, 100]" and rows[0][7] == "0% [0, 0]"


def test_points_that_cannot_be_told_apart():
    """Three points on clips x, y, z (one turn each). B is 10 ms slower than A on every clip:
    the paired difference is 10 in every resample, so B differs. C is 5 ms faster on x, 5 ms
    slower on y and equal on z: a resample's median clip decides the difference (-5, +5 or 0),
    so its interval [-5, 5] contains 0 and C cannot be told apart from A."""
    from voicelab.reports.sweep_tables import indistinguishable_points

    base = {"x": 100.0, "y": 1000.0, "z": 5000.0}
    shift = {"A": {"x": 0, "y": 0, "z": 0}, "B": {"x": 10, "y": 10, "z": 10}, "C": {"x": -5, "y": 5, "z": 0}}
    results = pd.DataFrame([{"point": p, "clip": c, "warmup": False, "voice_to_voice_latency_ms": v + shift[p][c]}
                            for p in ("B", "A", "C") for c, v in base.items()])
    assert indistinguishable_points(results) == ("A", ["C"])
    assert indistinguishable_points(results[results["point"] == "A"]) == ("", [])
