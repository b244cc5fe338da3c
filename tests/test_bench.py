"""``voicelab bench`` against a real ``voicelab serve`` on scripted stages, over loopback in
virtual time: the client-measured metrics are exact, and the server's own figures sit beside."""

import asyncio
import math

import numpy as np
import pytest

from voicelab.audio.clips import Clip
from voicelab.bench.client import BenchClient, WireTurn, first_sound_ms
from voicelab.bench.run import _turn_rows
from voicelab.clock import run_virtual
from voicelab.events import PlaybackStarted, TranscriptFinal, TurnPlanned
from voicelab.serve.app import VoiceServer

from scripted_stages import after_prompt
from test_serve import _manager, _speech


def ms(x):
    return pytest.approx(x, abs=1e-6)


def _bench(turns, clients=1):
    async def main():
        server = VoiceServer(_manager(), log=lambda m: None)
        port = await server.start("127.0.0.1", 0)
        try:
            runs = [BenchClient(f"ws://127.0.0.1:{port}", turns, f"c{k}", lead_in_ms=500.0, turn_gap_ms=1000.0).run()
                    for k in range(clients)]
            return await asyncio.gather(*runs), server
        finally:
            await server.shutdown()
    return run_virtual(main())


ANNOTATED_CLIP = "librivox_sense_and_sensibility_0880"
"""A bundled clip with annotated speech bounds: its reference needs no model (an unannotated
clip's would run Silero and Whisper on a cold reference cache)."""


def _clip(name="tone") -> WireTurn:
    # the tone of tests/test_serve: 320..1320 ms of a 1.64 s clip
    return WireTurn(Clip.from_array(name, _speech(1.64), "hello agent"), (320.0, 1320.0))


def test_client_measures_voice_to_voice_at_its_end_of_the_wire():
    (result,), server = _bench([_clip(), _clip("tone-2")])
    rows = _turn_rows(result, 200.0)
    assert list(rows.transcript) == ["hello agent", "hello agent"]
    first = rows.iloc[0]
    # the clip is sent from 512 ms (the first packet boundary after the 500 ms lead-in): true
    # speech end 512 + 1320 = 1832. Server and client share the clock (t = 0 is the first
    # sample's capture on both sides; loopback adds no virtual time). The server's last tone
    # frame is [1824, 1856); 16 silent frames -> decided at 2368 (the clip's last, partial
    # packet is completed by the silence after it, so the packets stay on the server's frame
    # grid and add nothing). +300 STT +250 first chunk +230 TTS = 3148 -> the next 10 ms
    # output frame, 3150, where the client receives it
    assert first.speech_end_ms == ms(1832.0)
    assert first.voice_to_voice_latency_ms == ms(3150.0 - 1832.0)
    assert [p.t_ms for p in result.trace.of(PlaybackStarted, 0)] == [ms(3150.0)]
    # checked against the received audio itself: the first non-silent sample is there
    assert first.received_check_ms == pytest.approx(0.0, abs=1000 / 24000)
    # the server's own figure runs from its VAD's padded end (silence from 1856, + 100 ms
    # pad = 1956): 124 ms less than the client measures
    assert first.peer_reported_v2v_ms == ms(3150.0 - 1956.0)
    assert first.peer_v2v_error_ms == ms(-124.0)
    assert first.wire_delay_ms == ms(0.0)                 # loopback in virtual time: no delay
    assert first.stt_wer == 0.0
    assert first.chunks > 0                               # response_text messages, one per chunk
    # what the protocol does not carry is empty, not a measured 0 (the server did generate
    # tokens and words and did call TTS)
    assert rows[["llm_tokens", "response_words", "tts_requests", "playback_stall_ms",
                 "speculation"]].isna().all().all()
    # each clip starts on a packet boundary (= a server frame, as voicelab run places clips),
    # so the second clip, sent at s after silence, is timed like the first: decided at
    # s + 1856, audio at s + 2636, played at the next 10 ms output frame
    s = [p.t_ms for p in result.trace.of(TurnPlanned)]
    assert [t % 32.0 for t in s] == [0.0, 0.0]
    assert rows.iloc[1].voice_to_voice_latency_ms == ms(math.ceil((s[1] + 2636.0) / 10.0) * 10.0 - (s[1] + 1320.0))
    (s,) = server.finished
    assert len(s.result.trace.of(TurnPlanned)) == 2


def test_concurrent_clients_each_get_their_session():
    results, server = _bench([_clip()], clients=3)
    assert len(server.finished) == 3
    v2v = [_turn_rows(r, 200.0).iloc[0].voice_to_voice_latency_ms for r in results]
    # scripted stages only sleep (no CPU, no queue): three concurrent sessions do not
    # interfere, each client measures exactly the one-client figure
    assert v2v == [ms(3150.0 - 1832.0)] * 3


def test_first_sound_ms():
    audio = np.zeros(24000, dtype=np.float32)
    audio[12000:] = 0.01
    assert first_sound_ms(audio, 24000, 100.0) == 500.0
    assert np.isnan(first_sound_ms(np.zeros(10, np.float32), 24000, 0.0))


def test_bench_writes_what_a_run_writes(tmp_path):
    import json

    import pandas as pd

    from voicelab.bench.run import bench

    async def main():
        server = VoiceServer(_manager(), log=lambda m: None)
        port = await server.start("127.0.0.1", 0)
        try:
            return await bench(f"ws://127.0.0.1:{port}", [ANNOTATED_CLIP], tmp_path, clients=2, report=False,
                               log=lambda m: None)
        finally:
            await server.shutdown()
    table = run_virtual(main())
    assert list(table.client) == [0, 1]
    for k in (0, 1):
        d = tmp_path / f"client-{k}"
        assert {p.name for p in d.iterdir()} == {"turns.csv", "events.jsonl", "agent.wav", "input.wav", "summary.json"}
        assert len(pd.read_csv(d / "turns.csv")) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["clients"] == 2 and summary["replied"] == 2 and summary["v2v_p50_ms"] > 0
    assert summary["received_check_max_abs_ms"] < 1.0


def test_a_late_reply_is_attributed_to_its_own_turn():
    c = BenchClient("ws://unused", [])
    for n, (lo, hi) in enumerate([(512.0, 2152.0), (5000.0, 6640.0)]):  # the two clips as sent
        c.trace.append(TurnPlanned(lo, n, f"clip-{n}", "c", False, hi - lo, lo + 320.0, lo + 1320.0, "hello agent"))
    c._turn = 0
    c._message(900.0, "vad_status", {"speaking": True, "t_ms": 900.0, "audio_ms": 732.0, "turn": 0})
    c._turn = 1  # the client has moved on to its second clip
    c._message(5400.0, "vad_status", {"speaking": True, "t_ms": 5400.0, "audio_ms": 5220.0, "turn": 1})
    # ... when the server's reply to its turn 0 arrives
    c._message(5500.0, "transcription", {"turn": 0, "text": "late", "is_final": True})
    c._message(6500.0, "response_audio", {"reply_id": 0, "request_id": 0, "sample_rate": 24000, "dtype": "int16",
                                          "start_sample": 6490 * 24})
    c._audio(6500.0, np.full(240, 0.1, np.float32))
    assert c._server_turn == {0: 0, 1: 1}
    (text,) = c.trace.of(TranscriptFinal)
    (play,) = c.trace.of(PlaybackStarted)
    assert (text.turn, play.turn, play.t_ms) == (0, 0, 6500.0)

    # turn 1's reply follows; the audio check of each turn looks at its own reply's audio
    # (the first sound after turn 1's speech end, 6320 ms, is turn 0's late reply)
    c._message(7000.0, "response_audio", {"reply_id": 1, "request_id": 1, "sample_rate": 24000, "dtype": "int16",
                                          "start_sample": 6990 * 24})
    c._audio(7000.0, np.full(240, 0.1, np.float32))
    rows = _turn_rows(c._finish(), 200.0).set_index("turn")
    assert list(rows.first_audio_played_ms) == [ms(6500.0), ms(7000.0)]
    assert list(rows.received_audio_ms) == [ms(6500.0), ms(7000.0)]
    assert list(rows.received_check_ms) == [ms(0.0), ms(0.0)]
    assert list(rows.wire_delay_ms) == [ms(10.0), ms(10.0)]
    # each reply's received audio ends 240 samples (10 ms at 24 kHz) after it began; turn 1's
    # speech ended (6320) before turn 0's reply did (6510): said over it
    assert list(rows.received_audio_end_ms) == [ms(6510.0), ms(7010.0)]


def test_warmup_turns_run_in_a_session_of_their_own(tmp_path):
    """The warm-up warms the server but stays out of the measured conversation: the first
    measured turn is answered from the system prompt and its own words, with the first seed,
    as voicelab run answers it."""
    import json

    from voicelab.bench.run import bench

    manager = _manager()

    async def main():
        server = VoiceServer(manager, log=lambda m: None)
        port = await server.start("127.0.0.1", 0)
        try:
            table = await bench(f"ws://127.0.0.1:{port}", [ANNOTATED_CLIP], tmp_path, warmup_turns=2,
                                report=False, log=lambda m: None)
            return table, server
        finally:
            await server.shutdown()
    table, server = run_virtual(main())
    assert len(server.finished) == 2                                  # the warm-up session, then the measured one
    assert [len(s.result.trace.of(TurnPlanned)) for s in server.finished] == [2, 1]
    assert list(table.warmup) == [False] and table.voice_to_voice_latency_ms.notna().all()
    requests = manager.stages.llm.requests
    assert len(requests) == 3
    (messages, seed) = requests[-1]
    assert [m["role"] for m in after_prompt(messages)] == ["user"]   # no warm-up exchange in its history
    assert seed == manager.config.llm.seed == requests[0][1]          # the seed the run's first turn gets
    assert requests[1][1] == seed + 1                                 # (the warm-up session's second turn)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["turns"] == 1 and summary["warmup_turns"] == 2


def test_the_bench_judges_missed_interruptions_by_the_sessions_threshold():
    from voicelab.bench.run import barge_in_threshold_ms
    from voicelab.config import BargeInConfig

    assert barge_in_threshold_ms(None) == BargeInConfig().min_barge_in_ms
    assert barge_in_threshold_ms({"barge_in": {"enabled": True, "min_barge_in_ms": 32}}) == 32.0
