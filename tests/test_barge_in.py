"""Barge-in on scripted fake stages in virtual time: exact interruption metrics,
clean cancellation, history truncated to what was played, false and missed interruptions."""

import numpy as np
import pytest

from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import BargeInDetected, LLMFinished, PlaybackStopped, ResponseCancelled, StateChanged, TTSStarted
from voicelab.measure.metrics import turns_table
from voicelab.session import TurnSpec, VoiceAgent

from scripted_stages import REPLY_TOKENS, scripted_stages, speech_clip


def ms(x):
    return pytest.approx(x, abs=1e-6)


def _run(scenario, tokens=REPLY_TOKENS, token_ms=50.0, barge_in=True, echo_db=None, bounds=(320.0, 1320.0)):
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0, "trigger": {"policy": "words", "words": 2},
        "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10},
        "barge_in": {"enabled": barge_in, "threshold": 0.5, "min_barge_in_ms": 200},
        "echo": {"gain_db": echo_db, "delay_ms": 20},
        "vad": {"turn_detector": "none"}, "speculate": {"enabled": False},
    })
    stages = scripted_stages(tokens=tokens, token_ms=token_ms, tts_ms_per_char=60)
    llm, tts = stages.llm, stages.tts
    variant = cfg.resolved_variants()[0]
    turns = [TurnSpec(speech_clip(), variant, False, bounds, start, offset) for start, offset in scenario]
    agent = VoiceAgent(cfg, stages)
    result = run_virtual(agent.run(turns))
    return result, llm, tts, agent


def test_barge_in_exact_latencies_and_truncated_history():
    # turn 1 starts 300 ms after the agent's first sample (3120 ms)
    result, llm, tts, agent = _run([("after_reply", None), ("after_agent_starts", 300.0), ("after_reply", None)])
    t = result.trace
    rows = turns_table(result.trace, 200.0)
    # reply 0 plays "Hello there," 3120..3840 then "how are you?" from 3840.
    # Turn 1's clip is placed at the next mic frame after 3420 ms: 3392; true onset 3712.
    # Speech frames from 3712; 7 frames (224 ms >= 200) -> detector fires at 3936;
    # playback stops at the next 10 ms speaker frame: 3940.
    assert [d.t_ms for d in t.of(BargeInDetected, 0)] == [ms(3936.0)]
    (stop,) = t.of(PlaybackStopped, 0)
    assert stop.interrupted and stop.t_ms == ms(3940.0) and stop.sample_index == 3940 * 24
    r1 = rows.iloc[1]
    assert bool(r1.barge_in)
    assert r1.barge_in_detect_ms == ms(224.0)
    assert r1.interruption_latency_ms == ms(228.0)
    assert r1.cancel_ms == ms(4.0)
    assert not r1.missed_interruption and not rows.iloc[0].false_interruption
    # request 1 played 100 of its 720 ms: 0 of its 3 words; history keeps "Hello there,"
    (cancel,) = t.of(ResponseCancelled, 0)
    assert cancel.played_text == "Hello there,"
    assert cancel.generated_text == "Hello there, how are you?"
    messages, _ = llm.requests[1]
    assert messages[-2:] == [{"role": "assistant", "content": "Hello there,"},
                             {"role": "user", "content": "hello agent"}]
    # the agent then answers the interrupting utterance, and the scenario goes on
    assert rows.iloc[1].response_text == "Hello there, how are you?"
    assert rows.iloc[1].voice_to_voice_latency_ms > 0 and rows.iloc[2].voice_to_voice_latency_ms > 0
    # nothing of reply 0 was played after the stop
    audio = result.agent_audio
    assert not audio[3940 * 24: int(rows.iloc[1].first_audio_played_ms * 24)].any()
    states = [(e.old, e.new) for e in t.of(StateChanged, 0)]
    assert ("speaking", "interrupted") in states and states[-1] == ("interrupted", "idle")


def test_a_detection_before_a_late_reference_onset_is_early_not_false():
    # same scenario, but the reference puts the onset at 800 ms into the clip (a reference
    # that missed the first word): the detector, hearing speech from 320 ms, fires at 3936,
    # 256 ms before that onset (3392 + 800 = 4192); playback stops at 3940
    result, *_ = _run([("after_reply", None), ("after_agent_starts", 300.0), ("after_reply", None)],
                      bounds=(800.0, 1320.0))
    rows = turns_table(result.trace, 200.0)
    assert [d.t_ms for d in result.trace.of(BargeInDetected, 0)] == [ms(3936.0)]
    r1 = rows.iloc[1]
    assert bool(r1.early_detection) and not rows.iloc[0].false_interruption
    assert r1.barge_in_detect_ms == ms(-256.0)
    assert r1.interruption_latency_ms == ms(-252.0)
    assert r1.cancel_ms == ms(4.0)
    assert not r1.missed_interruption
    # with the true onset (320 ms), the same detection is on time
    result, *_ = _run([("after_reply", None), ("after_agent_starts", 300.0), ("after_reply", None)])
    assert not turns_table(result.trace, 200.0).iloc[1].early_detection


def test_cancellation_mid_generation_stops_llm_and_tts():
    words = [f" w{i}" for i in range(40)]
    result, llm, tts, agent = _run([("after_reply", None), ("after_agent_starts", 300.0)],
                                   tokens=words, token_ms=100.0)
    t = result.trace
    fin = t.of(LLMFinished, 0)[0]
    assert fin.cancelled and fin.tokens < 40
    cut = t.of(BargeInDetected, 0)[0].t_ms
    assert all(r.t_ms <= cut for r in t.of(TTSStarted, 0))          # no synthesis after the cut
    assert agent.responding is None and not agent.speaker._queue   # no response or audio left


def test_echo_without_a_guard_is_a_false_interruption():
    # reply audio leaks into the mic at -20 dB after 20 ms; the oracle VAD hears it
    result, *_ = _run([("after_reply", None)], echo_db=-20.0)
    rows = turns_table(result.trace, 200.0)
    # echo from 3140 ms: frames from [3136, 3168) are "speech"; 7 frames -> fires at 3360
    assert [d.t_ms for d in result.trace.of(BargeInDetected, 0)] == [ms(3360.0)]
    assert bool(rows.iloc[0].false_interruption)  # no user clip was playing at 3360 ms
    assert not rows.iloc[0].early_detection


def test_disabled_barge_in_is_a_missed_interruption():
    result, llm, *_ = _run([("after_reply", None), ("after_agent_starts", 300.0)], barge_in=False)
    rows = turns_table(result.trace, 200.0)
    assert not result.trace.of(BargeInDetected)
    assert bool(rows.iloc[1].missed_interruption)
    # reply 0 plays to its end (4560 ms); the user's utterance ends after that (endpoint at
    # 5248 ms), so it is answered once the agent is quiet
    assert not result.trace.of(PlaybackStopped, 0)[0].interrupted
    assert result.trace.of(PlaybackStopped, 0)[0].t_ms == ms(4560.0)
    assert len(llm.requests) == 2


def test_many_random_barge_ins_no_deadlock_or_leak():
    rng = np.random.default_rng(1)
    scenario = [("after_reply", None)] + [("after_agent_starts", float(rng.uniform(0, 1500)))
                                          for _ in range(12)]
    words = [f" w{i}" for i in range(25)]
    result, llm, tts, agent = _run(scenario, tokens=words, token_ms=40.0)
    rows = turns_table(result.trace, 200.0)
    assert len(rows) == 13
    assert agent.responding is None and not agent.speaker._queue
    # every reply either finished or was cut exactly once
    for n in range(13):
        stops = result.trace.of(PlaybackStopped, n)
        assert len(stops) <= 1


def test_a_barge_in_after_the_reply_ended_is_not_missed():
    # the reply (1440 ms of audio from 3120 ms) has ended before this clip's speech starts
    result, *_ = _run([("after_reply", None), ("after_agent_starts", 2000.0)], barge_in=False)
    row = turns_table(result.trace, 200.0).iloc[1]
    assert result.trace.of(PlaybackStopped, 0)[0].t_ms < row.speech_end_ms - 1000
    assert not row.missed_interruption


def test_rescore_recomputes_metrics_from_the_saved_trace(tmp_path):
    import json

    import pandas as pd

    from voicelab.lab.rescore import rescore_run
    from voicelab.measure.metrics import summarize

    result, *_ = _run([("after_reply", None), ("after_agent_starts", 300.0), ("after_reply", None)],
                      bounds=(800.0, 1320.0))
    result.trace.save_jsonl(tmp_path / "events.jsonl")
    stale = turns_table(result.trace, 200.0).drop(columns=["early_detection"])
    stale["false_interruption"] = True            # as an older definition might have scored it
    stale["barge_in_detect_ms"] = float("nan")
    stale["tts_roundtrip_wer"] = [0.0, 0.25, 0.5]  # not in the trace: must be carried over
    stale.to_csv(tmp_path / "turns.csv", index=False)
    (tmp_path / "summary.json").write_text(json.dumps({"config": {"barge_in": {"min_barge_in_ms": 200}},
                                                       "metrics": {}}))
    turns = rescore_run(tmp_path)
    again = pd.read_csv(tmp_path / "turns.csv")
    assert list(again["early_detection"]) == [False, True, False]
    assert not again["false_interruption"].any()
    assert again.loc[1, "barge_in_detect_ms"] == ms(-256.0)
    assert list(again["tts_roundtrip_wer"]) == [0.0, 0.25, 0.5]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metrics"] == json.loads(json.dumps(summarize(turns)))
