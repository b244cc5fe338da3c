"""Exact eot-bench end-of-turn metrics on hand-made turns (every figure worked out below)."""

import math

import numpy as np
import pandas as pd
import pytest

from voicelab.measure.eot import EotItem, Silence, SpanTable, Sweep, fire_offsets, score_operating_point, sweep_curve
from voicelab.measure.eot_budget import budget_figures, budget_figures_ci, cluster_weights, select_at_budget
from voicelab.measure.eot_policy import (
    DEFAULT_ACTION_DELAYS_MS,
    DEFAULT_THRESHOLDS,
    DEFAULT_TIMEOUTS_MS,
    decisions_sweep,
    silence_timeout_decisions,
    silence_timeout_sweep,
    threshold_delay_sweep,
    vad_baseline_grid_ms,
    vad_timeout_sweep,
)

H, E = "hold", "eot"


def _items() -> list[EotItem]:
    return [EotItem("A", (Silence(1000, 1500, H), Silence(2000, 2300, H), Silence(3000, 4000, E))),
            EotItem("B", (Silence(500, 1400, H), Silence(2000, 2100, E))),
            EotItem("C", (Silence(100, 1300, H), Silence(2000, 2500, E)))]


# A: 800 is during speech (ignored); 1500 is 500 ms into the 500 ms hold, i.e. when speech
#    resumes: not a cutoff (dur > fire is strict); 2250 is 250 ms into the 300 ms hold: cutoff;
#    3400 is 400 ms into the eot: detected, latency 400.
# B: no decision: the 900 ms hold survives a 1000 ms timeout; the eot waits for the timeout:
#    latency 1000, not detected.
# C: the 1200 ms hold outlasts the 1000 ms timeout: cutoff; 2600 is after the eot span's end
#    (2500) but the eot is open-ended: latency 600, detected.
_DECISIONS = {"A": [800, 1500, 2250, 3400], "B": [], "C": [2600]}


def test_from_spans_labels_the_last_silence_eot_and_drops_short_ones():
    item = EotItem.from_spans("x", [(0, 50), (1000, 1300), (2000, 2099.9), (3000, 3500)], group="rec1")
    assert item.silences == (Silence(1000, 1300, H), Silence(3000, 3500, E))     # 50 and 99.9 ms dropped
    assert item.group == "rec1" and EotItem("y", ()).group == "y"
    # a too-short last silence leaves the turn without an eot (eot-bench labels by index)
    assert [s.label for s in EotItem.from_spans("z", [(0, 400), (900, 950)]).silences] == [H]


@pytest.mark.parametrize("silences", [
    (Silence(0, 100, E), Silence(200, 300, H)),            # eot not last
    (Silence(0, 300, H), Silence(200, 400, E)),            # overlap
    (Silence(100, 100, H),),                               # empty
    (Silence(-5, 100, H),),                                # negative
    (Silence(0, 100, "pause"),),                           # bad label
])
def test_bad_items_raise(silences):
    with pytest.raises(ValueError):
        EotItem("bad", silences)
    with pytest.raises(ValueError):
        EotItem("", ())


def test_span_table_drops_holds_outside_200_to_5000_ms_but_keeps_every_eot():
    item = EotItem("a", (Silence(0, 150, H), Silence(1000, 1200, H), Silence(2000, 7000, H),
                         Silence(8000, 13001, H), Silence(14000, 14050, E)))
    t = SpanTable.from_items([item])
    assert t.duration_ms.tolist() == [200, 5000, 50] and t.is_eot.tolist() == [False, False, True]
    assert SpanTable.from_items([item], min_hold_ms=0, max_hold_ms=math.inf).n_holds == 4
    with pytest.raises(ValueError, match="no items"):
        SpanTable.from_items([])
    with pytest.raises(ValueError, match="duplicate"):
        SpanTable.from_items([item, item])
    with pytest.raises(ValueError, match="no spans remain"):
        SpanTable.from_items([EotItem("b", (Silence(0, 150, H),))])


def test_fire_offsets_take_the_first_decision_at_or_after_each_span_start():
    t = SpanTable.from_items(_items())
    # spans: A 1000, 2000, 3000 | B 500, 2000 | C 100, 2000
    assert fire_offsets(t, _DECISIONS).tolist() == [500, 250, 400, math.inf, math.inf, 2500, 600]
    with pytest.raises(KeyError):
        fire_offsets(t, {"A": [], "B": []})
    with pytest.raises(KeyError):
        fire_offsets(t, {**_DECISIONS, "D": []})
    with pytest.raises(ValueError, match="finite"):
        fire_offsets(t, {**_DECISIONS, "B": [math.nan]})


def test_one_operating_point_by_hand():
    t = SpanTable.from_items(_items())
    s = score_operating_point(t, fire_offsets(t, _DECISIONS), timeout_ms=1000)
    assert (s.n_holds, s.n_cutoffs, s.cutoff_rate) == (4, 2, 0.5)                # A's 2nd hold, C's hold
    assert (s.n_eots, s.n_detected) == (3, 2)
    assert s.detect_rate == pytest.approx(2 / 3) and s.timeout_rate == pytest.approx(1 / 3)
    assert s.mean_latency_ms == pytest.approx((400 + 1000 + 600) / 3)
    assert s.p50_latency_ms == 600
    assert s.p90_latency_ms == pytest.approx(600 + 0.8 * 400)                  # rank 1.8 of [400, 600, 1000]
    # no timeout: C's long hold is no longer cut; B's eot is never answered
    s = score_operating_point(t, fire_offsets(t, _DECISIONS))
    assert (s.n_cutoffs, s.n_detected) == (1, 2)
    assert s.mean_latency_ms == math.inf and s.p50_latency_ms == 600 and s.p90_latency_ms == math.inf


def test_scoring_needs_holds_and_eots_and_matching_shapes():
    only_eots = SpanTable.from_items([EotItem("a", (Silence(0, 500, E),))])
    with pytest.raises(ValueError, match="need both hold and eot"):
        score_operating_point(only_eots, [100.0], 1000)
    t = SpanTable.from_items(_items())
    with pytest.raises(ValueError, match="spans"):
        score_operating_point(t, [100.0, 200.0], 1000)
    with pytest.raises(ValueError, match="number of points"):
        Sweep(pd.DataFrame({"k": [1, 2]}), np.zeros((1, 7)), np.ones(1))
    with pytest.raises(ValueError):
        decisions_sweep(t, [])


def _curve(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["threshold", "action_delay_ms", "timeout_ms", "cutoff_rate",
                                       "mean_latency_ms", "detect_rate"])


def test_selection_at_a_latency_budget_takes_no_interpolation_and_includes_the_budget():
    curve = _curve([(0.5, 200, 1000, 0.30, 290.0, 0.9),
                    (0.5, 300, 1000, 0.20, 300.0, 0.8),       # exactly at 300: feasible, best
                    (0.5, 400, 1000, 0.10, 300.5, 0.7),       # 0.5 ms over: infeasible
                    (0.5, 700, 1000, 0.05, 700.0, 0.6)])
    assert select_at_budget(curve, "mean_latency_ms", 300)["cutoff_rate"] == 0.20
    # 450 ms lies between 300.5 and 700 ms: the 300.5 ms point's 0.10, not a value interpolated
    # towards the 700 ms point's 0.05
    assert select_at_budget(curve, "mean_latency_ms", 450)["cutoff_rate"] == 0.10
    assert select_at_budget(curve, "mean_latency_ms", 100) is None
    figs = budget_figures(curve, latency_budgets_ms=(100, 300), cutoff_budgets=(0.05, 0.04))
    assert figs["feasible"].tolist() == [False, True, True, False]
    assert figs["value"].tolist()[1:3] == [0.20, 700.0] and np.isnan(figs["value"]).tolist() == [1, 0, 0, 1]
    assert figs["detect_rate"].tolist()[1:3] == [0.8, 0.6]
    assert figs["action_delay_ms"].tolist()[1:3] == [300, 700]


def test_selection_ties_follow_eot_bench_order():
    # same cutoff rate: the smaller latency wins; then the higher threshold, smaller delay, smaller timeout
    curve = _curve([(0.5, 300, 1000, 0.1, 280.0, 0.1),
                    (0.5, 300, 1000, 0.1, 250.0, 0.2),
                    (0.6, 300, 1500, 0.1, 250.0, 0.3),
                    (0.6, 200, 1500, 0.1, 250.0, 0.4),
                    (0.6, 200, 1000, 0.1, 250.0, 0.5)])
    assert select_at_budget(curve, "mean_latency_ms", 300)["detect_rate"] == 0.5
    # at a cutoff budget: 1/20 = 0.05 is within budget; equal latency -> smaller cutoff rate
    curve = _curve([(0.5, 200, 1000, 1 / 20, 500.0, 0.1),
                    (0.5, 200, 1000, 0.01, 500.0, 0.2),
                    (0.5, 200, 1000, 0.0, 900.0, 0.3)])
    assert select_at_budget(curve, "cutoff_rate", 0.05)["detect_rate"] == 0.2
    with pytest.raises(ValueError, match="budget_column"):
        select_at_budget(curve, "detect_rate", 0.5)
    with pytest.raises(ValueError, match="empty"):
        select_at_budget(curve.iloc[:0], "cutoff_rate", 0.05)


def _td_table_and_scores():
    item = EotItem("a", (Silence(1000, 1600, H), Silence(2000, 2500, E)))
    # hold: p 0.3 at +100, 0.7 at +200, 0.2 at +300; eot: 0.4 at +100, 0.9 at +200
    return SpanTable.from_items([item]), {"a": ([1100, 1200, 1300, 2100, 2200], [0.3, 0.7, 0.2, 0.4, 0.9])}


def test_threshold_delay_sweep_by_hand():
    table, scores = _td_table_and_scores()
    sweep = threshold_delay_sweep(table, scores, thresholds=[0.3, 0.7], action_delays_ms=[200, 500],
                                  timeouts_ms=[400, 1000])
    curve = sweep_curve(table, sweep)
    # (500, 400) is skipped (timeout < delay). First p > 0.3: hold +200, eot +100; p > 0.7
    # (strict): hold never, eot +200. Fire = max(delay, crossing); a 400 ms timeout cuts the 600 ms hold.
    got = curve[["threshold", "action_delay_ms", "timeout_ms", "cutoff_rate", "mean_latency_ms"]]
    assert got.values.tolist() == [[0.3, 200, 400, 1, 200], [0.3, 200, 1000, 1, 200], [0.3, 500, 1000, 1, 500],
                                   [0.7, 200, 400, 1, 200], [0.7, 200, 1000, 0, 200], [0.7, 500, 1000, 0, 500]]
    assert curve["is_pareto"].tolist() == [False, False, False, False, True, False]
    best = select_at_budget(curve, "mean_latency_ms", 300)
    assert (best["threshold"], best["action_delay_ms"], best["timeout_ms"], best["cutoff_rate"]) == (0.7, 200, 1000, 0)
    with pytest.raises(ValueError, match="timeout >= action delay"):
        threshold_delay_sweep(table, scores, action_delays_ms=[500], timeouts_ms=[400])
    with pytest.raises(KeyError):
        threshold_delay_sweep(table, {})


def test_default_grids_are_eot_benchs():
    assert len(DEFAULT_THRESHOLDS) == 101 and DEFAULT_THRESHOLDS[:3] == (0.0, 0.01, 0.02)
    assert DEFAULT_ACTION_DELAYS_MS == (200, 300, 400, 500, 600, 700, 800, 900, 1000)
    assert DEFAULT_TIMEOUTS_MS == (1000, 1500, 2000, 2500, 3000, 3500)
    fine = vad_baseline_grid_ms()
    assert (fine[0], fine[-1], len(fine)) == (200, 5000, 481) and 300 in fine and 600 in fine
    assert vad_baseline_grid_ms(fine=False).tolist() == [200, 300, 400, 500, 600, 700, 800, 900, 1000,
                                                         1500, 2000, 2500, 3000, 3500]


def test_vad_baseline_on_labelled_silences():
    items = [EotItem("a", (Silence(0, 250, H), Silence(1000, 1500, H), Silence(3000, 3100, E))),
             EotItem("b", (Silence(0, 900, H), Silence(2000, 2200, E)))]
    table = SpanTable.from_items(items)
    curve = sweep_curve(table, silence_timeout_sweep(table, [300, 500, 900]))
    # holds 250, 500, 900: > 300 -> 2 of 3; > 500 -> 1; > 900 -> 0; every eot answered at d
    assert curve["cutoff_rate"].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    assert curve["mean_latency_ms"].tolist() == [300, 500, 900] and (curve["detect_rate"] == 1).all()
    figs = budget_figures(curve, latency_budgets_ms=(300, 600), cutoff_budgets=(0.05, 0.5))
    assert figs["value"].tolist() == pytest.approx([2 / 3, 1 / 3, 900, 500])


def test_silence_timeout_decisions_on_32_ms_frames():
    # speech frames 1-2, silence 3-5 (from 96 ms), speech 6, silence 7-8 (from 224 ms, open end)
    speech = [0, 1, 1, 0, 0, 0, 1, 0, 0]
    got = silence_timeout_decisions(speech, [0, 96, 100], 32.0)
    assert [g.tolist() for g in got] == [[128, 256], [192, 320], [352]]      # 100 ms -> 4 frames
    closed = silence_timeout_decisions(speech, [96], 32.0, open_end=False)
    assert closed[0].tolist() == [192]                                        # last run has 2 frames only
    assert [g.size for g in silence_timeout_decisions([0, 0], [100])] == [0]  # no speech, no turn
    with pytest.raises(ValueError):
        silence_timeout_decisions([[1, 0]], [100])


def test_vad_timeout_sweep_pays_for_frame_quantisation():
    # speech 0-320 ms, silence 320-640 (hold, 320 ms), speech 640-960, silence from 960 (eot)
    speech = np.r_[np.ones(10), np.zeros(10), np.ones(10), np.zeros(5)].astype(bool)
    table = SpanTable.from_items([EotItem("a", (Silence(320, 640, H), Silence(960, 1120, E)))])
    curve = sweep_curve(table, vad_timeout_sweep(table, {"a": speech}, [200, 300]))
    # 200 ms needs 7 frames = 224 ms < 320: the hold is cut; 300 ms needs 10 frames = 320 ms:
    # the decision falls as speech resumes, not a cut
    assert curve["cutoff_rate"].tolist() == [1, 0] and curve["mean_latency_ms"].tolist() == [224, 320]


def _two_recordings(n: int) -> list[EotItem]:
    """Recording A: n turns whose 500 ms hold a 300 ms timeout cuts; B: n turns with a 250 ms hold."""
    return [EotItem(f"{rec}{i}", (Silence(0, dur, H), Silence(1000, 1500, E)), group=rec)
            for rec, dur in (("A", 500), ("B", 250)) for i in range(n)]


def test_ci_resamples_whole_groups():
    items = _two_recordings(20)
    by_rec = SpanTable.from_items(items)
    by_item = SpanTable.from_items([EotItem(i.item_id, i.silences) for i in items])
    ci_rec = budget_figures_ci(by_rec, silence_timeout_sweep(by_rec, [300]), (300,), (), n_boot=2000, seed=3)
    ci_item = budget_figures_ci(by_item, silence_timeout_sweep(by_item, [300]), (300,), (), n_boot=2000, seed=3)
    # two recordings: a resample holds AA, AB or BB (p 1/4, 1/2, 1/4) -> rate 1, 0.5, 0: the 95 %
    # interval is [0, 1]. 40 independent turns: k/40 with k ~ Bin(40, 1/2); 0 needs p = 2**-40.
    assert ci_rec["value"].item() == ci_item["value"].item() == 0.5
    assert (ci_rec["value_lo"].item(), ci_rec["value_hi"].item()) == (0.0, 1.0)
    assert 0.0 < ci_item["value_lo"].item() < 0.5 < ci_item["value_hi"].item() < 1.0
    assert (ci_rec["n_groups"].item(), ci_item["n_groups"].item()) == (2, 40)


def test_ci_is_seeded_contains_the_estimate_and_reselects():
    table, scores = _td_table_and_scores()
    items = [EotItem(f"r{g}-{i}", (Silence(1000, 1600, H), Silence(2000, 2500, E)), group=f"r{g}")
             for g in range(6) for i in range(2)]
    big = SpanTable.from_items(items)
    rng = np.random.default_rng(0)
    sc = {it.item_id: ([1100, 1200, 2100, 2200], rng.uniform(size=4)) for it in items}
    sweep = threshold_delay_sweep(big, sc, thresholds=np.arange(0, 1, 0.1), action_delays_ms=[200, 400],
                                  timeouts_ms=[1000])
    a = budget_figures_ci(big, sweep, n_boot=300, seed=5)
    assert a.equals(budget_figures_ci(big, sweep, n_boot=300, seed=5))
    assert not a.equals(budget_figures_ci(big, sweep, n_boot=300, seed=6))
    ok = a["feasible"]
    assert ((a["value_lo"] <= a["value"]) & (a["value"] <= a["value_hi"]))[ok].all()
    # identical groups: every resample re-selects the same figure, so the interval collapses onto it
    same = SpanTable.from_items([EotItem(f"g{i}", (Silence(0, 500, H), Silence(0 + 1000, 1200, H),
                                                   Silence(2000, 2500, E)), group=f"g{i}") for i in range(5)])
    ci = budget_figures_ci(same, silence_timeout_sweep(same, [300, 450]), n_boot=200)
    assert ci["value"].tolist()[:2] == [0.5, 0.5]
    assert (ci["value_lo"].iloc[:2] == 0.5).all() and (ci["value_hi"].iloc[:2] == 0.5).all()
    # one group: no interval
    one = budget_figures_ci(table, threshold_delay_sweep(table, scores), n_boot=50)
    assert one["value_lo"].isna().all() and (one["n_groups"] == 1).all()
    with pytest.raises(ValueError, match="ci"):
        budget_figures_ci(big, sweep, ci=1.0)


def test_cluster_weights():
    w = cluster_weights(["a", "a", "b", "c"], n_boot=500, seed=1)
    assert w.shape == (500, 4) and (w[:, 0] == w[:, 1]).all()         # a group moves as a whole
    assert (w[:, 1:].sum(axis=1) == 3).all()                          # 3 groups drawn per resample
    assert (w == cluster_weights(["a", "a", "b", "c"], 500, 1)).all()
    with pytest.raises(ValueError):
        cluster_weights([], 10)
    with pytest.raises(ValueError):
        cluster_weights(["a"], 0)


def test_resample_selection_matches_select_at_budget_on_ties():
    # the bootstrap's vectorised selection must pick the very row select_at_budget picks;
    # values from small sets make ties on every sort key common
    from voicelab.measure.eot_budget import _rank, _select
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        curve = _curve(np.c_[rng.choice([0.2, 0.5, 0.8], n), rng.choice([200, 300], n),
                             rng.choice([1000, 1500], n), rng.choice([0.0, 0.05, 0.1], n),
                             rng.choice([250.0, 300.0, 400.0], n), np.arange(n)])
        for column, optimize, budget in (("mean_latency_ms", "cutoff_rate", 300.0),
                                         ("cutoff_rate", "mean_latency_ms", 0.05)):
            want = select_at_budget(curve, column, budget)
            idx, ok = _select(curve[[optimize]].to_numpy(), curve[[column]].to_numpy(), _rank(curve),
                              budget + 1e-9)
            assert bool(ok[0]) == (want is not None)
            if want is not None:
                assert idx[0] == want.name


def test_vad_timeout_sweep_equals_the_generic_decision_path():
    # the per-item shortcut must give what decisions_sweep gives from silence_timeout_decisions
    rng = np.random.default_rng(4)
    items, speech = [], {}
    for i in range(6):
        frames = rng.random(120) < 0.6
        frames[:3] = True
        speech[f"i{i}"] = frames
        items.append(EotItem(f"i{i}", (Silence(320, 800, H), Silence(1500, 2100, H), Silence(3200, 3900, E))))
    table, grid = SpanTable.from_items(items), [0, 50, 200, 300, 640]
    fast = vad_timeout_sweep(table, speech, grid)
    dec = {k: silence_timeout_decisions(v, grid) for k, v in speech.items()}
    slow = decisions_sweep(table, [({"silence_ms": t}, {k: d[j] for k, d in dec.items()}, None)
                                   for j, t in enumerate(grid)])
    assert np.array_equal(fast.fire_ms, slow.fire_ms)
    assert fast.knobs["silence_ms"].tolist() == slow.knobs["silence_ms"].tolist() == grid
    with pytest.raises(KeyError):
        vad_timeout_sweep(table, {"i0": speech["i0"]}, grid)


def test_early_decisions_fire_at_the_next_span_start():
    """voicelab's extension for frame-based detectors: a decision in the speech right before a span
    (after the previous silence, any length) fires at that span's start, offset 0. Item A: 800 is
    in the speech before the first hold (0-1000): the hold is cut at offset 0; 1950 is in the speech
    before the 300 ms hold (1500-2000): offset 0; 2900 in the speech before the eot (2300-3000):
    latency 0. Without ``early`` the same decisions give 500 (1500 - 1000), 250 (2250 - 2000) and
    400 (3400 - 3000) as in _DECISIONS' comments."""
    table = SpanTable.from_items(_items())
    a = {"A": [800, 1950, 2900], "B": [], "C": []}
    got = fire_offsets(table, a, early=True)
    assert got[:3].tolist() == [0.0, 0.0, 0.0]
    assert fire_offsets(table, a)[:3].tolist() == [950.0, 900.0, math.inf]     # ignored: next decision after
    assert table.speech_from_ms.tolist() == [0.0, 1500.0, 2300.0, 0.0, 1400.0, 0.0, 1300.0]
    np.testing.assert_array_equal(fire_offsets(table, _DECISIONS, early=True)[3:], fire_offsets(table, _DECISIONS)[3:])


def test_vad_sweep_keeps_a_turn_ended_while_the_vad_hears_nothing():
    """Frames of 100 ms: speech in frames 0-4, then silence to the end (the VAD misses the last
    word, 800-1000 ms). Labels: a hold 500-800 ms, the eot from 1000 ms. With a 200 ms timeout the
    VAD ends the turn at 700 ms, inside the hold (a cutoff, offset 200); it hears nothing after, so
    the eot is answered already: offset 0 with ``early``, never (inf) without."""
    from voicelab.measure.eot_policy import vad_timeout_sweep

    item = EotItem("v", (Silence(500, 800, H), Silence(1000, 3000, E)))
    table = SpanTable.from_items([item])
    speech = {"v": np.r_[np.ones(5, bool), np.zeros(25, bool)]}
    with_early = vad_timeout_sweep(table, speech, timeouts_ms=[200.0], frame_ms=100.0, early=True)
    without = vad_timeout_sweep(table, speech, timeouts_ms=[200.0], frame_ms=100.0)
    assert with_early.fire_ms[0].tolist() == [200.0, 0.0]
    assert without.fire_ms[0].tolist() == [200.0, math.inf]
