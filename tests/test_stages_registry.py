"""voicelab.stages: one registry per stage kind, and loading the stages a config names.

No model is loaded: fake engines (the scripted stages) are registered under test names.
"""

from __future__ import annotations

from typing import get_args

import pytest

from voicelab.config import ExperimentConfig, LLMConfig, STTConfig, TriggerConfig, TTSConfig, VADConfig
from voicelab.llm.scripted import ScriptedLLM
from voicelab.session import Stages
from voicelab.stages import (
    LLM_ENGINES,
    STT_ENGINES,
    TRIGGER_POLICIES,
    TTS_ENGINES,
    TURN_DETECTORS,
    VAD_KINDS,
    Registry,
    UnknownName,
    endpointer_factory,
    load_stages,
    make_config_vad,
    make_turn_detector,
    with_config_endpointer,
)
from voicelab.stt.scripted import ScriptedSTT
from voicelab.trigger import TRIGGERS, WordCountTrigger, make_trigger
from voicelab.tts import ENGINES, make_tts
from voicelab.tts.scripted import ScriptedTTS
from voicelab.tts.supervised import SupervisedTTS
from voicelab.vad import VADS, EnergyVAD, make_vad
from voicelab.vad.oracle import OracleVAD


class FakeSTT(ScriptedSTT):
    """A scripted STT with what :func:`load_stages` reads of a loaded model."""

    model_path = "/models/fake-stt"

    def __init__(self, config: STTConfig) -> None:
        super().__init__("hello", delay_ms=0)
        self.config, self.warmed = config, 0

    def warmup(self) -> None:
        self.warmed += 1


class FakeLLM(ScriptedLLM):
    model_path = "/models/fake-llm"

    def __init__(self, config: LLMConfig) -> None:
        super().__init__(["Hi", "."], ttft_ms=0, token_ms=0)
        self.config, self.warmed = config, 0

    def warmup(self) -> None:
        self.warmed += 1


class FakeTTS(ScriptedTTS):
    model_path = "/models/fake-tts"

    def __init__(self, config: TTSConfig) -> None:
        super().__init__(base_ms=0)
        self.config, self.warmed = config, 0

    def warmup(self) -> None:
        self.warmed += 1


class FakeTurnDetector:
    model_path = "/models/fake-turn"

    def __init__(self, vad: VADConfig) -> None:
        self.warmed = 0

    def warmup(self) -> None:
        self.warmed += 1

    async def judge(self, audio) -> float:
        return 1.0


@pytest.fixture
def fake_engines():
    """Fake STT, LLM, TTS and turn detector engines registered under test names, removed after."""
    added = [(STT_ENGINES, "test-fake-stt", FakeSTT), (LLM_ENGINES, "test-fake-llm", FakeLLM),
             (TTS_ENGINES, "test-fake-tts", FakeTTS), (TURN_DETECTORS, "test-fake-turn", FakeTurnDetector)]
    for registry, name, factory in added:
        registry.register(name, factory)
    yield
    for registry, name, factory in added:
        assert registry.unregister(name) is factory


def fake_config(**vad) -> ExperimentConfig:
    """A config picking the fake engines: ``stt.engine`` / ``llm.engine`` are free names (validated
    configs), ``tts.engine`` is a Literal of the engines shipped (so model_copy, unvalidated)."""
    base = ExperimentConfig()
    tts = base.tts.model_copy(update={"engine": "test-fake-tts", "model": "fake-voice"})
    return base.model_copy(update={"stt": STTConfig(engine="test-fake-stt"),
                                   "llm": LLMConfig(engine="test-fake-llm"), "tts": tts,
                                   "vad": base.vad.model_copy(update=vad)})


def test_registry_registers_looks_up_and_removes() -> None:
    reg: Registry = Registry("widget")
    assert len(reg) == 0 and reg.names() == []

    @reg.register("a")
    def make_a() -> str:
        return "A"

    assert make_a() == "A"  # the decorator returns the function itself
    assert reg.register("b", str.upper) is str.upper
    assert reg.get("a") is make_a and "b" in reg and "c" not in reg
    assert reg.names() == list(reg) == ["a", "b"]
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        reg.register("a", str.lower)
    assert reg.get("a") is make_a  # a refused registration changes nothing
    reg.register("a", str.lower, replace=True)
    assert reg.get("a") is str.lower
    with pytest.raises(ValueError, match="non-empty name"):
        reg.register("", str.lower)
    assert reg.unregister("b") is str.upper
    assert reg.names() == ["a"]


def test_unknown_name_is_a_value_and_key_error_listing_the_known_names() -> None:
    reg = Registry("widget", {"a": str, "b": int})
    with pytest.raises(UnknownName) as err:
        reg.get("zz")
    assert isinstance(err.value, ValueError) and isinstance(err.value, KeyError)
    assert str(err.value) == "unknown widget 'zz'; known: a, b"
    with pytest.raises(KeyError, match="known: a, b"):
        reg.unregister("zz")
    with pytest.raises(UnknownName, match=r"known: \(none\)"):
        Registry("widget").get("a")


def test_registries_hold_the_names_the_config_accepts() -> None:
    """Every name a config can pick has a factory, and every built-in factory can be picked."""
    assert sorted(TTS_ENGINES) == sorted(get_args(TTSConfig.model_fields["engine"].annotation))
    assert sorted(VAD_KINDS) == sorted(get_args(VADConfig.model_fields["kind"].annotation))
    assert sorted(TRIGGER_POLICIES) == sorted(get_args(TriggerConfig.model_fields["policy"].annotation))
    assert sorted([*TURN_DETECTORS, "none"]) == sorted(get_args(VADConfig.model_fields["turn_detector"].annotation))
    assert STT_ENGINES.names() == ["whisper"] and LLM_ENGINES.names() == ["transformers"]


def test_vad_trigger_and_tts_registries_wrap_their_packages_tables() -> None:
    """What is registered in the room is what the lower layers' own make_* functions find."""
    VAD_KINDS.register("test-oracle", OracleVAD)
    TRIGGER_POLICIES.register("test-words", WordCountTrigger)
    TTS_ENGINES.register("test-fake-tts", FakeTTS)
    try:
        assert VADS["test-oracle"] is OracleVAD and isinstance(make_vad("test-oracle"), OracleVAD)
        assert TRIGGERS["test-words"] is WordCountTrigger
        assert isinstance(make_trigger("test-words", words=1), WordCountTrigger)
        assert ENGINES["test-fake-tts"] is FakeTTS
        assert isinstance(make_tts(TTSConfig().model_copy(update={"engine": "test-fake-tts"})), FakeTTS)
    finally:
        VAD_KINDS.unregister("test-oracle")
        TRIGGER_POLICIES.unregister("test-words")
        TTS_ENGINES.unregister("test-fake-tts")
    assert "test-oracle" not in VADS and "test-words" not in TRIGGERS and "test-fake-tts" not in ENGINES
    with pytest.raises(ValueError, match="unknown TTS engine 'test-fake-tts'; choose one of: kokoro, piper"):
        make_tts(TTSConfig().model_copy(update={"engine": "test-fake-tts"}))


def test_load_stages_picks_registered_engines_from_the_config(fake_engines) -> None:
    config = fake_config(turn_detector="test-fake-turn", kind="energy", energy_threshold=0.02)
    lines: list[str] = []
    stages, loaded = load_stages(config, log=lines.append)

    assert isinstance(stages.stt, FakeSTT) and stages.stt.config is config.stt and stages.stt.warmed == 1
    assert isinstance(stages.llm, FakeLLM) and stages.llm.config is config.llm and stages.llm.warmed == 1
    assert isinstance(stages.tts, SupervisedTTS) and isinstance(stages.tts.inner, FakeTTS)
    assert stages.tts.inner.config is config.tts and stages.tts.inner.warmed == 1
    assert isinstance(stages.turn_detector, FakeTurnDetector) and stages.turn_detector.warmed == 1
    assert [(e.stage, e.model) for e in loaded] == [("stt", "/models/fake-stt"), ("llm", "/models/fake-llm"),
                                                    ("tts", "/models/fake-tts"), ("turn", "/models/fake-turn")]
    assert all(e.load_ms >= 0 and e.warmup_ms >= 0 for e in loaded)
    assert [ln for ln in lines if ln.startswith("loading")] == [
        f"loading stt: {config.stt.model} ...", f"loading llm: {config.llm.model} ...",
        "loading tts: fake-voice ...", "loading turn: test-fake-turn ..."]
    ep = stages.make_endpointer()
    assert isinstance(ep.vad, EnergyVAD) and ep.vad.threshold == 0.02
    assert ep.max_silence_ms == config.vad.max_silence_ms


def test_load_stages_without_a_turn_detector_and_with_an_unknown_engine(fake_engines) -> None:
    stages, loaded = load_stages(fake_config(turn_detector="none"), log=lambda m: None)
    assert stages.turn_detector is None and [e.stage for e in loaded] == ["stt", "llm", "tts"]
    assert make_turn_detector(VADConfig(turn_detector="none")) is None

    config = fake_config(turn_detector="none")
    config = config.model_copy(update={"llm": LLMConfig(engine="no-such-llm")})
    with pytest.raises(UnknownName, match="unknown LLM engine 'no-such-llm'; known: transformers, test-fake-llm"):
        load_stages(config, log=lambda m: None)


def test_endpointer_follows_the_vad_and_speculate_settings() -> None:
    vad = VADConfig(kind="energy", energy_threshold=0.01, threshold=0.6, min_silence_ms=300.0,
                    max_silence_ms=900.0)
    config = ExperimentConfig().model_copy(update={"vad": vad})
    ep = endpointer_factory(vad, config.speculate.model_copy(update={"enabled": True}))()
    assert isinstance(ep.vad, EnergyVAD) and ep.vad.threshold == 0.01
    assert (ep.threshold, ep.min_silence_ms, ep.max_silence_ms) == (0.6, 300.0, 900.0)
    assert ep.speculate_ms == config.speculate.after_silence_ms
    assert endpointer_factory(VADConfig(kind="energy", turn_detector="none"))().max_silence_ms is None
    assert endpointer_factory(vad)().speculate_ms is None
    assert endpointer_factory(vad)() is not endpointer_factory(vad)()  # a fresh one per session

    stages = Stages(lambda: None, FakeSTT(STTConfig()), FakeLLM(LLMConfig()), FakeTTS(TTSConfig()))
    swapped = with_config_endpointer(stages, config)
    assert (swapped.stt, swapped.llm, swapped.tts) == (stages.stt, stages.llm, stages.tts)
    assert isinstance(swapped.make_endpointer().vad, EnergyVAD) and stages.make_endpointer() is None


def test_a_vad_registered_once_is_built_from_the_config() -> None:
    VAD_KINDS.register("test-oracle", OracleVAD)
    try:
        vad = VADConfig().model_copy(update={"kind": "test-oracle"})
        assert isinstance(make_config_vad(vad), OracleVAD)  # no settings of its own in `vad:`
        assert isinstance(endpointer_factory(vad)().vad, OracleVAD)
    finally:
        VAD_KINDS.unregister("test-oracle")
    with pytest.raises(UnknownName, match="unknown VAD kind 'test-oracle'; known: silero, energy, webrtc"):
        make_config_vad(vad)
