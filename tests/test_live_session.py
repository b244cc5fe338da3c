"""The live session core: a user streaming into a StreamMicrophone, turns opened by the
endpointer (LiveUser), on scripted stages in virtual time (exact)."""

import asyncio

import numpy as np
import pytest

from voicelab.audio.stream_mic import StreamMicrophone
from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import PlaybackStarted, SpeechEnded, STTStarted, TurnPlanned
from voicelab.measure.metrics import turns_table
from voicelab.session import VoiceAgent

from scripted_stages import scripted_stages


def ms(x):
    return pytest.approx(x, abs=1e-6)


def _utterance() -> np.ndarray:
    audio = np.zeros(int(1.64 * 16000), dtype=np.float32)
    audio[int(0.32 * 16000): int(1.32 * 16000)] = 0.1  # 1000 ms of "speech" after 320 ms
    return audio


def _agent() -> VoiceAgent:
    cfg = ExperimentConfig.model_validate({
        "trigger": {"policy": "words", "words": 2},
        "vad": {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False}, "tts": {"coalesce": True},
        "audio": {"speaker_frame_ms": 10},
    })
    stages = scripted_stages()
    return VoiceAgent(cfg, stages)


async def _client(mic: StreamMicrophone, users: list, packet: int, seconds: float, utterances_at: list[float]):
    """Streams silence with the utterance placed at each of ``utterances_at`` (s), in packets
    of ``packet`` samples, each pushed once its last sample is "captured" (real-time pace)."""
    total = int(seconds * 16000)
    audio = np.zeros(total, dtype=np.float32)
    for at in utterances_at:
        u = _utterance()
        audio[int(at * 16000): int(at * 16000) + len(u)] = u
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(0, total, packet):
        await asyncio.sleep(max(0.0, t0 + (i + packet) / 16000 - loop.time()))
        mic.push(audio[i: i + packet])
    users[0].end()
    mic.close()


def _run_live(packet: int, utterances_at=(0.0,), seconds=6.0):
    async def main():
        mic, users = StreamMicrophone(), []
        agent = _agent()
        client = asyncio.create_task(_client(mic, users, packet, seconds, list(utterances_at)))
        result = await agent.run_live(mic, on_start=lambda user, ctx: users.append(user))
        await client
        return result
    return run_virtual(main())


@pytest.mark.parametrize("packet", [512, 320, 1600])
def test_live_turn_is_answered_and_measured(packet):
    result = _run_live(packet)
    (plan,) = result.trace.of(TurnPlanned)
    (end,) = result.trace.of(SpeechEnded, 0)
    # speech 320..1320 ms from the first sample: padded start 320 - 100 = 220 ms; the last
    # speech frame is [1312, 1344), then 16 silent frames -> decided at 1856
    assert (plan.clip, plan.turn, plan.speech_start_ms, plan.speech_end_ms) == ("live-0", 0, ms(220.0), end.audio_ms)
    assert end.decided_ms == ms(1856.0)
    # t = 0 is the first sample's capture, whatever the packet size: the decision is taken when
    # the packet holding the frame's last sample (sample 29696 = 1856 ms) has arrived
    assert end.t_ms == ms(-(-29696 // packet) * packet / 16)
    row = turns_table(result.trace, 200.0).iloc[0]
    assert row.transcript == "hello agent" and row.response_text == "Hello there, how are you?"
    # the scripted session's delays after the endpoint (test_agent_metrics): STT 300, first
    # chunk at +250, TTS 230 -> audio 780 ms after the decision, played at the next 10 ms frame
    (first, *_) = result.trace.of(PlaybackStarted, 0)
    assert first.t_ms - end.t_ms == pytest.approx(780.0, abs=10.0)
    assert len(result.input_audio) == (6 * 16000 // 512) * 512


def test_two_live_turns():
    result = _run_live(512, utterances_at=(0.0, 4.5), seconds=9.0)
    plans = result.trace.of(TurnPlanned)
    assert [p.turn for p in plans] == [0, 1]
    # speech from 4820 ms: its first frame [4800, 4832) minus the 100 ms pad
    assert plans[1].speech_start_ms == ms(4700.0)
    rows = turns_table(result.trace, 200.0)
    assert list(rows.transcript) == ["hello agent", "hello agent"]
    assert rows.voice_to_voice_latency_ms.notna().all()


def test_stream_microphone_rejects_bad_audio():
    mic = StreamMicrophone()
    with pytest.raises(ValueError, match="mono"):
        mic.push(np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        mic.push(np.array([0.0, np.nan], dtype=np.float32))
    mic.close()
    with pytest.raises(RuntimeError, match="closed"):
        mic.push(np.zeros(4, dtype=np.float32))


def _run_live_with(actions, seconds=5.0):
    """A live session streaming silence, with ``actions`` ``(at_s, fn(agent, mic))`` applied."""
    async def main():
        mic, users = StreamMicrophone(), []
        agent = _agent()

        async def client():
            loop = asyncio.get_running_loop()
            t0, total, pending = loop.time(), int(seconds * 16000), sorted(actions, key=lambda a: a[0])
            for i in range(0, total, 512):
                await asyncio.sleep(max(0.0, t0 + (i + 512) / 16000 - loop.time()))
                mic.push(np.zeros(512, dtype=np.float32) if not any(
                    lo <= i / 16000 < hi for lo, hi in speech_spans) else np.full(512, 0.1, np.float32))
                while pending and pending[0][0] <= (i + 512) / 16000:
                    pending.pop(0)[1](agent)
            users[0].end()
            mic.close()
        speech_spans = [a[2] for a in actions if len(a) > 2]
        task = asyncio.create_task(client())
        result = await agent.run_live(mic, on_start=lambda user, ctx: users.append(user))
        await task
        return result
    return run_virtual(main())


def test_typed_turn_skips_stt():
    result = _run_live_with([(0.992, lambda agent: agent.submit_text("hi there"))])
    (plan,) = result.trace.of(TurnPlanned)
    row = turns_table(result.trace, 200.0).iloc[0]
    # typed at 992 ms (the end of frame 30): the turn's "speech end"; no STT; LLM 100 ms to the
    # first token, "Hello there," released at +250, TTS 230 -> 1472 ms, next 10 ms frame 1480
    assert (plan.speech_start_ms, plan.speech_end_ms) == (ms(992.0), ms(992.0))
    assert row.transcript == "hi there" and row.stt_latency_ms == 0.0
    assert not result.trace.of(STTStarted)
    assert row.voice_to_voice_latency_ms == ms(1480.0 - 992.0)


def test_client_side_endpointing_ends_the_utterance_at_once():
    # speech 0.32..3.0 s (still speaking); utterance_end arrives at 1.6 s, just after frame 49
    result = _run_live_with([(1.6, lambda agent: agent.end_utterance(), (0.32, 3.0))], seconds=6.0)
    ends = result.trace.of(SpeechEnded, 0)
    # the endpointer had processed frames up to 1568 ms (frame 49 was pushed, not yet heard)
    assert ends[0].decided_ms == ms(1568.0) and ends[0].audio_ms == ms(1568.0)
    assert turns_table(result.trace, 200.0).iloc[0].transcript == "hello agent"
