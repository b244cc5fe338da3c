"""Speculative replies, exactly, on scripted stages in virtual time.

The clip (as in test_turn_detection.py): speech (a 0.1 constant) at 320-1000 ms, a pause,
speech again to 1920 ms, silence to the clip's end. The mic places it at 480 ms (the
32 ms frame boundary at or before the 500 ms lead-in), so with a 400 ms pause speech
runs 800-1480 and 1880-2400 ms on the session clock; the true end is 2400 ms. The oracle
VAD calls a frame speech if it holds any, so the first silent frame starts at 1504 ms.

Stages: STT 100 ms; LLM "Hi", " there", "." (first token 100 ms after the transcript,
then one per 50 ms, the end 50 ms after the last); TTS 230 ms per request, 60 ms of
audio per character; words-2 trigger; endpointing: 500 ms of silence; speculation after
96 ms (3 frames) of silence.

Turn 0, pause 1: 96 ms of silence are reached at 1600 ms -> speculative reply on the
utterance so far, 700 (padded start) .. 1600 ms = 900 ms. Transcript at 1700, tokens
at 1800 and 1850; speech resumes in the frame 1856-1888 -> discarded at 1888 in the
LLM. The token in flight arrives at 1900 and the stream ends at 1950: wound down at
1950 (2 tokens logged, no audio). End of speech at 2400: 96 ms later (2496) a second
speculative reply starts on 700..2496 ms (1796 ms); the endpoint (512 ms of silence,
2912) commits it. Its audio is ready at 2496 + 100 (STT) + 250 (LLM to its end, where
the trigger releases "Hi there.") + 230 (TTS) = 3076 ms and plays at the next 10 ms
output frame, 3080: voice-to-voice 680 ms. Without speculation the same pipeline starts
at 2912: audio at 3492, played at 3500, voice-to-voice 1100 ms (2912 - 2496 = 416 ms
more, and 4 ms more output-frame alignment).
"""

from __future__ import annotations

import numpy as np
import pytest

from voicelab.audio.clips import Clip
from voicelab.clock import run_virtual
from voicelab.config import ConfigError, ExperimentConfig, parse_config
from voicelab.events import (
    LLMFinished,
    LLMStarted,
    PlaybackStarted,
    ResponseCancelled,
    SpeculationCommitted,
    SpeculationDiscarded,
    SpeculationStarted,
    StateChanged,
    STTStarted,
    TTSAudio,
)
from voicelab.measure.metrics import turns_table
from voicelab.session import TurnSpec, VoiceAgent
from voicelab.vad.endpointing import Endpointer
from voicelab.vad.oracle import OracleVAD

from scripted_stages import after_prompt, scripted_stages


def ms(x):
    return pytest.approx(x, abs=1e-6)


def _clip(pause_ms: float) -> Clip:
    n = int((2.24 + (pause_ms - 400) / 1000) * 16000)
    audio = np.zeros(n, np.float32)
    audio[int(0.32 * 16000):int(1.0 * 16000)] = 0.1
    second = 1.0 + pause_ms / 1000
    audio[int(second * 16000):int((second + 0.52) * 16000)] = 0.1
    return Clip.from_array(f"pause{pause_ms:g}", audio, "hello agent")


def _run(speculate: bool, pause_ms: float = 400.0, min_silence_ms: float = 500.0, stt_ms: float = 100.0,
         turns: int = 1):
    clip = _clip(pause_ms)
    cfg = ExperimentConfig.model_validate({
        "clips": [clip.name], "warmup_turns": 0, "trigger": {"policy": "words", "words": 2},
        "vad": {"min_speech_ms": 250, "min_silence_ms": min_silence_ms, "speech_pad_ms": 100, "turn_detector": "none"},
        "speculate": {"enabled": speculate, "after_silence_ms": 96},
        "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10}})
    stages = scripted_stages(stt_ms=stt_ms, tokens=["Hi", " there", "."], tts_ms_per_char=60,
                             min_silence_ms=min_silence_ms, speculate_ms=96 if speculate else None)
    llm = stages.llm
    second = 1000.0 + pause_ms
    specs = [TurnSpec(clip, cfg.resolved_variants()[0], False, (320.0, second + 520.0)) for _ in range(turns)]
    result = run_virtual(VoiceAgent(cfg, stages).run(specs))
    return result, turns_table(result.trace, 200.0), llm


def test_discarded_in_the_llm_then_a_hit_at_the_end():
    result, table, llm = _run(True)
    trace, row = result.trace, table.iloc[0]
    assert [(s.t_ms, s.audio_ms) for s in trace.of(SpeculationStarted)] == [(ms(1600.0), ms(900.0)),
                                                                            (ms(2496.0), ms(1796.0))]
    (d,) = trace.of(SpeculationDiscarded)
    assert (d.t_ms, d.started_ms, d.stage, d.llm_tokens, d.tts_audio_ms) == (ms(1950.0), ms(1600.0), "llm", 2, 0.0)
    (c,) = trace.of(SpeculationCommitted)
    assert (c.t_ms, c.started_ms) == (ms(2912.0), ms(2496.0))
    # the discarded attempt was cancelled like a barge-in: the stream ended before it was logged
    first_llm_end = trace.of(LLMFinished)[0]
    assert first_llm_end.cancelled and first_llm_end.t_ms == ms(1950.0)
    assert trace.of(ResponseCancelled)[0].played_text == ""
    # metrics read the committed reply only
    assert row.speculation == "hit" and row.speculations_discarded == 1
    assert row.speculation_wasted_ms == ms(350.0) and row.speculation_wasted_tokens == 2
    assert row.speculation_wasted_tts_ms == 0.0
    assert row.voice_to_voice_latency_ms == ms(680.0)  # audio at 3076 plays at 3080; true end 2400
    assert row.endpoint_delay_ms == ms(512.0)  # the endpoint still decides the turn
    # overhead: 680 - (96 waited before STT started + 100 STT + 250 LLM to the trigger + 230 TTS)
    assert row.framework_overhead_ms == ms(4.0)
    assert row.cp_endpoint_ms == ms(96.0) and row.cp_stt_ms == ms(100.0)
    assert sum(row[c] for c in table.columns if c.startswith("cp_")) == ms(row.voice_to_voice_latency_ms)
    assert row.response_text == "Hi there." and not row.premature_endpoint


def test_speculation_changes_only_when_the_reply_starts():
    spec, t_spec, llm_spec = _run(True)
    base, t_base, llm_base = _run(False)
    a, b = t_spec.iloc[0], t_base.iloc[0]
    assert b.speculation == "none" and b.voice_to_voice_latency_ms == ms(1100.0)
    assert b.voice_to_voice_latency_ms - a.voice_to_voice_latency_ms == ms(2912.0 - 2496.0 + 4.0)
    # same reply, same audio, only earlier; the discarded attempt played nothing
    starts = lambda r: [(p.t_ms, p.sample_index) for p in r.trace.of(PlaybackStarted)]  # noqa: E731
    assert len(starts(spec)) == len(starts(base)) == 1
    played = lambda r: r.agent_audio[np.flatnonzero(r.agent_audio)[0]:]  # noqa: E731
    np.testing.assert_array_equal(np.trim_zeros(played(spec), "b"), np.trim_zeros(played(base), "b"))
    assert a.response_text == b.response_text and a.transcript == b.transcript


def test_a_discarded_reply_leaves_no_history_and_keeps_the_seed():
    _, _, llm_spec = _run(True, turns=2)
    _, _, llm_base = _run(False, turns=2)
    # speculative: 2 requests for turn 0 (one discarded) and 2 for turn 1 (same pattern)
    assert len(llm_spec.requests) == 4 and len(llm_base.requests) == 2
    assert llm_spec.requests[1] == llm_base.requests[0] and llm_spec.requests[3] == llm_base.requests[1]
    msgs, seed = llm_spec.requests[3]
    assert [m["role"] for m in after_prompt(msgs)] == ["user", "assistant", "user"] and seed == 1
    assert after_prompt(msgs)[1]["content"] == "Hi there."


def test_discarded_while_held_drops_the_audio():
    # a 1000 ms pause, 1200 ms endpointing: the first speculative reply is synthesized and
    # held (audio ready at 1600 + 100 + 250 + 230 = 2180) when speech resumes (frame
    # 2464-2496: discarded at 2496)
    result, table, _ = _run(True, pause_ms=1000.0, min_silence_ms=1200.0)
    trace, row = result.trace, table.iloc[0]
    d = trace.of(SpeculationDiscarded)[0]
    assert (d.t_ms, d.stage, d.llm_tokens, d.tts_audio_ms) == (ms(2496.0), "held", 3, ms(9 * 60.0))
    assert trace.of(TTSAudio)[0].t_ms == ms(2180.0)
    # nothing played before the committed reply; it plays once
    (play,) = trace.of(PlaybackStarted)
    (c,) = trace.of(SpeculationCommitted)
    assert play.t_ms > c.t_ms
    assert not np.any(result.agent_audio[: int(c.t_ms * 24)])
    assert row.speculation == "hit" and row.speculation_wasted_ms == ms(896.0)


def test_discarded_in_stt_and_committed_in_stt():
    # STT takes 450 ms: the first speculative reply is still in STT when speech resumes
    # (1888); the second is still in STT at the endpoint (2912, STT ends at 2946): its
    # reply is not held. Audio at 2496 + 450 + 250 + 230 = 3426, played at 3430.
    result, table, _ = _run(True, stt_ms=450.0)
    d = result.trace.of(SpeculationDiscarded)[0]
    assert (d.t_ms, d.stage, d.llm_tokens) == (ms(1888.0), "stt", 0)
    assert result.trace.of(SpeculationCommitted)[0].t_ms == ms(2912.0)
    assert table.iloc[0].voice_to_voice_latency_ms == ms(1030.0)
    # the live reply's STT starts after the cancelled one: metrics see only the live one
    assert len(result.trace.of(STTStarted)) == 2 and len(result.trace.without_discarded().of(STTStarted)) == 1
    assert len(result.trace.without_discarded().of(LLMStarted)) == 1
    assert table.iloc[0].speculation == "hit"


def test_states_of_a_speculative_turn():
    result, _, _ = _run(True)
    states = [(s.old, s.new) for s in result.trace.of(StateChanged)]
    assert states == [("idle", "listening"), ("listening", "processing"), ("processing", "speaking"),
                      ("speaking", "idle")]
    assert result.trace.of(StateChanged)[1].t_ms == ms(2912.0)  # processing from the commit


def test_endpointer_tentative_end_and_resume():
    ep = Endpointer(OracleVAD(), min_speech_ms=64, min_silence_ms=320, speech_pad_ms=0, speculate_ms=64)
    speech, silence = np.full(512, 0.1, np.float32), np.zeros(512, np.float32)
    seq = [speech] * 3 + [silence] * 2 + [speech] + [silence] * 10
    events = [(i, type(e).__name__) for i, f in enumerate(seq) for e in ep.process(f)]
    # start confirmed after 2 frames; 2 silent frames (64 ms) -> tentative; speech -> resumed;
    # again 2 silent frames -> tentative, then 10 frames (320 ms) -> end
    assert events == [(1, "SpeechStart"), (4, "SpeechTentativeEnd"), (5, "SpeechResumed"),
                      (7, "SpeechTentativeEnd"), (15, "SpeechEnd")]
    assert len(ep.utterance_audio()) == 6 * 512
    with pytest.raises(ValueError, match="speculate_ms"):
        Endpointer(OracleVAD(), min_silence_ms=200, speculate_ms=300)


def test_speculation_config_is_validated():
    with pytest.raises(ConfigError, match="after_silence_ms"):
        parse_config({"vad": {"turn_detector": "none"}, "speculate": {"enabled": True, "after_silence_ms": 500}})
    with pytest.raises(ConfigError, match="speculate.when"):
        parse_config({"speculate": {"when": "always"}})
    ok = parse_config({"vad": {"turn_detector": "smart-turn", "min_silence_ms": 200},
                       "speculate": {"enabled": True, "after_silence_ms": 200}})
    assert ok.speculate.after_silence_ms == 200
    with pytest.raises(ConfigError, match="after_silence_ms"):  # on by default, so checked by default
        parse_config({"speculate": {"after_silence_ms": 900}})
    assert parse_config({"speculate": {"enabled": False, "after_silence_ms": 900}}).speculate.enabled is False


def test_roundtrip_wer_uses_the_reference_transcription():
    """The round-trip WER judges the played audio with the STT's reference setting (for
    Whisper its 30 s window), not the fast setting the agent answers with."""
    from voicelab.measure.quality import roundtrip_wer
    from voicelab.stt.base import STT

    class TwoSettings(STT):
        async def transcribe(self, audio):
            return "hello"  # the agent's (fast) setting

        async def transcribe_reference(self, audio):
            return "hi there"  # the measuring setting

    result, table, _ = _run(True)
    assert table.iloc[0].response_text == "Hi there."
    assert list(roundtrip_wer(result, table, TwoSettings())) == [0.0]
