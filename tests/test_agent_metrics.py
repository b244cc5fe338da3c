"""Orchestration and metric maths, exactly, on scripted fake stages in virtual time.

Every expected number below is derived by hand in the comments from the scripted
delays; the session runs on VirtualTimeLoop, so timestamps are exact.
"""

import math

import numpy as np
import pytest

from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import ChunkTriggered, PlaybackStall, PlaybackStarted, SpeechEnded, TTSStarted
from voicelab.llm.scripted import ScriptedLLM
from voicelab.measure.metrics import summarize, turns_table
from voicelab.session import Stages, TurnSpec, VoiceAgent
from voicelab.stt.scripted import ScriptedSTT
from voicelab.tts.scripted import ScriptedTTS
from voicelab.vad.endpointing import Endpointer
from voicelab.vad.oracle import OracleVAD

from scripted_stages import after_prompt, scripted_stages, speech_clip


def ms(x):
    """Virtual time is a float sum of sleeps: equal up to float rounding (1 ns)."""
    return pytest.approx(x, abs=1e-6)


def _session(variants, listeners=()):
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0, "variants": variants,
        "vad": {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False},
        "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10},
        "tts": {"coalesce": True},
    })
    stages = scripted_stages()
    llm, tts = stages.llm, stages.tts
    clip = speech_clip()  # 320 ms digital silence, 1000 ms of "speech" (a 0.1 constant), 320 ms silence
    turns = [TurnSpec(clip, v, False, (320.0, 1320.0)) for v in cfg.resolved_variants()]
    result = run_virtual(VoiceAgent(cfg, stages).run(turns, listeners))
    return result, llm, tts


def test_an_exception_in_the_agent_loop_fails_the_session_instead_of_hanging(monkeypatch):
    """The second turn's answer raises: the session ends at once with SessionError (caused by that
    exception) instead of the scenario waiting forever for the reply (a sweep run that hung)."""
    import asyncio

    from voicelab.session.agent import SessionError
    from voicelab.session.running import RunningSession

    real = RunningSession.answer

    async def answer(self, turn, utterance, speculation=None):
        if turn == 1:
            raise RuntimeError("boom in turn 1")
        return await real(self, turn, utterance, speculation)

    monkeypatch.setattr(RunningSession, "answer", answer)
    run = VoiceAgent.run

    def bounded(self, *args, **kwargs):  # virtual seconds: a regression fails, it does not hang
        return asyncio.wait_for(run(self, *args, **kwargs), timeout=120.0)

    monkeypatch.setattr(VoiceAgent, "run", bounded)
    with pytest.raises(SessionError, match=r"'agent' task failed .*RuntimeError: boom in turn 1") as info:
        _session([{"name": "words-2", "trigger": {"policy": "words", "words": 2}},
                  {"name": "whole", "trigger": {"policy": "whole"}}])
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.fixture(scope="module")
def session():
    return _session([{"name": "words-2", "trigger": {"policy": "words", "words": 2}},
                     {"name": "whole", "trigger": {"policy": "whole"}}])


def test_streaming_turn_metrics_exact(session):
    result, _, _ = session
    row = turns_table(result.trace, 200.0).iloc[0]
    # clip placed at the next mic frame after lead-in: frame 15 -> 480 ms; true speech 800..1800 ms
    assert row.speech_end_ms == 1800.0
    # last speech frame [1792, 1824); 16 silent frames (512 ms >= 500) -> decided at 2336
    assert row.endpoint_delay_ms == ms(536.0)
    assert row.stt_latency_ms == ms(300.0)                  # scripted STT delay
    # LLM starts at 2636; tokens at 2736, 2786, 2836, 2886, 2936, 2986, 3036; end 3086
    assert row.llm_ttft_ms == ms(100.0)
    assert row.first_word_latency_ms == ms(150.0)           # "Hello" complete when " there" arrives (2786)
    assert row.trigger_wait_ms == ms(100.0)                 # 2nd word "there," complete at " how" (2886)
    assert row.tts_ttfb_ms == ms(230.0)                     # scripted TTS delay -> audio at 3116
    assert row.word_to_audio_latency_ms == ms(230.0)        # "there," at 2886 -> 3116
    assert row.voice_to_voice_latency_ms == ms(1320.0)      # next 10 ms speaker frame: 3120 - 1800
    # 1320 - (536 endpointing + 300 STT + 250 LLM to trigger + 230 TTS) = 4 ms frame alignment
    assert row.framework_overhead_ms == ms(4.0)
    # request 0 "Hello there," = 12 chars x 10 ms = 120 ms -> plays 3120..3240;
    # request 1 "how are you?" (chunks 1 + 2 coalesced) starts at 3116, audio at 3346 -> plays at 3350
    assert row.playback_stall_ms == ms(110.0)
    # request 1: last word "you?" emitted at stream end 3086 -> audio 3346 = 260
    assert row.word_to_audio_mean_ms == ms(245.0)
    assert row.word_to_audio_p95_ms == pytest.approx(258.5)
    assert row.response_text == "Hello there, how are you?"
    assert row.transcript == "hello agent"
    assert (row.tts_requests, row.chunks, row.response_words, row.llm_tokens) == (2, 3, 5, 7)


def test_streaming_turn_events(session):
    result, _, tts = session
    t = result.trace
    assert [c.text for c in t.of(ChunkTriggered, 0)] == ["Hello there,", " how are", " you?"]
    assert [(r.chunks, r.text) for r in t.of(TTSStarted, 0)] == [((0,), "Hello there,"), ((1, 2), "how are you?")]
    assert [p.t_ms for p in t.of(PlaybackStarted, 0)] == [ms(3120.0), ms(3350.0)]
    assert [(s.t_ms, s.duration_ms) for s in t.of(PlaybackStall, 0)] == [(ms(3240.0), ms(110.0))]
    assert t.of(SpeechEnded, 0)[0].decided_ms == ms(2336.0)
    assert tts.requests[:2] == ["Hello there,", "how are you?"]


def test_baseline_turn_metrics_exact(session):
    result, _, _ = session
    row = turns_table(result.trace, 200.0).iloc[1]
    # reply 0 ends at 3350 + 120 = 3470; +1000 gap -> 4470; the mic has delivered frame 138
    # (ends 4448), so the clip starts with frame 139 at 4448: true speech 4768..5768;
    # last speech frame [5760, 5792) -> 16 silent frames -> decided 6304
    assert row.speech_end_ms == 5768.0
    assert row.endpoint_delay_ms == ms(536.0)
    # STT until 6604; LLM tokens 6704..7004, end 7054; whole reply triggered at 7054
    assert row.first_word_latency_ms == ms(150.0)
    assert row.trigger_wait_ms == ms(300.0)             # 7054 - 6754
    assert row.tts_ttfb_ms == ms(230.0)
    assert row.word_to_audio_latency_ms == ms(230.0)    # last word at 7054 -> audio 7284
    assert row.voice_to_voice_latency_ms == ms(1522.0)  # next speaker frame 7290 - 5768
    assert row.framework_overhead_ms == ms(6.0)         # 1522 - (536 + 300 + 450 + 230)
    assert row.playback_stall_ms == 0.0
    assert row.tts_requests == 1


def test_variants_have_separate_histories_and_same_seed(session):
    _, llm, _ = session
    (m0, s0), (m1, s1) = llm.requests
    assert [m["role"] for m in after_prompt(m0)] == ["user"]
    assert [m["role"] for m in after_prompt(m1)] == ["user"]   # baseline does not see the words-2 history
    assert s0 == s1


def test_agent_audio_is_aligned_with_trace(session):
    result, _, _ = session
    audio = result.agent_audio
    nz = np.flatnonzero(audio)
    # first played sample at 3120 ms x 24 kHz; the 110 ms stall is silent
    assert nz[0] == 3120 * 24
    assert not audio[3240 * 24: 3350 * 24].any()
    assert audio[3350 * 24] == pytest.approx(0.1)
    assert len(result.input_audio) * 24000 // 16000 == len(audio)


def test_summary_excludes_warmup_and_groups_by_variant(session):
    result, _, _ = session
    turns = turns_table(result.trace, 200.0)
    turns.loc[0, "warmup"] = True
    s = summarize(turns)
    assert list(s) == ["whole"]
    v2v = s["whole"]["voice_to_voice_latency_ms"]
    assert {k: v2v[k] for k in ("p50", "p90", "n", "clips")} == {"p50": ms(1522.0), "p90": ms(1522.0), "n": 1,
                                                                 "clips": 1}
    # one clip: the intervals (resampled by clip) are undefined
    assert all(math.isnan(v2v[k]) for k in ("p50_lo", "p50_hi", "p90_lo", "p90_hi"))


@pytest.mark.parametrize("growth, sizes", [(2.0, [1, 2, 4, 5]), (None, [1, 11]), (1.0, [1] * 12)])
def test_coalesced_requests_grow_geometrically(growth, sizes):
    # 12 one-word chunks arrive every 10 ms; the TTS takes 500 ms per request, so all
    # of them queue behind the first request
    words = [f" w{i}" for i in range(12)]
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0, "trigger": {"policy": "words", "words": 1},
        "vad": {"turn_detector": "none"}, "speculate": {"enabled": False},
        "tts": {"coalesce": True, "coalesce_growth": growth},
    })
    tts = ScriptedTTS(base_ms=500, audio_ms_per_char=10)
    stages = Stages(lambda: Endpointer(OracleVAD(), min_speech_ms=250, min_silence_ms=500),
                    ScriptedSTT("hi", delay_ms=100), ScriptedLLM(words, ttft_ms=10, token_ms=10), tts)
    turns = [TurnSpec(speech_clip(), cfg.resolved_variants()[0], False, (320.0, 1320.0))]
    result = run_virtual(VoiceAgent(cfg, stages).run(turns))
    assert [len(t.split()) for t in tts.requests] == sizes
    assert " ".join(tts.requests) == " ".join(w.strip() for w in words)
    assert turns_table(result.trace, 200.0).iloc[0].tts_requests == len(sizes)


def test_history_bound_keeps_the_last_exchanges():
    from voicelab.config import LLMConfig
    from voicelab.session.conversation import Conversation

    conv = Conversation(LLMConfig(max_history_turns=2), single=True)
    for k in range(4):
        conv.record("v", f"q{k}", f"a{k}", warmup=False)
    said = [m["content"] for m in after_prompt(conv.messages("v", "q4"))]
    assert said == ["q2", "a2", "q3", "a3", "q4"]               # the last two exchanges, then the turn
    assert conv.seed("v") == LLMConfig().seed + 4                # the seed counts every turn
    none = Conversation(LLMConfig(max_history_turns=0), single=True)
    none.record("v", "q0", "a0", warmup=False)
    assert [m["content"] for m in after_prompt(none.messages("v", "q1"))] == ["q1"]
    everything = Conversation(LLMConfig(), single=True)
    for k in range(3):
        everything.record("v", f"q{k}", f"a{k}", warmup=False)
    assert len(after_prompt(everything.messages("v", "q3"))) == 6 + 1
