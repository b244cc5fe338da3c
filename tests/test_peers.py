"""Peer engines: the session seam (microphone routing, shared speaker and trace), the
Pipecat frame -> trace translation and the peer metrics, exactly, without Pipecat's models.

The session runs on VirtualTimeLoop with scripted stages (as in test_agent_metrics), so
every expected time is derived by hand in the comments.
"""

import asyncio
import math

import numpy as np
import pandas as pd
import pytest

from voicelab.clock import run_virtual
from voicelab.config import ConfigError, ExperimentConfig, parse_config
from voicelab.events import (
    ChunkTriggered,
    LLMFinished,
    LLMStarted,
    LLMToken,
    PeerReported,
    PlaybackStarted,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    STTStarted,
    Trace,
    TranscriptFinal,
    TTSAudio,
    TTSStarted,
    TurnPlanned,
    TurnPredicted,
    WordEmitted,
)
from voicelab.llm.scripted import ScriptedLLM
from voicelab.measure.metrics import turns_table
from voicelab.measure.peer_metrics import engine_comparison, peer_metrics
from voicelab.reports.engines import summary_block, v2v_ratio
from voicelab.session import TurnSpec, VoiceAgent
from voicelab.session.peer_engine import PeerSession

from scripted_stages import scripted_stages, speech_clip


def ms(x):
    return pytest.approx(x, abs=1e-6)


# --- config ------------------------------------------------------------------------------
def test_pipecat_variant_gets_pipecats_defaults():
    cfg = parse_config({"variants": [{"name": "vl"}, {"name": "pc", "engine": "pipecat"}]})
    vl, pc = cfg.variants
    assert (vl.engine, vl.pipecat) == ("voicelab", None)
    assert pc.engine == "pipecat"
    assert (pc.pipecat.text_aggregation, pc.pipecat.turn, pc.pipecat.vad_stop_secs, pc.pipecat.stt_beam_size) == \
        ("sentence", "smart-turn", 0.2, 5)


@pytest.mark.parametrize("variant, message", [
    ({"name": "pc", "engine": "pipecat", "pipecat": {"aggregation": "token"}},
     "variants.0.pipecat.aggregation: Extra inputs are not permitted"),
    ({"name": "pc", "engine": "pipecat", "pipecat": {"text_aggregation": "word"}},
     "variants.0.pipecat.text_aggregation: Input should be 'sentence' or 'token'"),
    ({"name": "pc", "engine": "pipecat", "pipecat": {"vad_stop_secs": 0}},
     "variants.0.pipecat.vad_stop_secs: Input should be greater than 0"),
    ({"name": "pc", "engine": "livekit"}, "variants.0.engine: Input should be 'voicelab' or 'pipecat'"),
    ({"name": "vl", "pipecat": {"turn": "silence"}}, "`pipecat` settings need `engine: pipecat`"),
])
def test_bad_peer_settings_fail_with_their_path(variant, message):
    with pytest.raises(ConfigError) as e:
        parse_config({"variants": [variant]})
    assert message in str(e.value)


# --- the session seam, with a scripted peer --------------------------------------------
class FakePeer:
    """A peer that answers its turns from its own microphone feed: speech ends after 10
    silent frames (320 ms), then 200 ms later it plays 240 ms of audio and reports a
    voice-to-voice of 500 ms for itself."""

    engine = "pipecat"

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.heard: list[tuple[float, bool]] = []  # (frame end, any non-zero sample)
        self.stopped = False

    async def start(self, session: PeerSession) -> None:
        self.s = session

    async def run(self) -> None:
        ctx, user = self.s.ctx, self.s.user
        speech, silent = False, 0
        async for f in self.s.frames():
            loud = bool(np.any(f.samples))
            self.heard.append((f.end_ms, loud))
            if loud:
                speech, silent = True, 0
            elif speech and (silent := silent + 1) == 10:
                speech = False
                turn = user.current
                user.states[turn].handled = True
                await ctx.clock.sleep_until(f.end_ms + 200.0)
                done = ctx.speaker.open_response(turn)
                ctx.speaker.enqueue(turn, 0, np.full(int(0.24 * ctx.speaker.rate), 0.1, np.float32))
                ctx.speaker.close_response()
                ctx.trace.append(PeerReported(ctx.clock.now_ms(), turn, "pipecat", "fake", "user_bot_latency",
                                              500.0))
                done.add_done_callback(lambda _, t=turn: user.finish(t))

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture(scope="module")
def mixed():
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0,
        "variants": [{"name": "words-2", "trigger": {"policy": "words", "words": 2}},
                     {"name": "peer", "engine": "pipecat"}],
        "vad": {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False},
        "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10},
        "tts": {"coalesce": True},
    })
    stages = scripted_stages()
    clip = speech_clip()
    turns = [TurnSpec(clip, v, False, (320.0, 1320.0)) for v in cfg.resolved_variants()]
    peer = FakePeer("peer")
    result = run_virtual(VoiceAgent(cfg, stages, [peer]).run(turns))
    return result, peer


def test_voicelab_turn_is_unchanged_by_a_peer(mixed):
    result, _ = mixed
    row = turns_table(result.trace, 200.0).iloc[0]
    # the same numbers as test_agent_metrics' streaming turn: routing adds no latency
    assert (row.engine, row.speech_end_ms) == ("voicelab", 1800.0)
    assert row.endpoint_delay_ms == ms(536.0)
    assert row.voice_to_voice_latency_ms == ms(1320.0)
    assert math.isnan(row.peer_reported_v2v_ms)


def test_peer_turn_is_measured_on_the_shared_speaker(mixed):
    result, peer = mixed
    row = turns_table(result.trace, 200.0).iloc[1]
    # reply 0 ends at 3470 (test_agent_metrics); +1000 -> the clip starts with frame 139 at
    # 4448: true speech 4768..5768, last loud frame [5760, 5792); the 10th silent frame ends
    # at 6112; +200 -> 6312; the speaker's next 10 ms frame: 6320
    assert (row.engine, row.speech_end_ms) == ("pipecat", 5768.0)
    assert row.voice_to_voice_latency_ms == ms(552.0)
    assert row.peer_reported_v2v_ms == 500.0
    assert row.peer_v2v_error_ms == ms(-52.0)
    plays = result.trace.of(PlaybackStarted, 1)
    assert [p.t_ms for p in plays] == [ms(6320.0)]
    start = plays[0].sample_index
    assert start == 6320 * 24 and np.all(result.agent_audio[start: start + 5760] == np.float32(0.1))
    assert peer.stopped


def test_microphone_is_routed_to_the_turns_engine(mixed):
    result, peer = mixed
    # the peer heard silence through turn 0 (voicelab's) and the clip in turn 1
    loud = [t for t, x in peer.heard if x]
    assert loud and min(loud) == ms(4800.0) and max(loud) == ms(5792.0)   # frames 149..180
    assert not result.trace.of(SpeechStarted, 1)  # voicelab's listener never heard turn 1
    assert len(result.trace.of(SpeechStarted, 0)) == 1


def test_peer_variants_must_be_distinct():
    with pytest.raises(ValueError, match="distinct variants"):
        VoiceAgent(ExperimentConfig(), None, [FakePeer("p"), FakePeer("p")])
    with pytest.raises(ValueError, match="not named 'voicelab'"):
        VoiceAgent(ExperimentConfig(), None, [FakePeer("voicelab")])


# --- Pipecat frames -> events --------------------------------------------------------------
def _translated(token_chunks: bool, script) -> Trace:
    from voicelab.peers.pipecat.observer import FrameTranslator

    trace = Trace()
    trace.append(TurnPlanned(500.0, 0, "clip", "pc", False, 2000.0, 800.0, 1800.0, "hello there", engine="pipecat"))
    tr = FrameTranslator(trace, lambda: 0, vad_start_s=0.2, vad_stop_s=0.2, token_chunks=token_chunks)
    script(tr)
    tr.flush()
    trace.append(PlaybackStarted(2900.0, 0, 0, 2900 * 24))
    return trace


def _scripted_turn(tr) -> None:
    tr.vad_started(1000.0)
    tr.vad_stopped(1300.0)            # a pause inside the utterance
    tr.transcript(1500.0, " hello ")
    tr.vad_started(1400.0)            # (observers may deliver late: order of calls != time order)
    tr.vad_stopped(2000.0)
    tr.transcript(2300.0, "there")
    tr.turn_predicted(2340.0, 0.93, True, 40.0)
    tr.user_turn_ended(2350.0)
    tr.llm_started(2351.0)
    tr.llm_text(2400.0, "Hi")
    tr.tts_request(2401.0, "Hi")       # token aggregation: TTS starts on the first token
    tr.llm_text(2420.0, " there")
    tr.llm_text(2440.0, ".")
    tr.tts_audio(2600.0, 4800, 24000)
    tr.tts_audio(2610.0, 4800, 24000)  # a second frame of request 0: not its first audio
    tr.tts_request(2611.0, " there")   # Pipecat synthesizes its requests one after another
    tr.tts_audio(2700.0, 4800, 24000)
    tr.tts_request(2701.0, ".")
    tr.llm_finished(2450.0)
    tr.reported(2890.0, "UserBotLatencyObserver", "user_bot_latency", 1050.0)
    tr.reported(2310.0, "BeamWhisperSTTService#0", "ttfb", 510.0)


def test_frames_become_events_at_their_times():
    t = _translated(True, _scripted_turn)
    assert [(e.t_ms, e.audio_ms) for e in t.of(SpeechStarted, 0)] == [(1000.0, 800.0), (1400.0, 1200.0)]
    assert [(e.t_ms, e.audio_ms, e.decided_ms) for e in t.of(SpeechPaused, 0)] == [(1300.0, 1100.0, 1300.0),
                                                                                  (2000.0, 1800.0, 2000.0)]
    (end,) = t.of(SpeechEnded, 0)
    assert (end.t_ms, end.audio_ms, end.decided_ms) == (2350.0, 1800.0, 2350.0)
    (stt,) = t.of(STTStarted, 0)
    assert (stt.t_ms, stt.audio_ms) == (2000.0, 800.0)   # the last VAD stop; speech since the last onset (1200)
    (text,) = t.of(TranscriptFinal, 0)
    assert (text.t_ms, text.text) == (2300.0, "hello there")
    (pred,) = t.of(TurnPredicted, 0)
    assert (pred.t_ms, pred.probability, pred.complete, pred.started_ms) == (2340.0, 0.93, True, 2300.0)
    assert [e.t_ms for e in t.of(LLMStarted, 0)] == [2351.0]
    assert [(e.t_ms, e.index, e.text) for e in t.of(LLMToken, 0)] == [(2400.0, 0, "Hi"), (2420.0, 1, " there"),
                                                                       (2440.0, 2, ".")]
    assert [(e.t_ms, e.index, e.text) for e in t.of(WordEmitted, 0)] == [(2420.0, 0, "Hi"), (2450.0, 1, "there.")]
    (fin,) = t.of(LLMFinished, 0)
    assert (fin.t_ms, fin.tokens, fin.cancelled, fin.text) == (2450.0, 3, False, "Hi there.")
    # token chunks: "." continues the word "there"
    assert [(c.t_ms, c.chunk, c.first_word, c.last_word) for c in t.of(ChunkTriggered, 0)] == \
        [(2401.0, 0, 0, 0), (2611.0, 1, 1, 1), (2701.0, 2, 1, 1)]
    assert [(r.request, r.chunks) for r in t.of(TTSStarted, 0)] == [(0, (0,)), (1, (1,)), (2, (2,))]
    assert [(a.t_ms, a.request) for a in t.of(TTSAudio, 0)] == [(2600.0, 0), (2700.0, 1)]  # request 2: none yet
    times = [e.t_ms for e in t][1:-1]
    assert times == sorted(times)   # buffered and appended in time order


def test_translated_turn_metrics_exact():
    row = turns_table(_translated(True, _scripted_turn), 200.0).iloc[0]
    assert row.engine == "pipecat"
    assert row.endpoint_delay_ms == ms(550.0)          # turn ended 2350 - true end 1800
    assert row.stt_latency_ms == ms(-50.0)             # transcript 2300 before the turn ended
    assert row.llm_ttft_ms == ms(49.0)                 # 2400 - 2351
    assert row.first_word_latency_ms == ms(69.0)       # "Hi" complete at 2420
    assert row.trigger_wait_ms == ms(-19.0)            # TTS got "Hi" (2401) before the word was complete
    assert row.tts_ttfb_ms == ms(199.0)                # 2600 - 2401
    assert row.word_to_audio_latency_ms == ms(180.0)   # chunk 0's last word "Hi" (2420) -> 2600
    assert row.voice_to_voice_latency_ms == ms(1100.0) # 2900 - 1800
    assert row.cp_endpoint_ms == ms(200.0)             # STT started at the VAD stop, 2000
    assert row.cp_stt_ms == ms(300.0)
    assert row.peer_reported_v2v_ms == 1050.0
    assert row.peer_v2v_error_ms == ms(-50.0)
    assert row.peer_stt_ttfb_ms == 510.0 and math.isnan(row.peer_tts_ttfb_ms)


def test_sentence_chunks_are_whole_words():
    def script(tr):
        tr.user_turn_ended(2000.0)
        tr.llm_started(2001.0)
        for i, tok in enumerate(["Hi", " there", ".", " How", " are", " you", "?"]):
            tr.llm_text(2010.0 + i, tok)
        tr.tts_request(2020.0, "Hi there.")
        tr.tts_request(2030.0, "How are you?")   # Pipecat strips the space between sentences
        tr.llm_finished(2040.0)
    t = _translated(False, script)
    assert [(c.first_word, c.last_word) for c in t.of(ChunkTriggered, 0)] == [(0, 1), (2, 4)]
    assert [w.text for w in t.of(WordEmitted, 0)] == ["Hi", "there.", "How", "are", "you?"]


def test_events_before_the_first_turn_are_dropped():
    from voicelab.peers.pipecat.observer import FrameTranslator

    trace = Trace()
    tr = FrameTranslator(trace, lambda: -1, vad_start_s=0.2, vad_stop_s=0.2, token_chunks=False)
    tr.vad_started(10.0)
    tr.llm_started(20.0)
    tr.flush()
    assert len(trace) == 0


# --- comparison -----------------------------------------------------------------------
def test_engine_comparison_and_ratio():
    rows = []
    for variant, engine, v2vs, reported in [("vl", "voicelab", [900, 1000, 1100], None),
                                            ("pc", "pipecat", [1400, 1500, 1600], [1300, 1450, 1500]),
                                            ("pc-fast", "pipecat", [1200, 1250, 1300], [1100, 1200, 1250])]:
        for i, v in enumerate(v2vs):
            rows.append({"variant": variant, "engine": engine, "warmup": False, "voice_to_voice_latency_ms": v,
                         "first_word_latency_ms": 100.0, "word_to_audio_latency_ms": 200.0,
                         "playback_stall_ms": 50.0 * (i == 0), "tts_roundtrip_wer": 0.1 * i,
                         "peer_reported_v2v_ms": reported[i] if reported else math.nan,
                         "peer_v2v_error_ms": reported[i] - v if reported else math.nan})
    rows.append({**rows[0], "warmup": True, "voice_to_voice_latency_ms": 9999.0})
    table = engine_comparison(pd.DataFrame(rows))
    assert list(table.index) == ["vl", "pc", "pc-fast"]
    assert table.loc["vl", "v2v_p50_ms"] == 1000.0 and table.loc["vl", "turns"] == 3
    assert table.loc["pc", "reported_error_p50_ms"] == -100.0
    assert (table.loc["pc", "reported_error_min_ms"], table.loc["pc", "reported_error_max_ms"]) == (-100.0, -50.0)
    assert table.loc["pc", "turns_with_stall"] == pytest.approx(1 / 3)
    assert table.loc["vl", "roundtrip_wer_p50"] == pytest.approx(0.1)
    ratio = v2v_ratio(table)
    assert (ratio["peer_variant"], ratio["ratio"]) == ("pc-fast", pytest.approx(1000 / 1250))
    block = summary_block(pd.DataFrame(rows))
    assert block["variants"]["vl"]["reported_error_p50_ms"] is None and block["v2v_ratio"]["ratio"] == 0.8


def test_peer_metrics_without_playback_have_no_error():
    trace = Trace([TurnPlanned(0.0, 0, "c", "pc", False, 1000.0, 100.0, 900.0, "x", engine="pipecat"),
                   PeerReported(1500.0, 0, "pipecat", "UserBotLatencyObserver", "user_bot_latency", 600.0)])
    row = peer_metrics(trace)[0]
    assert row["peer_reported_v2v_ms"] == 600.0 and math.isnan(row["peer_v2v_error_ms"])


# --- the Pipecat observer on real Pipecat frames --------------------------------------------
def test_trace_observer_maps_pipecat_frames():
    pytest.importorskip("pipecat", reason="the `pipecat` extra is not installed")
    from pipecat.frames.frames import (
        LLMContextFrame,
        LLMFullResponseEndFrame,
        LLMFullResponseStartFrame,
        LLMTextFrame,
        MetricsFrame,
        TranscriptionFrame,
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )
    from pipecat.metrics.metrics import TTFBMetricsData, TurnMetricsData
    from pipecat.observers.base_observer import FramePushed
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
    from pipecat.turns.user_turn_strategies import UserTurnStrategies

    from voicelab.peers.pipecat.llm import VoicelabLLMService
    from voicelab.peers.pipecat.observer import FrameTranslator
    from voicelab.peers.pipecat.pipeline import TraceObserver

    async def scenario():
        from voicelab.clock import SessionClock

        trace = Trace()
        tr = FrameTranslator(trace, lambda: 0, vad_start_s=0.2, vad_stop_s=0.2, token_chunks=False)
        obs = TraceObserver(tr)
        context = LLMContext(messages=[])
        # a speech-timeout stop strategy: Pipecat's default (Smart Turn) would load a real model here
        no_model = UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy()])
        user_agg, assistant_agg = LLMContextAggregatorPair(
            context, user_params=LLMUserAggregatorParams(user_turn_strategies=no_model))
        llm = VoicelabLLMService(ScriptedLLM(["x"], 1, 1), SessionClock(), lambda: 0, "scripted")
        other = FrameProcessor()
        down, up = FrameDirection.DOWNSTREAM, FrameDirection.UPSTREAM

        async def push(t_ms, frame, source=other, direction=down):
            await obs.on_push_frame(FramePushed(source, other, frame, direction, int(t_ms * 1e6)))

        await push(1000.0, VADUserStartedSpeakingFrame(), user_agg)
        await push(1000.0, VADUserStartedSpeakingFrame(), user_agg, up)      # the upstream copy: ignored
        await push(2000.0, VADUserStoppedSpeakingFrame(), user_agg)
        await push(2300.0, TranscriptionFrame("hello there", "", "2026-12-02T00:00:00Z"))
        await push(2340.0, MetricsFrame([TurnMetricsData(processor="smart-turn", is_complete=True,
                                                         probability=0.9, e2e_processing_time_ms=40.0)]))
        await push(2350.0, LLMContextFrame(context), user_agg)
        await push(2351.0, LLMFullResponseStartFrame(), llm)
        await push(2400.0, LLMTextFrame("Hi"), llm)
        await push(2401.0, LLMTextFrame("Hi"), other)                       # not the LLM's: ignored
        await push(2450.0, LLMFullResponseEndFrame(), llm)
        await push(2460.0, LLMContextFrame(context), assistant_agg)          # the assistant's: not a turn end
        await push(2470.0, MetricsFrame([TTFBMetricsData(processor="VoicelabLLMService#0", value=0.049),
                                         TTFBMetricsData(processor="KokoroTTSService#0", value=0.0)]))
        tr.flush()
        return trace

    t = asyncio.run(scenario())
    assert [(type(e).__name__, e.t_ms) for e in t] == [
        ("SpeechStarted", 1000.0), ("SpeechPaused", 2000.0), ("STTStarted", 2000.0), ("TranscriptFinal", 2300.0),
        ("TurnPredicted", 2340.0), ("SpeechEnded", 2350.0), ("LLMStarted", 2351.0), ("LLMToken", 2400.0),
        ("WordEmitted", 2450.0), ("LLMFinished", 2450.0), ("PeerReported", 2470.0)]
    (rep,) = t.of(PeerReported, 0)
    assert (rep.source, rep.metric, rep.value_ms) == ("VoicelabLLMService#0", "ttfb", pytest.approx(49.0))


def test_without_history_keeps_the_system_prompt_and_the_last_user_turn():
    pytest.importorskip("pipecat", reason="the `pipecat` extra is not installed")
    from voicelab.peers.pipecat.llm import chat_messages, without_history

    msgs = chat_messages([{"role": "system", "content": "be brief"}, {"role": "user", "content": "one"},
                          {"role": "assistant", "content": [{"type": "text", "text": "uno"}]},
                          {"role": "user", "content": "two"}, {"not": "a message"}])
    assert msgs[2] == {"role": "assistant", "content": "uno"} and len(msgs) == 4
    assert without_history(msgs) == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "two"}]
