"""Injected faults (the ``faults:`` config) on scripted stages in virtual time: which requests
fail, and how the agent degrades (STT: the turn is dropped and the next one is answered; LLM:
an apology is said; TTS: the reply goes on as text and TTS is restarted), with the
``failed`` / ``degraded`` / ``recovery_ms`` columns."""

import dataclasses

import numpy as np
import pytest

from voicelab.clock import run_virtual
from voicelab.config import ConfigError, ExperimentConfig, StageFault, parse_config
from voicelab.events import FaultInjected, TTSFailed, TTSRestarted, TurnFailed
from voicelab.faults import FaultPlan, with_faults
from voicelab.measure.metrics import turns_table
from voicelab.session import TurnSpec, VoiceAgent
from voicelab.session.response import APOLOGY
from voicelab.tts.scripted import ScriptedTTS
from voicelab.tts.supervised import SupervisedTTS

from scripted_stages import REPLY_TOKENS, scripted_stages, speech_clip


def _run(faults: dict, turns: int = 3, tts=None):
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0, "trigger": {"policy": "words", "words": 2},
        "vad": {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False}, "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10},
        "faults": faults})
    stages = scripted_stages()
    if tts is not None:
        stages = dataclasses.replace(stages, tts=tts)
    shared = stages
    stages = with_faults(stages, cfg.faults)
    clip = speech_clip()
    specs = [TurnSpec(clip, cfg.resolved_variants()[0], False, (320.0, 1320.0)) for _ in range(turns)]
    result = run_virtual(VoiceAgent(cfg, stages).run(specs))
    return result, turns_table(result.trace, 200.0), shared, stages


def test_plan_is_reproducible_and_stages_draw_apart():
    spec = StageFault(kind="raise", probability=0.3)
    a, b = FaultPlan("tts", spec, seed=7), FaultPlan("tts", spec, seed=7)
    assert [a.fails(k) for k in range(200)] == [b.fails(k) for k in range(200)]
    rate = np.mean([a.fails(k) for k in range(2000)])
    assert 0.25 < rate < 0.35
    assert [a.fails(k) for k in range(200)] != [FaultPlan("stt", spec, seed=7).fails(k) for k in range(200)]
    at = FaultPlan("llm", StageFault(kind="empty", at=[1, 3]), seed=0)
    assert [at.next() for _ in range(5)] == [(0, False), (1, True), (2, False), (3, True), (4, False)]
    assert at.injected == [1, 3]


def test_config_refuses_a_fault_that_never_fires():
    with pytest.raises(ConfigError, match="give `at`"):
        parse_config({"faults": {"tts": {"kind": "raise"}}})
    with pytest.raises(ConfigError, match="faults.llm.kind"):
        parse_config({"faults": {"llm": {"kind": "explode", "at": [0]}}})


def test_stt_failure_drops_the_turn_and_the_agent_keeps_listening():
    result, table, shared, _ = _run({"stt": {"kind": "raise", "at": [1]}})
    (inj,) = result.trace.of(FaultInjected)
    (failed,) = result.trace.of(TurnFailed)
    assert (inj.stage, inj.request, inj.kind) == ("stt", 1, "raise") and (failed.turn, failed.stage) == (1, "stt")
    assert table["failed"].tolist() == [False, True, False] and not table["degraded"].any()
    assert table["response_text"].tolist() == ["Hello there, how are you?", "", "Hello there, how are you?"]
    assert np.isnan(table["voice_to_voice_latency_ms"][1]) and table["voice_to_voice_latency_ms"][2] > 0
    assert table["recovery_ms"][1] == pytest.approx(0.0)       # the turn ended when the failure came
    assert type(shared.stt).__name__ == "ScriptedSTT" and shared.fault_plans == {}   # shared stages untouched


def test_llm_failure_is_answered_with_an_apology():
    result, table, _, stages = _run({"llm": {"kind": "raise", "at": [0]}}, turns=2)
    assert table["failed"].tolist() == [True, False]
    assert table["response_text"][0] == APOLOGY.strip() and table["voice_to_voice_latency_ms"][0] > 0  # said
    spoken = " ".join(stages.tts.requests[:2])
    assert spoken.startswith("Sorry, I")
    assert table["response_text"][1] == "".join(REPLY_TOKENS)


def test_tts_hang_times_out_goes_text_only_and_restarts():
    made = []

    def factory():
        made.append(ScriptedTTS(base_ms=230, audio_ms_per_char=10))
        return made[-1]
    tts = SupervisedTTS(factory, timeout_s=2.0, attempts=5, backoff_s=0.25)
    result, table, _, stages = _run({"tts": {"kind": "hang", "at": [1], "hang_ms": 60000}}, turns=2, tts=tts)
    (failed,) = result.trace.of(TTSFailed)
    (restarted,) = result.trace.of(TTSRestarted)
    assert (failed.turn, failed.request, restarted.ok) == (0, 1, True)
    assert "no audio within 2 s" in failed.error
    assert table["degraded"].tolist() == [True, False] and not table["failed"].any()
    assert table["recovery_ms"][0] == pytest.approx(restarted.t_ms - failed.t_ms) and table["recovery_ms"][0] >= 250
    assert table["response_text"][0] == "".join(REPLY_TOKENS)      # the whole reply, as text
    assert len(made) == 2 and stages.tts.inner.inner is made[1]   # restarted around a new engine
    assert tts.inner is made[0]                               # the shared supervisor kept its own
    assert table["voice_to_voice_latency_ms"][1] > 0          # the next reply speaks again


def test_fault_table_counts_what_users_heard():
    import pandas as pd

    from voicelab.measure.faults import fault_table, has_faults

    nan = float("nan")
    turns = pd.DataFrame({
        "point": ["a", "a", "a", "a", "b", "b"], "warmup": [True, False, False, False, False, False],
        "failed": [True, True, False, False, False, False], "degraded": [False, False, True, False, False, False],
        "first_audio_played_ms": [nan, nan, 900.0, 800.0, 700.0, 750.0],
        "recovery_ms": [5.0, 10.0, 400.0, nan, nan, nan]})
    table = fault_table(turns)
    assert table.loc["a"].tolist() == [3, 1, 1, 1, 205.0, 400.0]      # the warm-up turn left out
    assert table.loc["b", "failed"] == 0 and np.isnan(table.loc["b", "recovery_p50_ms"])
    assert has_faults(turns) and not has_faults(turns[turns["point"] == "b"])


def test_faults_experiment_expands_to_each_kind_at_two_rates():
    from voicelab.config import load_config
    from voicelab.lab.sweep import expand_grid

    points = expand_grid(load_config("experiments/faults.yaml"))
    kinds = {(p.config.faults.stt or p.config.faults.llm or p.config.faults.tts).kind
             for p in points if p.config.faults.any()}
    rates = sorted({f.probability for p in points for f in (p.config.faults.stt, p.config.faults.llm,
                                                             p.config.faults.tts) if f is not None})
    assert len(points) == 13 and not points[0].config.faults.any()
    assert kinds == {"raise", "empty", "slow", "hang"} and rates == [0.1, 0.3]
