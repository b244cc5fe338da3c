"""End to end with the real default models on corpus items: a smooth turn-taking item and a user
interruption item (three clips) run through a real session, then scored. Needs the model assets
and the built corpus (``make assets``); about a minute on 2 cores."""

from __future__ import annotations

import pytest

from voicelab.config import ExperimentConfig
from voicelab.lab import duplex_clips as dc
from voicelab.lab.duplex_scenarios import generate_items
from voicelab.lab.duplex_score import run_items
from voicelab.lab.runner import run_experiment
from voicelab.measure.duplex_bench import item_rows
from voicelab.stages import load_stages

pytestmark = pytest.mark.integration


def _corpus():
    from voicelab.corpus import CorpusError

    try:
        return dc.corpus_items()[0]
    except CorpusError as err:
        pytest.skip(f"needs the built corpus (make assets): {err}")


def test_two_categories_end_to_end(tmp_path):
    by_id = _corpus()
    gen = generate_items(list(by_id.values()), 3, seed=0)

    def speech(item):  # the user's speech in the item, ms (keep the test short)
        return sum(by_id[dc.parse_clip_name(t["clip"]).user].speech_ms[1] for t in item.turns)

    smooth = min((g for g in gen if g.category == "smooth_turn_taking"), key=speech)
    inter = min((g for g in gen if g.category == "user_interruption"), key=speech)
    scenario = [*smooth.turns, *inter.turns]
    cfg = ExperimentConfig.model_validate({"name": "duplex_integration", "warmup_turns": 0,
                                           "llm": {"history": False}, "scenario": scenario})
    result = run_experiment(cfg, tmp_path, stages=load_stages(cfg, log=lambda m: None), log=lambda m: None,
                            report=False)
    items, meta = run_items(tmp_path, run_id="it")
    assert [it.category for it in items] == ["smooth_turn_taking", "user_interruption"]
    ui = items[1]
    assert [u.role for u in ui.user] == ["turn", "interruption"]
    assert len(result.turns) == 3
    rows = item_rows(items).set_index("category")
    st = rows.loc["smooth_turn_taking"]
    assert st["tor"], "the default agent answers a plain user turn"
    assert 0 < st["latency_ms"] < 5000, st["latency_ms"]
    # the interruption starts offset_ms after the reply's first sample (scenario timing, session clock)
    first_play = min(s for s, _ in ui.agent)
    inter_start = ui.user[1].start_ms - by_id[dc.parse_clip_name(inter.turns[1]["clip"]).user].speech_ms[0]
    assert inter_start - first_play == pytest.approx(inter.turns[1]["offset_ms"], abs=40)
    assert meta[1]["offset_ms"] == inter.turns[1]["offset_ms"]
