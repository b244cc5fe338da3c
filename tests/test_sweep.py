"""Sweep grid expansion, fair run order, and crash-safe resume (with a fake run)."""

import json

import pandas as pd
import pytest

from voicelab.config import ConfigError, parse_config
from voicelab.lab.sweep import expand_grid, is_finished, run_dir, run_order, run_sweep


def _config(grid, **extra):
    return parse_config({"name": "t", "clips": ["cmu_arctic_a0007"], "sweep": {"grid": grid, "repetitions": 2},
                         **extra})


def test_grid_expansion_is_the_cartesian_product_in_grid_order():
    points = expand_grid(_config({"trigger.words": [1, 2, 3], "vad.kind": ["silero", "energy"]}))
    assert [p.label for p in points][:3] == ["trigger.words=1, vad.kind=silero",
                                            "trigger.words=1, vad.kind=energy",
                                            "trigger.words=2, vad.kind=silero"]
    assert len(points) == 6 and len({p.point_id for p in points}) == 6
    assert points[3].config.trigger.words == 2 and points[3].config.vad.kind == "energy"
    assert points[0].config.sweep is None


def test_whole_sections_can_be_swept():
    points = expand_grid(_config({"trigger": [{"policy": "words", "words": 4}, {"policy": "whole"},
                                              {"policy": "debounce", "debounce_ms": 100}]}))
    assert [p.label for p in points] == ["trigger=words-4", "trigger=whole", "trigger=debounce-100ms"]
    assert points[2].config.trigger.debounce_ms == 100


def test_presets_are_one_axis_crossed_with_the_grid():
    cfg = parse_config({"name": "t", "clips": ["cmu_arctic_a0007"], "stt": {"window": "full"}, "sweep": {
        "presets": {"today": {}, "+ fit": {"stt.window": "fit"},
                    "all": {"stt.window": "fit", "vad": {"min_silence_ms": 300}}},
        "grid": {"trigger.words": [1, 2]}}})
    points = expand_grid(cfg)
    assert [p.label for p in points] == [
        "preset=today, trigger.words=1", "preset=today, trigger.words=2", "preset=+ fit, trigger.words=1",
        "preset=+ fit, trigger.words=2", "preset=all, trigger.words=1", "preset=all, trigger.words=2"]
    assert [(p.config.stt.window, p.config.vad.min_silence_ms) for p in points[::2]] == [
        ("full", 500.0), ("fit", 500.0), ("fit", 300.0)]
    assert points[5].overrides == {"preset": "all", "trigger.words": 2}
    assert cfg.sweep.axes() == {"preset": ["today", "+ fit", "all"], "trigger.words": [1, 2]}
    with pytest.raises(ConfigError, match=r"stt.windw"):
        expand_grid(parse_config({"clips": ["cmu_arctic_a0007"],
                                  "sweep": {"presets": {"bad": {"stt.windw": "fit"}}}}))


@pytest.mark.parametrize("grid, match", [
    ({"trigger.wrds": [1]}, r"sweep.grid.trigger.wrds: trigger has no field 'wrds'"),
    ({"tts.voice.name": ["x"]}, r"sweep.grid.tts.voice.name"),
    ({"trigger.words": [2, 0]}, r"trigger.words: Input should be greater than or equal to 1"),
    ({"vad.kind": ["rnnoise"]}, r"vad.kind"),
])
def test_bad_grids_fail_clearly(grid, match):
    with pytest.raises(ConfigError, match=match):
        expand_grid(_config(grid))


def test_sweep_config_validation():
    with pytest.raises(ConfigError, match=r"sweep.repetitions"):
        parse_config({"sweep": {"grid": {"trigger.words": [1]}, "repetitions": 0}})
    with pytest.raises(ConfigError, match=r"needs a `grid` or `presets`"):
        parse_config({"sweep": {"grid": {}}})
    with pytest.raises(ConfigError, match=r"grid.preset"):
        parse_config({"sweep": {"grid": {"preset": ["a"]}, "presets": {"a": {}}}})
    with pytest.raises(ConfigError, match="variants"):
        expand_grid(_config({"trigger.words": [1]}, variants=[{"name": "a", "trigger": {"policy": "whole"}}]))


def test_run_order_interleaves_and_rotates():
    points = expand_grid(_config({"trigger.words": [1, 2, 3]}))
    order = [(p.label[-1], rep) for p, rep in run_order(points, 3)]
    assert order == [("1", 0), ("2", 0), ("3", 0), ("2", 1), ("3", 1), ("1", 1), ("3", 2), ("1", 2), ("2", 2)]


class Crash(RuntimeError):
    pass


class FakeRun:
    """Writes a run's files like run_experiment; crashes at call number ``crash_at``."""

    def __init__(self, crash_at=None):
        self.calls, self.crash_at = [], crash_at

    def __call__(self, config, out_dir, stages, log, report, keep_audio):
        self.calls.append(config.trigger.words)
        out_dir.mkdir(parents=True)
        pd.DataFrame([{"turn": 0, "clip": "c", "variant": "v", "warmup": False,
                       "voice_to_voice_latency_ms": 100.0 * config.trigger.words,
                       "transcript": "t", "response_text": "r"}]).to_csv(out_dir / "turns.csv", index=False)
        (out_dir / "events.jsonl").write_text("")
        if len(self.calls) == self.crash_at:
            raise Crash("killed mid-run")
        (out_dir / "summary.json").write_text(json.dumps({"created": "now"}))
        return type("R", (), {"summary": {"created": "now"}})()


def test_resume_after_a_crash_loses_and_duplicates_nothing(tmp_path):
    cfg = _config({"trigger.words": [1, 2, 3]})
    loads = []
    load = lambda config, log: loads.append(1) or "stages"  # noqa: E731
    first = FakeRun(crash_at=4)
    with pytest.raises(Crash):
        run_sweep(cfg, tmp_path, log=lambda m: None, run_one=first, load=load)
    points = expand_grid(cfg)
    finished = [(p.label, r) for p, r in run_order(points, 2) if is_finished(run_dir(tmp_path, p, r))]
    assert len(finished) == 3                      # the 3 runs done before the crash are kept
    assert list((tmp_path / "runs").glob(".tmp-*"))  # the crashed run left only a temp dir

    second = FakeRun()
    table = run_sweep(cfg, tmp_path, log=lambda m: None, run_one=second, load=load)
    assert len(second.calls) == 3                  # only the missing runs
    assert not list((tmp_path / "runs").glob(".tmp-*"))
    assert len(table) == 6
    assert sorted(zip(table["trigger.words"], table["repetition"])) == [(w, r) for w in (1, 2, 3) for r in (0, 1)]
    assert (table["voice_to_voice_latency_ms"] == 100.0 * table["trigger.words"]).all()
    assert pd.read_parquet(tmp_path / "results.parquet").shape == table.shape

    third = FakeRun()
    again = run_sweep(cfg, tmp_path, log=lambda m: None, run_one=third, load=load)
    assert third.calls == [] and again.equals(table)   # finished: nothing runs again
    meta = json.loads((tmp_path / "sweep.json").read_text())
    assert [p["label"] for p in meta["points"]] == [p.label for p in points]


def test_each_run_gets_models_loaded_for_its_turn_detector(tmp_path):
    cfg = _config({"trigger.words": [1, 2], "vad.turn_detector": ["none", "smart-turn"]})
    load = lambda config, log: f"stages-{config.vad.turn_detector}"  # noqa: E731
    seen = []
    run = FakeRun()

    def run_one(config, out_dir, stages, log, report, keep_audio):
        seen.append((config.vad.turn_detector, stages))
        return run(config, out_dir, stages, log, report, keep_audio)

    run_sweep(cfg, tmp_path, log=lambda m: None, run_one=run_one, load=load)
    # a point with a turn detector never reuses models loaded without one (Smart Turn)
    assert len(seen) == 8 and all(stages == f"stages-{td}" for td, stages in seen)
