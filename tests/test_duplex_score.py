"""Scoring duplex runs: a hand-built trace of a five-item scenario -> FDB items with the right
roles and times -> exact metric rows; a scripted sweep directory -> the published page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from voicelab.events import PlaybackStarted, PlaybackStopped, StateChanged, Trace, TurnPlanned
from voicelab.lab.duplex_clips import clip_stem
from voicelab.lab.duplex_report import write_page
from voicelab.lab.duplex_score import DuplexScoreError, finished_runs, run_items, score_runs
from voicelab.measure.duplex_bench import UserSegment

MIX = "mix:e1|e2|-10dB|1000ms"
SCENARIO = [
    {"clip": "corpus:h"},                                                           # pause handling
    {"clip": "corpus:e1"},                                                          # smooth turn-taking
    {"clip": "corpus:e2"}, {"clip": "corpus:e3", "start": "after_agent_starts", "offset_ms": 500.0},
    {"clip": "corpus:e4"}, {"clip": "corpus:yes", "start": "after_agent_starts", "offset_ms": 700.0,
                            "backchannel": True},
    {"clip": MIX},                                                                  # background speech
]
META = {
    "corpus:h": {"kind": "hold", "group": "rec-h", "segments": [[200, 760, "turn"], [760, 2260, "hold_pause"],
                                                                [2260, 2900, "turn"]]},
    "corpus:e1": {"kind": "eot", "group": "rec-1", "segments": [[200, 1500, "turn"]]},
    "corpus:e2": {"kind": "eot", "group": "rec-2", "segments": [[100, 1000, "turn"]]},
    "corpus:e3": {"kind": "eot", "group": "rec-3", "segments": [[100, 900, "turn"]]},
    "corpus:e4": {"kind": "eot", "group": "rec-4", "segments": [[100, 1000, "turn"]]},
    "corpus:yes": {"kind": "eot", "group": "rec-y", "segments": [[100, 400, "turn"]]},
    MIX: {"kind": "mix", "group": "rec-1", "segments": [[200, 1500, "turn"], [2500, 3900, "background"]]},
}
STARTS = [10000, 20000, 30000, 32500, 40000, 42500, 50000]
"""Session-clock start of each scenario clip (trace turn = index + 1; turn 0 is the warm-up)."""
PLAYS = {0: (1000, 2000), 1: (10900, 12500), 2: (22300, 25000), 3: (32000, 32800), 4: (34000, 36000),
         5: (41800, 46000), 7: (51900, 53000)}
"""Agent playback per trace turn (ms): the warm-up reply, a reply in the pause, a reply 800 ms after
the user, a reply cut 200 ms into the interruption and the reply to it, a reply talking on over
"yes", a reply that stops 500 ms into the background speech."""


def _trace() -> Trace:
    ev = [TurnPlanned(500.0, 0, "warm", "v", True, 3000.0, 700.0, 2000.0, "", False, False)]
    for i, (t, start) in enumerate(zip(SCENARIO, STARTS)):
        s, e = META[t["clip"]]["segments"][0][:2]
        ev.append(TurnPlanned(float(start), i + 1, clip_stem(t["clip"]), "v", False, 4000.0, start + s, start + e,
                              "", t.get("start") == "after_agent_starts", bool(t.get("backchannel"))))
    for turn, (a, b) in PLAYS.items():
        ev += [PlaybackStarted(float(a), turn, 0, 0), PlaybackStopped(float(b), turn, 0, turn in (3, 7))]
    ev.append(StateChanged(60000.0, 7, "speaking", "idle"))
    return Trace(sorted(ev, key=lambda e: e.t_ms))


def _write_run(path: Path, scenario=SCENARIO, trace: Trace | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps({"config": {"scenario": scenario}}))
    (trace or _trace()).save_jsonl(path / "events.jsonl")
    (path / "turns.csv").write_text("turn\n")
    return path


def test_a_scripted_trace_maps_to_items_with_roles_in_the_item_clock(tmp_path):
    items, meta = run_items(_write_run(tmp_path / "run"), META.__getitem__, "r0")
    assert [it.category for it in items] == ["pause_handling", "smooth_turn_taking", "user_interruption",
                                             "user_backchannel", "background_speech"]
    assert [it.item_id for it in items] == [f"r0#{k:02d}" for k in range(5)]
    ph, st, ui, ub, bg = items
    assert ph.user == (UserSegment(200, 760, "turn"), UserSegment(760, 2260, "hold_pause"),
                       UserSegment(2260, 2900, "turn"))
    assert ph.agent == ((900, 2500),) and ph.end_ms == 10000 and ph.group == "rec-h"
    assert st.user == (UserSegment(200, 1500, "turn"),) and st.agent == ((2300, 5000),)
    assert ui.user == (UserSegment(100, 1000, "turn"), UserSegment(2600, 3400, "interruption"))
    assert ui.agent == ((2000, 2800), (4000, 6000))
    assert ub.user == (UserSegment(100, 1000, "turn"), UserSegment(2600, 2900, "backchannel"))
    assert ub.agent == ((1800, 6000),)
    assert bg.user == (UserSegment(200, 1500, "turn"), UserSegment(2500, 3900, "background"))
    assert bg.agent == ((1900, 3000),) and bg.end_ms == 10000 and bg.group == "rec-1"
    assert [m["offset_ms"] for m in meta][2:4] == [500.0, 700.0] and math.isnan(meta[0]["offset_ms"])
    assert meta[2]["clips"] == "corpus:e2 ; corpus:e3" and meta[4]["start_ms"] == 50000
    # agent speech over the user's own turn segments: the pause reply runs 240 ms into the resumed turn
    assert [m["agent_over_user_ms"] for m in meta] == [240.0, 0.0, 0.0, 0.0, 0.0]


def test_scripted_sweep_scores_exactly_and_writes_the_page(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    _write_run(sweep / "runs" / "p00-aaaa" / "rep-0")
    _write_run(sweep / "runs" / "p01-bbbb" / "rep-0")
    (sweep / "runs" / "p02-cccc" / "rep-0").mkdir(parents=True)  # unfinished: skipped
    assert [r for r, _ in finished_runs(sweep)] == ["p00-aaaa/rep-0", "p01-bbbb/rep-0"]
    rows, agg = score_runs(sweep, META.__getitem__, n_boot=50)
    assert len(rows) == 10 and list(rows["item_id"][:2]) == ["p00-aaaa/rep-0#00", "p00-aaaa/rep-0#01"]
    r = rows.iloc[:5].set_index("category")
    assert r.loc["pause_handling", "tor"]  # 1360 ms of agent speech in the 1500 ms pause
    assert r.loc["smooth_turn_taking", "tor"] and r.loc["smooth_turn_taking", "latency_ms"] == 800
    ui = r.loc["user_interruption"]
    assert (ui["tor"], ui["latency_ms"], ui["stop_latency_ms"], ui["response_latency_ms"]) == (True, 600, 200, 600)
    assert ui["yielded"]
    ub = r.loc["user_backchannel"]
    assert (ub["tor"], ub["yielded"], ub["stop_latency_ms"]) == (False, False, 300)  # talked on: kept the floor
    assert math.isnan(ub["response_latency_ms"])
    bg = r.loc["background_speech"]
    assert (bg["tor"], bg["stop_latency_ms"]) == (True, 500)  # stopped for the background: yielded
    tor = agg[agg["metric"] == "tor_rate"].set_index("category")["estimate"]
    assert tor.to_dict() == {"pause_handling": 1.0, "smooth_turn_taking": 1.0, "user_interruption": 1.0,
                             "user_backchannel": 0.0, "background_speech": 1.0}
    lat = agg[(agg["metric"] == "latency_ms_mean")].set_index("category")
    assert lat.loc["smooth_turn_taking", "n"] == 2 and lat.loc["smooth_turn_taking", "n_groups"] == 1
    drawn, save = [], Figure.savefig

    def keep(fig, *args, **kwargs):  # the figure write_page saves as duplex.png
        drawn.append(fig)
        return save(fig, *args, **kwargs)
    monkeypatch.setattr(Figure, "savefig", keep)
    paths = write_page(tmp_path / "page", rows, agg, title="test page", sweep_dir=sweep, command="voicelab duplex")
    assert [p.name for p in paths] == ["README.md", "items.csv", "aggregate.csv", "duplex.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    text = paths[0].read_text()
    assert "| smooth_turn_taking | 1.00 (n=2) | 800 (n=2)" in text and "10 items from 2 runs" in text
    assert len(pd.read_csv(paths[1])) == 10
    (fig,) = drawn                          # TOR per category; latency and stop latency per category
    tor_ax, lat_ax = fig.axes
    assert fig.get_suptitle() == "test page" and (tor_ax.get_ylabel(), lat_ax.get_ylabel()) == ("turn-over rate", "ms")
    assert [t.get_text() for t in tor_ax.get_xticklabels()] == [c.replace("_", "\n") for c in tor.index]
    assert [list(c.lines[0].get_ydata()) for c in tor_ax.containers] == [tor.tolist()]
    assert [t.get_text() for t in lat_ax.get_legend().get_texts()] == ["latency (TOR 1)", "stop latency"]
    assert [list(c.lines[0].get_ydata()) for c in lat_ax.containers] == [[800, 600], [200, 300, 500]]


def test_a_trace_that_does_not_match_its_scenario_is_refused(tmp_path):
    wrong = [dict(t) for t in SCENARIO]
    wrong[1] = {"clip": "corpus:e4"}
    with pytest.raises(DuplexScoreError, match="turn 1 played"):
        run_items(_write_run(tmp_path / "a", wrong), META.__getitem__)
    with pytest.raises(DuplexScoreError, match="7 scenario clips played, the scenario has 6"):
        run_items(_write_run(tmp_path / "b", SCENARIO[:6]), META.__getitem__)
    with pytest.raises(DuplexScoreError, match="no finished run"):
        score_runs(tmp_path / "empty", META.__getitem__)


def test_a_reply_that_ends_during_the_background_speech_is_not_a_yield(tmp_path):
    ev = [e for e in _trace() if not (isinstance(e, PlaybackStopped) and e.turn == 7)]
    ev.append(PlaybackStopped(53000.0, 7, 0, False))            # the reply was over, not cut
    items, _ = run_items(_write_run(tmp_path / "run", trace=Trace(sorted(ev, key=lambda e: e.t_ms))),
                         META.__getitem__, "r0")
    bg = items[4]
    assert bg.agent == ((1900, 3000),) and bg.cuts == ()
    rows, _ = score_runs(tmp_path / "run", META.__getitem__, n_boot=10)
    r = rows.set_index("category").loc["background_speech"]
    assert (r["tor"], r["yielded"], r["ended_in_event"], r["stop_latency_ms"]) == (False, False, True, 500)
    assert items[2].cuts == (2800.0,)                              # the interrupted reply's cut, item clock
