"""Pause, confirm, then cut or resume (``barge_in.mode: pause_confirm``), exactly, on scripted
stages in virtual time.

Set-up as in test_barge_in.py: lead-in 500 ms; each clip is a 0.1 constant ("speech") from
320 ms into the clip, then 320 ms of silence; the oracle VAD calls a 32 ms mic frame speech
if it holds any non-zero sample. Endpointing: 250 ms speech, 500 ms silence, 100 ms pad;
STT 300 ms; LLM first token 100 ms, then one per ``token_ms``, the end 50 ms after the last;
words-2 trigger; TTS 230 ms per request and 60 ms of audio per character (24 kHz), speaker
frames of 10 ms. Barge-in: threshold 0.5, ``min_barge_in_ms`` 64 (two mic frames).

With 50 ms tokens (test_barge_in.py), reply 0 ("Hello there, how are you?") plays request 0
"Hello there," 3120..3840 ms and request 1 "how are you?" 3840..4560 ms. A barge-in clip
started 300 ms after its first sample is placed at the next mic frame, 3392 ms: its true
onset is 3712 ms; speech frames [3712, 3744) and [3744, 3776) fire the detector at 3776 ms;
playback pauses at the next speaker frame, 3780 ms = sample 90720 (660 ms of request 0 played,
its last 60 ms = 1440 samples kept for a resume).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from voicelab.audio.clips import Clip
from voicelab.clock import run_virtual
from voicelab.config import ConfigError, ExperimentConfig, parse_config
from voicelab.events import (
    BargeInConfirmed,
    BargeInDetected,
    BargeInTranscript,
    LLMFinished,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
    ResponseCancelled,
    SpeechEnded,
    StateChanged,
    TTSAudio,
)
from voicelab.measure.metrics import turns_table
from voicelab.session import TurnSpec, VoiceAgent
from voicelab.session.barge_in import content_words
from voicelab.stt.scripted import ScriptedSTT
from voicelab.tts.scripted import ScriptedTTS

from scripted_stages import REPLY_TOKENS, after_prompt, scripted_stages


def ms(x):
    return pytest.approx(x, abs=1e-6)


class InterimSTT(ScriptedSTT):
    """300 ms per call; audio shorter than 1 s (the interim barge-in audio) is ``interim``."""

    def __init__(self, interim: str) -> None:
        super().__init__("hello agent", 300.0)
        self.interim = interim

    async def transcribe(self, audio: np.ndarray) -> str:
        text = await super().transcribe(audio)
        return self.interim if len(audio) < 16000 else text


class RampTTS(ScriptedTTS):
    """As ScriptedTTS, but every sample differs (a ramp from 0.05, a new one per request), so a
    resumed timeline can be compared sample by sample with an uninterrupted one."""

    async def synthesize(self, text: str) -> np.ndarray:
        audio = await super().synthesize(text)
        k = len(self.requests)
        return (0.05 + 1e-6 * np.arange(len(audio)) + 0.01 * k).astype(np.float32)


def _clip(speech_ms: float) -> Clip:
    audio = np.zeros(int((640 + speech_ms) * 16), dtype=np.float32)
    audio[320 * 16: int((320 + speech_ms) * 16)] = 0.1
    return Clip.from_array(f"speech{speech_ms:g}", audio, "hello agent")


def _run(scenario, barge_in=None, tokens=REPLY_TOKENS, token_ms=50.0, echo_db=None, interim="mm-hm"):
    """``scenario``: (start, offset_ms, speech_ms, backchannel) per turn."""
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0, "trigger": {"policy": "words", "words": 2},
        "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10},
        "barge_in": {"enabled": True, "threshold": 0.5, "min_barge_in_ms": 64, "mode": "pause_confirm",
                     "confirm_ms": 320, "resume_after_ms": 600, "min_words": None, **(barge_in or {})},
        "echo": {"gain_db": echo_db, "delay_ms": 20},
        "vad": {"turn_detector": "none"}, "speculate": {"enabled": False},
    })
    stt = InterimSTT(interim)
    stages = dataclasses.replace(scripted_stages(tokens=tokens, token_ms=token_ms), stt=stt,
                                 tts=RampTTS(base_ms=230, audio_ms_per_char=60))
    llm = stages.llm
    variant = cfg.resolved_variants()[0]
    turns = [TurnSpec(_clip(sp), variant, False, (320.0, 320.0 + sp), start, offset, bc)
             for start, offset, sp, bc in scenario]
    agent = VoiceAgent(cfg, stages)
    result = run_virtual(agent.run(turns))
    return result, turns_table(result.trace, 64.0), llm, stt


BARGE_IN = [("after_reply", None, 1000.0, False), ("after_agent_starts", 300.0, 1000.0, False),
            ("after_reply", None, 1000.0, False)]


def test_pause_then_confirm_by_duration_cuts():
    """Paused at 3780 (module docstring). The user goes on speaking: 10 more speech frames
    (320 ms = ``confirm_ms``) after the detection confirm it at 3776 + 320 = 4096 ms; the cut
    stops the paused reply where it paused, 3780 ms. Interruption latency 3780 - 3712 = 68 ms
    (the agent went quiet at the pause), detection 64 ms, cancel (detection -> pause) 4 ms,
    confirmation 320 ms after the detection. Request 0 played 660 of its 720 ms: 1 of its 2
    words (rounded down) stays in the history: "Hello"."""
    result, rows, llm, stt = _run(BARGE_IN)
    t = result.trace
    assert [d.t_ms for d in t.of(BargeInDetected, 0)] == [ms(3776.0)]
    (pause,) = t.of(PlaybackPaused, 0)
    assert (pause.t_ms, pause.sample_index, pause.duck_db) == (ms(3780.0), 3780 * 24, None)
    (conf,) = t.of(BargeInConfirmed, 0)
    assert (conf.t_ms, conf.by) == (ms(4096.0), "duration")
    assert not t.of(PlaybackResumed) and not t.of(BargeInTranscript)  # min_words off: no interim STT
    (stop,) = t.of(PlaybackStopped, 0)
    assert stop.interrupted and stop.t_ms == ms(3780.0) and stop.sample_index == 3780 * 24
    r1 = rows.iloc[1]
    assert r1.interruption_latency_ms == ms(68.0) and r1.barge_in_detect_ms == ms(64.0)
    assert r1.cancel_ms == ms(4.0) and r1.barge_in_confirm_ms == ms(320.0)
    assert not r1.missed_interruption and not r1.early_detection
    r0 = rows.iloc[0]
    assert not r0.false_interruption and not r0.false_pause and r0.false_pauses == 0
    assert np.isnan(r0.resume_gap_ms)
    assert t.of(ResponseCancelled, 0)[0].played_text == "Hello"
    assert llm.requests[1][0][-2:] == [{"role": "assistant", "content": "Hello"},
                                       {"role": "user", "content": "hello agent"}]
    assert not result.agent_audio[3780 * 24: int(rows.iloc[1].first_audio_played_ms * 24)].any()
    states = [(e.old, e.new) for e in t.of(StateChanged, 0)]
    assert states[-3:] == [("speaking", "paused"), ("paused", "interrupted"), ("interrupted", "idle")]


def test_pause_then_confirm_by_words():
    """Interim STT at the detection (3776 ms) on the two speech frames plus ceil(100 / 32) = 4
    frames of ``vad.speech_pad_ms`` before them: 6 x 512 = 3072 samples (192 ms). 300 ms later
    (4076 ms) "Wait, stop." has 2 words that are not backchannels = ``min_words``: confirmed
    by words at 4076 ms, before ``confirm_ms`` (500 ms: 4276) would have. Quiet at the pause
    (3780) as before, so the latencies are those of the duration test; confirmation 300 ms."""
    result, rows, llm, stt = _run(BARGE_IN, {"min_words": 2, "confirm_ms": 500, "resume_after_ms": 1000},
                                  interim="Wait, stop.")
    t = result.trace
    (tr,) = t.of(BargeInTranscript, 0)
    assert (tr.t_ms, tr.started_ms, tr.audio_ms, tr.text, tr.words) == (ms(4076.0), ms(3776.0), ms(192.0),
                                                                        "Wait, stop.", 2)
    assert stt.calls[1] == 3072
    (conf,) = t.of(BargeInConfirmed, 0)
    assert (conf.t_ms, conf.by) == (ms(4076.0), "words")
    (stop,) = t.of(PlaybackStopped, 0)
    assert stop.interrupted and stop.sample_index == 3780 * 24
    r1 = rows.iloc[1]
    assert r1.interruption_latency_ms == ms(68.0) and r1.barge_in_confirm_ms == ms(300.0)
    assert r1.transcript == "hello agent" and len(llm.requests) == 3  # the interruption is answered


BACKCHANNEL = [("after_reply", None, 1000.0, False), ("after_agent_starts", 0.0, 320.0, True),
               ("after_reply", None, 1000.0, False)]


def test_backchannel_pauses_then_resumes_and_nothing_is_lost():
    """200 ms tokens: LLM from 2636 ms, "Hello" 2736, " there" 2936, "," 3136, " how" 3336,
    " are" 3536, " you" 3736, "?" 3936, end 3986. "Hello there," goes to TTS at 3336 (the
    word after it completes it), audio at 3566, plays 3570..4290; "how are" (420 ms) at 3966;
    "you?" (240 ms) at 4216. Uninterrupted, the reply would play 3570..4950.

    The backchannel (320 ms of speech) starts right after the first sample: the mic places
    it on the frame in progress, 3552 ms; onset 3872; detection 3936 (two frames), pause at
    3940 = sample 94560 (370 ms of request 0 played, 350 ms kept). The rest of the reply is
    generated and synthesized while paused (LLM end 3986, last audio 4216). Speech after the
    detection: 8 frames (3936..4192) = 256 ms < ``confirm_ms`` 500; interim transcripts at
    4236 (192 ms of audio), 4536 (480 ms), 4836 (768 ms) all say "Mm-hm." = 0 words; the
    fourth is cancelled by the resume. Unconfirmed on the first frame ending at or after
    3936 + 1000 = 4936 ms (4960), playback resumes at 4960 = sample 119040: request 0's last
    350 ms 4960..5310, "how are" 5310..5730, "you?" 5730..5970. Gap 1020 ms: the played
    timeline is the uninterrupted one with 1020 ms of silence inserted at 3940.

    The backchannel's endpoint (4192 + 512 ms of silence) comes while paused: held until the
    verdict, then dropped (no transcript, no answer); the history keeps the whole reply."""
    result, rows, llm, stt = _run(BACKCHANNEL, {"min_words": 2, "confirm_ms": 500, "resume_after_ms": 1000},
                                  token_ms=200.0, interim="Mm-hm.")
    base, *_ = _run(BACKCHANNEL, {"enabled": False}, token_ms=200.0)
    t = result.trace
    (pause,) = t.of(PlaybackPaused, 0)
    (resume,) = t.of(PlaybackResumed, 0)
    assert (pause.t_ms, pause.sample_index) == (ms(3940.0), 94560)
    assert (resume.t_ms, resume.sample_index) == (ms(4960.0), 119040)
    assert [(e.t_ms, e.audio_ms, e.words) for e in t.of(BargeInTranscript, 0)] == [
        (ms(4236.0), ms(192.0), 0), (ms(4536.0), ms(480.0), 0), (ms(4836.0), ms(768.0), 0)]
    assert pause.t_ms < t.of(LLMFinished, 0)[0].t_ms < t.of(TTSAudio, 0)[-1].t_ms < resume.t_ms
    assert not t.of(BargeInConfirmed) and not t.of(ResponseCancelled)
    assert [(p.request, p.t_ms) for p in t.of(PlaybackStarted, 0)] == [(0, ms(3570.0)), (1, ms(5310.0)),
                                                                      (2, ms(5730.0))]
    (stop,) = t.of(PlaybackStopped, 0)
    assert not stop.interrupted and stop.t_ms == ms(5970.0)
    # nothing lost: the uninterrupted reply with a 1020 ms gap at 3940
    a, b = result.agent_audio, base.agent_audio
    assert base.trace.of(PlaybackStopped, 0)[0].t_ms == ms(4950.0)
    np.testing.assert_array_equal(a[3570 * 24: 3940 * 24], b[3570 * 24: 3940 * 24])
    assert not a[3940 * 24: 4960 * 24].any()
    np.testing.assert_array_equal(a[4960 * 24: 5970 * 24], b[3940 * 24: 4950 * 24])
    # metrics: one false pause of 1020 ms; the backchannel is neither missed nor answered
    r0, r1 = rows.iloc[0], rows.iloc[1]
    assert r0.false_pause and r0.false_pauses == 1 and r0.resume_gap_ms == ms(1020.0)
    assert not r0.false_interruption and r0.response_text == "Hello there, how are you?"
    assert r1.backchannel and r1.barge_in
    assert not r1.missed_interruption and np.isnan(r1.interruption_latency_ms) and r1.transcript == ""
    assert not t.of(SpeechEnded, 1)
    assert len(llm.requests) == 2 and after_prompt(llm.requests[1][0]) == [
        {"role": "user", "content": "hello agent"}, {"role": "assistant", "content": "Hello there, how are you?"},
        {"role": "user", "content": "hello agent"}]
    states = [(e.old, e.new) for e in t.of(StateChanged, 0)]
    assert states[-3:] == [("speaking", "paused"), ("paused", "speaking"), ("speaking", "idle")]


def test_ducking_plays_on_attenuated_then_restores():
    """``duck_db: 12``: the backchannel of the first tests' timing (onset 3712, 320 ms) ducks
    the reply at 3780 instead of pausing it; unconfirmed on the first frame ending at or after
    3776 + 600 = 4376 ms (4384) the duck ends at the next speaker frame, 4390. The reply plays
    on its own schedule (ends 4560), samples 3780..4390 ms at 10^(-12/20) = 0.2512 of their
    level; resume_gap_ms 610. The endpoint (after 4032 + 512) comes after the resume: the
    utterance overlaps the dismissed barge-in and is dropped."""
    scenario = [("after_reply", None, 1000.0, False), ("after_agent_starts", 300.0, 320.0, True)]
    result, rows, llm, _ = _run(scenario, {"duck_db": 12.0})
    base, *_ = _run(scenario, {"enabled": False})
    t = result.trace
    (pause,) = t.of(PlaybackPaused, 0)
    (resume,) = t.of(PlaybackResumed, 0)
    assert (pause.t_ms, pause.duck_db, resume.t_ms) == (ms(3780.0), 12.0, ms(4390.0))
    assert t.of(PlaybackStopped, 0)[0].t_ms == ms(4560.0)
    a, b = result.agent_audio, base.agent_audio
    g = np.float32(10 ** (-12 / 20))
    np.testing.assert_array_equal(a[: 3780 * 24], b[: 3780 * 24])
    np.testing.assert_allclose(a[3780 * 24: 4390 * 24], b[3780 * 24: 4390 * 24] * g, rtol=1e-6)
    np.testing.assert_array_equal(a[4390 * 24: 4560 * 24], b[4390 * 24: 4560 * 24])
    assert rows.iloc[0].resume_gap_ms == ms(610.0) and rows.iloc[0].false_pauses == 1
    assert rows.iloc[0].response_text == "Hello there, how are you?" and len(llm.requests) == 1


def test_echo_only_reply_cut_versus_pause_confirm():
    """Reply "Hello." (one 360 ms request: LLM end 2836, TTS 230 -> 3066, plays from 3070); its
    echo at -20 dB arrives 20 ms later and the oracle VAD hears it.

    ``cut``: echo in frames [3072, 3104) and [3104, 3136) fires the detector at 3136; the
    reply stops at 3140: a false interruption, 70 ms of it played.

    ``pause_confirm``: the same detection pauses it at 3140. The echo still in the air (until
    3160) makes 1 speech frame after the detection (32 ms < confirm_ms 320), then silence: it
    resumes on the first frame ending >= detection + 600 ms, at the next 10 ms frame R. From
    R the echo returns at R + 20; the frame holding it and the next one fire again, and so on:

        detection  pause   played   resume frame -> R     gap
        3136       3140    70       3744 -> 3750          610
        3808       3810    60       4416 -> 4420          610
        4480       4480    60       5088 -> 5090          610
        5152       5160    70       5760 -> 5760          600
        5824       5830    70       6432 -> 6440          610

    then the last 30 ms play 6440..6470 (the next detection would come at 6496, after the
    end). Five false pauses costing 3040 ms, no cut: the whole reply is heard (360 ms of
    audio) and kept. Only echo cancellation removes the pauses."""
    cut, rows_cut, *_ = _run([("after_reply", None, 1000.0, False)], {"mode": "cut"}, tokens=["Hello", "."],
                             echo_db=-20.0)
    (stop,) = cut.trace.of(PlaybackStopped, 0)
    assert [d.t_ms for d in cut.trace.of(BargeInDetected, 0)] == [ms(3136.0)]
    assert stop.interrupted and stop.t_ms == ms(3140.0)
    assert bool(rows_cut.iloc[0].false_interruption) and rows_cut.iloc[0].false_pauses == 0

    result, rows, *_ = _run([("after_reply", None, 1000.0, False)], tokens=["Hello", "."], echo_db=-20.0)
    t = result.trace
    assert [d.t_ms for d in t.of(BargeInDetected, 0)] == [ms(x) for x in (3136, 3808, 4480, 5152, 5824)]
    assert [p.t_ms for p in t.of(PlaybackPaused, 0)] == [ms(x) for x in (3140, 3810, 4480, 5160, 5830)]
    assert [r.t_ms for r in t.of(PlaybackResumed, 0)] == [ms(x) for x in (3750, 4420, 5090, 5760, 6440)]
    (stop,) = t.of(PlaybackStopped, 0)
    assert not stop.interrupted and stop.t_ms == ms(6470.0)
    assert np.count_nonzero(result.agent_audio) == 360 * 24
    r0 = rows.iloc[0]
    assert not r0.false_interruption and r0.false_pause and r0.false_pauses == 5
    assert r0.resume_gap_ms == ms(3040.0) and r0.response_text == "Hello."


def test_the_agents_own_words_heard_back_confirm_nothing():
    """The backchannel scenario above, but the interim transcripts say "how are you": the
    reply's own words (its text is whole by 3936 ms), i.e. its echo heard back. With
    ``ignore_own_words`` (default) they count 0 words: the same pause at 3940 and resume at
    4960 as for "Mm-hm."; without it, 3 words >= ``min_words`` confirm the barge-in at the
    first interim transcript (4236 ms) and the reply is cut where it paused."""
    settings = {"min_words": 2, "confirm_ms": 500, "resume_after_ms": 1000}
    result, rows, *_ = _run(BACKCHANNEL, settings, token_ms=200.0, interim="how are you")
    t = result.trace
    assert [(e.t_ms, e.words) for e in t.of(BargeInTranscript, 0)] == [(ms(4236.0), 0), (ms(4536.0), 0),
                                                                       (ms(4836.0), 0)]
    assert [r.t_ms for r in t.of(PlaybackResumed, 0)] == [ms(4960.0)] and not t.of(BargeInConfirmed)
    assert not rows.iloc[0].false_interruption and rows.iloc[0].false_pauses == 1
    heard, rows_heard, *_ = _run(BACKCHANNEL, {**settings, "ignore_own_words": False}, token_ms=200.0,
                                 interim="how are you")
    t = heard.trace
    (conf,) = t.of(BargeInConfirmed, 0)
    assert (conf.t_ms, conf.by) == (ms(4236.0), "words") and t.of(BargeInTranscript, 0)[0].words == 3
    (stop,) = t.of(PlaybackStopped, 0)
    assert stop.interrupted and stop.t_ms == ms(3940.0) and not t.of(PlaybackResumed)


def test_backchannel_words_confirm_nothing():
    bc = ["mm-hm", "mhm", "uh-huh", "yeah", "okay", "ok", "right", "yes"]
    assert content_words("Mm-hm.", bc) == 0
    assert content_words("Yeah, okay. Uh huh!", bc) == 0
    assert content_words("uhhuh right", bc) == 0
    assert content_words("Okay wait, stop.", bc) == 2
    assert content_words("yesterday", bc) == 1   # a backchannel inside a word is not one
    assert content_words("", bc) == 0
    own = "Hello there, how are you today?"
    assert content_words("How are you?", bc, own) == 0 and content_words("how are you", bc) == 3
    assert content_words("Wait, how?", bc, own) == 1 and content_words("okay, today", bc, own) == 0


@pytest.mark.parametrize("barge_in, message", [
    ({"mode": "pause_confirm", "confirm_ms": 800, "resume_after_ms": 800},
     r"barge_in: .*confirm_ms \(800\) must be below resume_after_ms"),
    ({"mode": "pause", "confirm_ms": 300}, "barge_in.mode"),
    ({"duck_db": 0}, "barge_in.duck_db"),
    ({"duck_db": -6}, "barge_in.duck_db"),
    ({"min_words": 0}, "barge_in.min_words"),
    ({"resume_after_ms": 0}, "barge_in.resume_after_ms"),
])
def test_pause_confirm_config_errors(barge_in, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"barge_in": barge_in})


def test_pause_confirm_config_defaults():
    cfg = parse_config({"barge_in": {"mode": "pause_confirm", "min_barge_in_ms": 32, "duck_db": 12,
                                     "backchannels": ["mm-hm"]},
                        "scenario": [{"clip": "x", "backchannel": True}]})
    b = cfg.barge_in
    assert (b.mode, b.min_barge_in_ms, b.duck_db, b.backchannels) == ("pause_confirm", 32.0, 12.0, ["mm-hm"])
    assert cfg.scenario[0].backchannel
    d = parse_config({}).barge_in
    assert d.mode == "cut" and d.confirm_ms < d.resume_after_ms and d.min_words == 2 and "mm-hm" in d.backchannels
    # in cut mode the pause settings are unused, so they are not cross-checked
    assert parse_config({"barge_in": {"confirm_ms": 900, "resume_after_ms": 800}}).barge_in.mode == "cut"


def test_a_barge_in_over_a_stalled_reply_is_measured_where_the_audio_ended():
    """Recorded on the real models (barge_in_aec, pause-64, Silero): reply 5's first chunk
    ended at 107697 ms and the next was not synthesized yet (a stall) when the barge-in (true
    onset 107578) was detected at 107728; the pause lands where the audio ended, 107697, and
    the confirmation cuts it there. The agent's audio stopped 119 ms after the onset:
    detected 150 ms after it, "cancel" -31 ms (already quiet); not a missed interruption."""
    from voicelab.events import Trace, TurnPlanned

    trace = Trace([
        TurnPlanned(98432.0, 5, "a", "v", False, 6050.0, 98678.0, 104245.0, "x"),
        PlaybackStarted(106780.0, 5, 0, 2562720),
        TurnPlanned(107168.0, 6, "b", "v", False, 4000.0, 107578.0, 110658.0, "y", True),
        BargeInDetected(107728.0, 5, 1.0),
        PlaybackPaused(107697.0, 5, 2584736),
        BargeInConfirmed(108195.0, 5, "duration"),
        PlaybackStopped(107697.0, 5, 2584736, True),
    ])
    from voicelab.measure.interruption import interruption_metrics

    row = interruption_metrics(trace, 64.0)[6]
    assert row["interruption_latency_ms"] == ms(119.0) and row["barge_in_detect_ms"] == ms(150.0)
    assert row["cancel_ms"] == ms(-31.0) and row["barge_in_confirm_ms"] == ms(467.0)
    assert not row["missed_interruption"] and not row["early_detection"]
    assert not interruption_metrics(trace, 64.0)[5]["false_interruption"]
