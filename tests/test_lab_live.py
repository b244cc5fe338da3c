"""The notebook's hands-free agent (voicelab.lab.live) on scripted stages.

LiveLink runs in virtual time (exact): what it streams to the browser, played the way the
browser plays it (each segment from its start sample, cut at every flush), is exactly the
agent's played audio; a barge-in sends exactly one flush. HandsFreeAgent runs the same on its
loop thread in real time, fed through the widget's message path at 48 kHz (resampled)."""

import asyncio

import numpy as np
import pytest
import traitlets

from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import PlaybackPaused, PlaybackResumed, PlaybackStarted, PlaybackStopped
from voicelab.lab.live import HandsFreeAgent, LiveLink
from voicelab.lab.widgets import MicrophoneWidget
from voicelab.measure.metrics import turns_table
from voicelab.session import Stages
from voicelab.tts.scripted import ScriptedTTS

from scripted_stages import scripted_stages

REPLY = "Hello there, how are you?"


class RampTTS(ScriptedTTS):
    """ScriptedTTS whose audio differs sample by sample (a ramp), so misplaced audio shows."""

    async def synthesize(self, text: str) -> np.ndarray:
        audio = await super().synthesize(text)
        return (audio * np.linspace(0.5, 1.0, len(audio), dtype=np.float32) * (1 + len(self.requests) / 10))


def _config(**sections) -> ExperimentConfig:
    return ExperimentConfig.model_validate({
        "trigger": {"policy": "words", "words": 2},
        "vad": {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False}, "tts": {"coalesce": True}, "audio": {"speaker_frame_ms": 10},
        **sections})


def _stages(audio_ms_per_char: float = 60.0) -> Stages:
    s = scripted_stages()
    return Stages(s.make_endpointer, s.stt, s.llm, RampTTS(base_ms=230, audio_ms_per_char=audio_ms_per_char))


def _speech(seconds: float, spans: list[tuple[float, float]]) -> np.ndarray:
    audio = np.zeros(int(seconds * 16000), dtype=np.float32)
    for a, b in spans:
        audio[int(a * 16000): int(b * 16000)] = 0.1
    return audio


def _run_link(config, audio: np.ndarray):
    """Push ``audio`` in 512-sample packets at real-time pace (virtual time) into a LiveLink.

    Returns the link, its session result and the messages sent as ``(t_ms, content, buffers)``
    (t on the session clock: the loop's clock starts at 0 and the first packet is 32 ms long)."""
    async def main():
        sent = []
        loop = asyncio.get_running_loop()
        link = LiveLink(config, _stages(), lambda c, b: sent.append((loop.time() * 1000.0, c, b)))
        link.start()
        t0 = loop.time()
        for i in range(0, len(audio), 512):
            await asyncio.sleep(max(0.0, t0 + (i + 512) / 16000 - loop.time()))
            link.push(audio[i: i + 512])
        return link, await link.stop(), sent
    return run_virtual(main())


def _browser_timeline(sent, n: int) -> np.ndarray:
    """What a browser plays from the messages: each segment from its start sample on, every
    segment already received cut at a flush's sample index."""
    scheduled = []
    for _, content, buffers in sent:
        if content["type"] == "audio":
            scheduled.append([content["start_sample"], np.frombuffer(buffers[0], dtype="<f4")])
        elif content["type"] == "flush":
            cut = content["sample_index"]
            scheduled = [[s, a[: max(0, cut - s)]] for s, a in scheduled]
    out = np.zeros(max([n] + [s + len(a) for s, a in scheduled]), dtype=np.float32)
    for s, a in scheduled:
        out[s: s + len(a)] = a
    return out


def test_reply_segments_stream_as_they_play_and_are_the_played_audio():
    link, result, sent = _run_link(_config(), _speech(6.0, [(0.32, 1.32)]))
    audio_msgs = [(t, c, b) for t, c, b in sent if c["type"] == "audio"]
    assert len(audio_msgs) == len(link.segments) >= 2 and not [c for _, c, _ in sent if c["type"] == "flush"]
    played = _browser_timeline(sent, len(result.agent_audio))
    assert np.array_equal(played, result.agent_audio) and played.any()
    starts = result.trace.of(PlaybackStarted, 0)
    for (t, c, buffers), (turn, request, start, audio), ev in zip(audio_msgs, link.segments, starts):
        assert (c["turn"], c["request"], c["rate"], c["start_sample"]) == (turn, request, 24_000, start)
        assert np.array_equal(np.frombuffer(buffers[0], dtype="<f4"), audio)
        # each segment is sent when the agent starts playing it, not once the reply is done
        assert (c["request"], c["start_sample"]) == (ev.request, ev.sample_index)
        assert t == pytest.approx(start / 24.0, abs=1e-6)
    assert audio_msgs[0][0] < result.trace.of(PlaybackStopped, 0)[0].t_ms - 500
    (readout,) = link.turns.values()
    row = turns_table(result.trace, 200.0).iloc[0]
    assert (readout.heard, readout.reply.strip(), readout.done, readout.interrupted) == (
        "hello agent", REPLY, True, False)
    assert readout.voice_to_voice_ms == pytest.approx(row.voice_to_voice_latency_ms, abs=1e-9)
    assert "voice-to-voice" in readout.text() and "agent: " + REPLY in readout.text()


@pytest.mark.parametrize("mode", ["cut", "pause_confirm"])
def test_barge_in_flushes_the_browser_once(mode):
    # turn 0: speech 0.32..1.32 s, endpoint 1856 ms, reply audio from ~2640 ms (60 ms per
    # character: ~1.6 s); the user speaks over it from 3.0 s: cut at once, or paused then
    # confirmed after 500 ms of speech and cut
    barge_in = {"enabled": True, "threshold": 0.5, "min_barge_in_ms": 200, "mode": mode,
                "confirm_ms": 500, "resume_after_ms": 1000, "min_words": None}
    link, result, sent = _run_link(_config(barge_in=barge_in), _speech(12.0, [(0.32, 1.32), (3.0, 4.2)]))
    flushes = [(i, c) for i, (_, c, _) in enumerate(sent) if c["type"] == "flush"]
    assert len(flushes) == link.flushes == 1
    (i, flush), t = flushes[0], result.trace
    cut = (t.of(PlaybackPaused, 0) if mode == "pause_confirm" else t.of(PlaybackStopped, 0))[0]
    assert (flush["turn"], flush["sample_index"]) == (0, cut.sample_index)
    assert t.of(PlaybackStopped, 0)[-1].interrupted and not t.of(PlaybackResumed, 0)
    # the flush came after turn 0's audio and before any of turn 1's reply, which then played
    turns = [c["turn"] for _, c, _ in sent if c["type"] == "audio"]
    assert set(turns[:i]) == {0} and set(turns[i:]) == {1}
    streamed0 = sum(len(b[0]) // 4 for _, c, b in sent if c["type"] == "audio" and c["turn"] == 0)
    assert streamed0 > cut.sample_index - sent[0][1]["start_sample"]  # the browser had more than was played
    assert np.array_equal(_browser_timeline(sent, len(result.agent_audio)), result.agent_audio)
    assert link.turns[0].interrupted and link.turns[0].done
    assert link.turns[1].reply.strip() == REPLY and link.turns[1].done and not link.turns[1].interrupted


def test_a_link_that_never_heard_audio_stops_at_once():
    async def main():
        link = LiveLink(_config(), _stages(), lambda c, b: None)
        assert await link.stop() is None  # not started
        link.start()
        with pytest.raises(RuntimeError, match="already started"):
            link.start()
        return await link.stop()
    result = run_virtual(main())
    assert len(result.input_audio) == 0 and not result.trace.of(PlaybackStarted)


def test_hands_free_agent_from_widget_messages_at_48k(monkeypatch):
    mic = MicrophoneWidget()
    sent = []
    monkeypatch.setattr(mic, "send", lambda content, buffers=None: sent.append((0.0, content, buffers)))
    # the agent builds its endpointer from the config (as the notebook's does): an energy VAD
    config = _config(vad={"kind": "energy", "min_speech_ms": 250, "min_silence_ms": 500, "turn_detector": "none"})
    agent = HandsFreeAgent(config, _stages(audio_ms_per_char=10.0), mic)
    try:
        assert mic.mode == "hands-free"
        t = np.arange(int(1.64 * 48_000)) / 48_000  # 1 s of a 300 Hz tone from 0.32 s, at 48 kHz
        clip = (0.1 * np.sin(2 * np.pi * 300 * t) * ((t >= 0.32) & (t < 1.32))).astype(np.float32)
        result = agent.replay(clip, 48_000, turns=1, max_silence_s=20.0, packet_s=0.085)
        assert not agent._live and agent.sessions == [result]
        assert mic.buffer.messages == 0  # hands-free audio does not go to the push-to-talk buffer
        (turn,) = agent.turns
        assert (turn.heard, turn.reply.strip(), turn.done) == ("hello agent", REPLY, True)
        assert turn.voice_to_voice_ms > 0
        assert f"agent: {REPLY}" in mic.message and "voice-to-voice" in mic.message
        assert "hello agent" in agent.log.value
        # resampled to 16 kHz: the speech is where it was sent (0.32..1.32 s, give or take the filter)
        speech = np.flatnonzero(np.abs(result.input_audio) > 0.05) / 16000
        assert speech[0] == pytest.approx(0.32, abs=0.01) and speech[-1] == pytest.approx(1.32, abs=0.01)
        played = _browser_timeline(sent, len(result.agent_audio))
        assert played.any() and np.array_equal(played, result.agent_audio)
        with pytest.raises(RuntimeError, match="not live"):
            agent.feed(np.zeros(10, np.float32), 48_000)
        mic.receive({"type": "chunk", "rate": 48_000}, [np.zeros(480, "<f4").tobytes()])  # in flight: dropped
        assert not mic.recording and len(agent.sessions) == 1
    finally:
        agent.close()
    assert not agent._thread.is_alive()


def test_push_to_talk_mode_still_records_into_the_buffer():
    mic = MicrophoneWidget()
    calls = []
    mic.on_stream.append(lambda c, b: calls.append(c))
    mic.receive({"type": "start", "rate": 48_000})
    mic.receive({"type": "chunk", "rate": 48_000}, [np.full(4800, 0.1, "<f4").tobytes()])
    mic.receive({"type": "stop", "rate": 48_000, "frames": 4800})
    assert mic.mode == "push-to-talk" and not calls
    assert mic.buffer.duration_s == pytest.approx(0.1) and len(mic.buffer.audio()) == 1600
    with pytest.raises(traitlets.TraitError):  # traitlets.Enum rejects a value outside its list
        mic.mode = "walkie-talkie"
