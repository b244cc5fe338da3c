"""End to end with the real default models (Whisper tiny.en, SmolLM2-135M, Kokoro int8)
on real recorded speech. Needs the model assets (``make setup``)."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from voicelab.config import ExperimentConfig
from voicelab.events import Trace
from voicelab.lab.runner import run_experiment
from voicelab.measure.metrics import LATENCY_COLUMNS, wer
from voicelab.measure.quality import played_reply
from voicelab.stages import load_stages

pytestmark = pytest.mark.integration

CLIP = "librivox_sense_and_sensibility_0870"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = ExperimentConfig.model_validate({
        "name": "integration", "clips": [CLIP], "warmup_turns": 0,
        "variants": [{"name": "words-2", "trigger": {"policy": "words", "words": 2}},
                     {"name": "baseline-whole", "trigger": {"policy": "whole"}}],
    })
    out = tmp_path_factory.mktemp("run")
    stages = load_stages(cfg, log=lambda m: None)
    result = run_experiment(cfg, out, stages=stages, log=lambda m: None)
    return result, stages[0]


def test_outputs_follow_the_cli_contract(run):
    result, _ = run
    out = result.out_dir
    turns = pd.read_csv(out / "turns.csv")
    assert {"clip", "turn", "transcript", "response_text", *LATENCY_COLUMNS} <= set(turns.columns)
    assert list(turns.variant) == ["words-2", "baseline-whole"]
    assert len(Trace.load_jsonl(out / "events.jsonl")) > 50
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["words-2"]["voice_to_voice_latency_ms"]["n"] == 1
    assert summary["peak_rss_mib"] > 0 and summary["threads"]["llm_torch_threads"] == 1
    assert "<img" in (out / "report.html").read_text()
    assert not turns[LATENCY_COLUMNS].isna().any().any()


def test_transcript_matches_the_reference(run):
    result, _ = run
    for _, row in result.turns.iterrows():
        assert wer(row.reference_text, row.transcript) <= 0.15, row.transcript


def test_agent_audio_says_the_response(run):
    result, stages = run
    audio, rate = sf.read(result.out_dir / "agent.wav", dtype="float32")
    assert rate == 24000
    assert np.sqrt(np.mean(audio**2)) > 1e-3
    for turn in range(len(result.turns)):
        heard = stages.stt.transcribe_sync(played_reply(result.session, result.turns, turn))
        said = result.turns.iloc[turn].response_text
        assert wer(said, heard) <= 0.35, (said, heard)
    # the run's own round-trip column is the same measurement
    assert (result.turns.tts_roundtrip_wer <= 0.35).all()


def test_audio_onset_agrees_with_voice_to_voice(run):
    result, _ = run
    # onset = first non-zero 16-bit sample after the user's speech ended (the speaker
    # writes exact zeros wherever it played nothing)
    audio, rate = sf.read(result.out_dir / "agent.wav", dtype="int16")
    frame_ms = result.summary["config"]["audio"]["speaker_frame_ms"]
    for _, row in result.turns.iterrows():
        after = int(row.speech_end_ms * rate / 1000)
        onset = after + int(np.flatnonzero(audio[after:])[0])
        onset_ms = onset * 1000 / rate
        assert abs((onset_ms - row.speech_end_ms) - row.voice_to_voice_latency_ms) <= frame_ms


def test_scripted_barge_in_with_real_models(tmp_path, run):
    import threading

    from voicelab.events import BargeInDetected, PlaybackStopped, ResponseCancelled

    _, stages = run
    cfg = ExperimentConfig.model_validate({
        "name": "barge", "clips": [CLIP], "warmup_turns": 0,
        "trigger": {"policy": "words", "words": 2},
        "barge_in": {"enabled": True},
        "scenario": [{"clip": CLIP},
                     {"clip": "cmu_arctic_a0007", "start": "after_agent_starts",
                      "offset_ms": 800}],
    })
    result = run_experiment(cfg, tmp_path, stages=(stages, []), log=lambda m: None, report=False)
    trace, turns = result.session.trace, result.turns
    assert trace.of(BargeInDetected, 0), "the barge-in was not detected"
    assert any(s.interrupted for s in trace.of(PlaybackStopped, 0))
    (cancel,) = trace.of(ResponseCancelled, 0)
    assert cancel.generated_text.split()[: len(cancel.played_text.split())] == cancel.played_text.split()
    row = turns.iloc[1]
    frame_ms = result.summary["config"]["audio"]["speaker_frame_ms"]
    assert bool(row.barge_in) and row.interruption_latency_ms > 0 and 0 <= row.cancel_ms < frame_ms
    assert wer(row.reference_text, row.transcript) <= 0.15       # the interrupting words were heard
    assert row.response_text                                      # and answered
    assert not [t for t in threading.enumerate() if t.name == "llm-generate" and t.is_alive()]


def test_barge_in_through_a_room_with_echo_cancellation(tmp_path, run):
    """The agent plays into the default room (RT60 0.35 s, echo -20 dB, noise at 20 dB SNR);
    Speex AEC (1 s calibration) cleans the microphone; pause_confirm after one 32 ms frame.
    A reply nobody interrupts plays to its end (its own echo pauses it at most, and it
    resumes); a real barge-in over the next reply stops it, and the AEC removes echo."""
    from voicelab.events import AECCalibration, BargeInDetected, EchoPathConfigured, PlaybackStopped

    _, stages = run
    cfg = ExperimentConfig.model_validate({
        "name": "aec", "clips": [CLIP], "warmup_turns": 0, "trigger": {"policy": "words", "words": 2},
        "llm": {"history": False},
        "barge_in": {"enabled": True, "mode": "pause_confirm", "min_barge_in_ms": 32},
        "echo": {"gain_db": -20, "delay_ms": 20, "room": {"rt60_s": 0.35}, "noise_snr_db": 20},
        "aec": {"kind": "speex"},
        "scenario": [{"clip": CLIP}, {"clip": CLIP},
                     {"clip": "cmu_arctic_a0007", "start": "after_agent_starts", "offset_ms": 1500}],
    })
    result = run_experiment(cfg, tmp_path, stages=(stages, []), log=lambda m: None, report=False)
    trace, turns = result.session.trace, result.turns
    (path,) = trace.of(EchoPathConfigured)
    assert path.kind == "room" and path.rt60_ms == pytest.approx(350.0, rel=0.15) and path.noise_rms > 0
    assert trace.of(AECCalibration)
    assert result.summary["aec"]["erle_db"] > 10.0
    heard, rate = sf.read(tmp_path / "input_aec.wav", dtype="float32")
    assert rate == 16_000 and len(heard) == len(result.session.input_audio)
    stop0 = trace.of(PlaybackStopped, 0)
    assert stop0 and not stop0[-1].interrupted and not turns.iloc[0].false_interruption  # played to its end
    assert trace.of(BargeInDetected, 1) and trace.of(PlaybackStopped, 1)[-1].interrupted
    row = turns.iloc[2]
    assert bool(row.barge_in) and not row.missed_interruption and 0 < row.interruption_latency_ms < 1000
