"""Config validation: unknown keys and bad values fail with the field's dotted path."""

from pathlib import Path

import pytest

from voicelab.config import ConfigError, ExperimentConfig, load_config, parse_config


def test_quickstart_config_is_valid():
    cfg = load_config("experiments/quickstart.yaml")
    assert [v.name for v in cfg.resolved_variants()] == ["words-2", "baseline-whole"]
    assert cfg.resolved_variants()[0].trigger.params() == {"words": 2}
    assert len(cfg.clips) == 6


def test_defaults_match_the_spec():
    cfg = ExperimentConfig()
    assert (cfg.llm.temperature, cfg.llm.top_p, cfg.llm.max_new_tokens) == (0.3, 0.9, 250)
    assert (cfg.trigger.policy, cfg.trigger.words, cfg.trigger.debounce_ms) == ("words", 2, 200.0)
    assert cfg.vad.energy_threshold == 0.003
    assert cfg.tts.voice == "af_heart"
    assert [v.name for v in cfg.resolved_variants()] == ["words-2"]


@pytest.mark.parametrize("data, path", [
    ({"vad": {"kind": "silero", "treshold": 0.5}}, "vad.treshold"),
    ({"trigger": {"words": 0}}, "trigger.words"),
    ({"trigger": {"policy": "paragraph"}}, "trigger.policy"),
    ({"llm": {"top_p": 1.5}}, "llm.top_p"),
    ({"vad": {"kind": "rnnoise"}}, "vad.kind"),
    ({"variants": [{"name": "a", "trigger": {"policy": "words", "wrds": 2}}]}, "variants.0.trigger.wrds"),
    ({"clips": []}, "clips"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_values_name_the_field(data, path):
    with pytest.raises(ConfigError) as err:
        parse_config(data, "test.yaml")
    assert f"  {path}: " in str(err.value)
    assert "test.yaml" in str(err.value)


def test_duplicate_variant_names_rejected():
    v = {"name": "a", "trigger": {"policy": "whole"}}
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"variants": [v, v]})


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("vad: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(top)


def test_outputs_that_cannot_be_written_fail_before_any_model_loads(tmp_path):
    from voicelab.config import ExperimentConfig
    from voicelab.lab.outputs import OutputError, check_output_dir
    from voicelab.lab.runner import run_experiment

    def never(*a, **k):
        raise AssertionError("models must not load")
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a directory")
    with pytest.raises(OutputError, match="a file of that name is in the way"):
        run_experiment(ExperimentConfig(), blocker, stages=None, log=never)
    with pytest.raises(OutputError, match="cannot be created"):
        check_output_dir(Path("/proc/voicelab-out"))
    with pytest.raises(OutputError, match=r"only \d+ MB free on its disk, a run needs at least"):
        check_output_dir(tmp_path / "ok", min_free_mb=1e12)
    check_output_dir(tmp_path / "fine")                # creates it; nothing left behind
    assert (tmp_path / "fine").is_dir() and not list((tmp_path / "fine").iterdir())
