"""Notebook helpers and the browser-microphone buffer, without models."""

import io

import numpy as np
import pytest
import soundfile as sf

from voicelab.audio.browser import MicBuffer
from voicelab.audio.load import AudioError
from voicelab.config import load_config
from voicelab.lab.notebook import (
    latency_table,
    notebook_config,
    quick_config,
    quick_mode,
    repo_root,
    wav_bytes,
    with_overrides,
)

ROOT = repo_root(__file__)


def test_quick_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("VOICELAB_QUICK", "1")
    assert quick_mode()
    monkeypatch.setenv("VOICELAB_QUICK", "0")
    assert not quick_mode()
    monkeypatch.delenv("VOICELAB_QUICK")
    assert not quick_mode()


def test_quick_config_keeps_variants_and_cuts_the_rest():
    full = load_config(ROOT / "experiments" / "quickstart.yaml")
    q = quick_config(full)
    assert q.clips == full.clips[:1] and q.warmup_turns == 0
    assert [v.name for v in q.variants] == [v.name for v in full.variants]
    assert q.vad == full.vad and q.llm == full.llm


def test_quick_config_of_a_scenario_and_a_sweep():
    barge = notebook_config(ROOT / "experiments" / "barge_in.yaml", quick=True)
    assert [t.clip for t in barge.scenario] == ["librivox_sense_and_sensibility_0870",
                                                "librivox_sense_and_sensibility_0880"]
    assert barge.scenario[1].start == "after_agent_starts"
    sweep = notebook_config(ROOT / "experiments" / "trigger_thresholds.yaml", quick=True)
    assert sweep.sweep.repetitions == 1
    assert sweep.sweep.grid["trigger"] == [{"policy": "words", "words": 1}, {"policy": "words", "words": 2}]


def test_with_overrides_updates_sections_and_validates():
    cfg = load_config(ROOT / "experiments" / "quickstart.yaml")
    out = with_overrides(cfg, trigger={"policy": "words", "words": 3}, variants=[])
    assert out.trigger.words == 3 and out.variants == [] and out.vad == cfg.vad
    with pytest.raises(ValueError, match="trigger.words"):
        with_overrides(cfg, trigger={"words": 0})


def test_wav_bytes_round_trip():
    x = (0.5 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    y, rate = sf.read(io.BytesIO(wav_bytes(x, 16_000)), dtype="float32")
    assert rate == 16_000 and np.allclose(x, y, atol=1 / 16000)


def test_latency_table_drops_warmup_and_rounds():
    import pandas as pd

    turns = pd.DataFrame({"turn": [0, 1], "warmup": [True, False], "variant": ["a", "a"],
                          "voice_to_voice_latency_ms": [1234.56, 987.4], "other": [1, 2]})
    t = latency_table(turns)
    assert list(t.columns) == ["turn", "variant", "voice_to_voice_latency_ms"]
    assert t.voice_to_voice_latency_ms.tolist() == [987.0]


def test_mic_buffer_follows_the_widget_messages():
    buf = MicBuffer()
    stops = []
    buf.on_stop.append(lambda b: stops.append(b.duration_s))
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48_000) / 48_000)).astype(np.float32)
    buf.handle_message({"type": "start", "rate": 48_000})
    for k in range(0, len(tone), 4096):  # raw little-endian float32 bytes, as the browser sends
        buf.handle_message({"type": "chunk", "rate": 48_000, "seq": k}, [tone[k:k + 4096].tobytes()])
    buf.handle_message({"type": "stop", "rate": 48_000, "frames": len(tone)})
    assert stops == [1.0] and not buf.recording
    audio = buf.audio()
    assert audio.dtype == np.float32 and len(audio) == 16_000
    assert abs(np.sqrt(np.mean(audio[1000:-1000] ** 2)) - 0.3 / np.sqrt(2)) < 0.01
    assert buf.clip("mic").audio.shape == (16_000,)
    buf.handle_message({"type": "start", "rate": 44_100})  # a new recording starts empty
    with pytest.raises(AudioError, match="nothing recorded"):
        buf.audio()


def test_mic_buffer_rejects_a_rate_change_and_clips_overshoot():
    buf = MicBuffer()
    buf.add(np.full(160, 1.02, np.float32), 16_000)  # browsers may overshoot full scale slightly
    assert buf.audio().max() <= 1.0
    with pytest.raises(AudioError, match="rate changed"):
        buf.add(np.zeros(160, np.float32), 48_000)
