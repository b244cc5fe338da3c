"""The one live front end (voicelab.live): the turn-complete rule, the event -> update mapping
on a scripted live session (virtual time, exact), the server's encoding of those updates, and
the one reply player (player.js) that both the served page and the notebook widget load."""

import asyncio
import fnmatch
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest

from voicelab.audio.stream_mic import StreamMicrophone
from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import (
    ChunkTriggered,
    LLMFinished,
    PlaybackStarted,
    PlaybackStopped,
    StateChanged,
    TTSAudio,
    TurnPlanned,
)
from voicelab.lab.widgets import MIC_ESM, MIC_JS
from voicelab.live import PLAYER_JS, LiveTranslator, turn_completed
from voicelab.live.updates import (
    PlaybackCut,
    ReplyAudio,
    ReplyDiscarded,
    ReplyProgress,
    ReplyText,
    ReplyTextEnded,
    SpeechActivity,
    StateUpdate,
    SynthesisFailed,
    Transcript,
    TurnEnded,
)
from voicelab.measure.metrics import turns_table
from voicelab.serve.app import PAGES
from voicelab.serve.protocol import encode_pcm16
from voicelab.serve.publish import REPORTED_METRICS, EventPublisher
from voicelab.session import VoiceAgent
from voicelab.session.context import ALLOWED, ConversationState
from voicelab.session.live_run import LiveRun
from voicelab.units import INPUT_RATE, ms_to_samples

from scripted_stages import scripted_stages

ROOT = Path(__file__).resolve().parents[1]
REPLY = "Hello there, how are you?"
MIN_BARGE_IN_MS = 200.0


def test_a_turn_is_complete_when_it_returns_to_idle_from_an_answering_state():
    ends = {"speaking", "interrupted", "processing"}
    for old, news in ALLOWED.items():
        for new in news:
            e = StateChanged(0.0, 3, old.value, new.value)
            assert turn_completed(e) == (new == ConversationState.IDLE and old.value in ends), (old, new)
    assert {old.value for old, news in ALLOWED.items() if ConversationState.IDLE in news} == ends
    assert not turn_completed(PlaybackStopped(0.0, 3, 0, interrupted=True))


def _config() -> ExperimentConfig:
    return ExperimentConfig.model_validate({
        "trigger": {"policy": "words", "words": 2},
        "vad": {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False}, "tts": {"coalesce": True}, "audio": {"speaker_frame_ms": 10},
        "barge_in": {"enabled": True, "threshold": 0.5, "min_barge_in_ms": MIN_BARGE_IN_MS, "mode": "cut",
                     "min_words": None}})


def _speech(seconds: float, spans) -> np.ndarray:
    audio = np.zeros(ms_to_samples(seconds * 1000), dtype=np.float32)
    for a, b in spans:
        audio[ms_to_samples(a * 1000): ms_to_samples(b * 1000)] = 0.1
    return audio


def _translated_session(audio: np.ndarray):
    """A live session on scripted stages hearing ``audio`` (512-sample packets at real-time pace,
    virtual time), translated by one LiveTranslator whose updates also go to an EventPublisher.

    Returns the session result, the updates and the publisher's frames (decoded JSON or bytes)."""
    updates, frames, rows = [], [], []
    publisher = EventPublisher(lambda f: frames.append(f if isinstance(f, bytes) else json.loads(f)), 250,
                               MIN_BARGE_IN_MS, on_turn=lambda turn, row: rows.append((turn, row)))
    translator = LiveTranslator(lambda u: (updates.append(u), publisher.publish(u)), MIN_BARGE_IN_MS)

    async def main():
        config = _config()
        run = LiveRun(VoiceAgent(config, scripted_stages(tts_ms_per_char=60.0)), StreamMicrophone(),
                      lambda user, ctx: translator.attach(ctx))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(0, len(audio), 512):
            await asyncio.sleep(max(0.0, t0 + (i + 512) / INPUT_RATE - loop.time()))
            run.mic.push(audio[i: i + 512])
        return await run.stop()
    return run_virtual(main()), updates, frames, rows


def test_one_translation_of_a_barged_in_session():
    # turn 0 from 0.32 s, its reply plays from ~2.6 s; the user speaks over it from 3.0 s (cut),
    # and turn 1's reply plays out
    result, updates, frames, rows = _translated_session(_speech(12.0, [(0.32, 1.32), (3.0, 4.2)]))
    t = result.trace
    assert [p.turn for p in t.of(TurnPlanned)] == [0, 1]
    # turn ends: exactly the StateChanged events the rule accepts, each right after its StateUpdate
    ended = [(i, u) for i, u in enumerate(updates) if isinstance(u, TurnEnded)]
    assert [u.turn for _, u in ended] == [e.turn for e in t if turn_completed(e)] == [0, 1]
    for i, u in ended:
        assert updates[i - 1] == StateUpdate(u.turn, "idle", "interrupted" if u.turn == 0 else "speaking")
    assert [u.interrupted for _, u in ended] == [True, False]
    whole = turns_table(t, 200.0)
    for _, u in ended:  # measured from the turn's own events: the figure turns.csv gets
        row = whole[whole.turn == u.turn].iloc[0]
        assert u.row["voice_to_voice_latency_ms"] == pytest.approx(row.voice_to_voice_latency_ms, abs=1e-9)
        assert u.row["transcript"] == "hello agent" and u.row["response_text"] == row.response_text
    # the reply's audio: every segment the speaker played, where it played it
    audio = [u for u in updates if isinstance(u, ReplyAudio)]
    assert [(u.turn, u.request, u.start_sample) for u in audio] == [
        (e.turn, e.request, e.sample_index) for e in t.of(PlaybackStarted)]
    assert {u.rate for u in audio} == {24_000}
    # the barge-in: one cut, a stop, with audio still scheduled in a client
    (cut,) = [u for u in updates if isinstance(u, PlaybackCut)]
    stop = [e for e in t.of(PlaybackStopped, 0) if e.interrupted][0]
    assert (cut.turn, cut.sample_index, cut.t_ms, cut.interrupted, cut.audio_sent) == (
        0, stop.sample_index, stop.t_ms, True, True)
    # text and progress
    assert "".join(u.text for u in updates if isinstance(u, ReplyText) and u.turn == 1) == REPLY
    assert [u.turn for u in updates if isinstance(u, Transcript)] == [0, 1]
    assert [u.turn for u in updates if isinstance(u, ReplyTextEnded)] == [e.turn for e in t.of(LLMFinished)]
    last = [u for u in updates if isinstance(u, ReplyProgress) and u.turn == 1][-1]
    assert (last.tts_chunks_triggered, last.tts_chunks_synthesized) == (len(t.of(ChunkTriggered, 1)),
                                                                         len(t.of(TTSAudio, 1)))
    assert [u.speaking for u in updates if isinstance(u, SpeechActivity)] == [True, False, True, False]
    assert not [u for u in updates if isinstance(u, (ReplyDiscarded, SynthesisFailed))]

    # the server's encoding of the same updates: one response_complete per measured turn
    done = [f["data"] for f in frames if isinstance(f, dict) and f["type"] == "response_complete"]
    assert [d["reply_id"] for d in done] == [0, 1] and [turn for turn, _ in rows] == [0, 1]
    assert [row["interrupted"] for _, row in rows] == [True, False]
    for d, (_, u) in zip(done, ended):
        assert d["metrics"]["voice_to_voice_latency_ms"] == pytest.approx(u.row["voice_to_voice_latency_ms"])
    (interrupted,) = [f["data"] for f in frames if isinstance(f, dict) and f["type"] == "interrupted"]
    assert interrupted == {"reply_id": 0, "t_ms": cut.t_ms, "sample_index": cut.sample_index}
    pcm = [f for f in frames if isinstance(f, bytes)]
    assert pcm == [encode_pcm16(u.audio) for u in audio]


def test_the_server_encodes_each_update_in_the_protocol():
    frames, turns = [], []
    pub = EventPublisher(lambda f: frames.append(f if isinstance(f, bytes) else json.loads(f)), 40, MIN_BARGE_IN_MS,
                         on_turn=lambda turn, row: turns.append((turn, row)))
    segment = np.array([0.0, 0.5, -0.5], dtype=np.float32)
    row = {"transcript": "hi", "response_text": "Hello.", "voice_to_voice_latency_ms": 812.5,
           "stt_latency_ms": float("nan"), "turn": 2}
    for u in [SpeechActivity(2, True, 100.0, 64.0), StateUpdate(2, "processing", "listening"),
              Transcript(2, "hi"), ReplyText(2, "Hello."), ReplyProgress(2, 3, 1, 0),
              ReplyAudio(2, 0, 24_000, 4800, segment), ReplyTextEnded(2), ReplyDiscarded(2),
              PlaybackCut(2, 900.0, 5000, False, True), PlaybackCut(2, 950.0, 5000, True, False),
              SynthesisFailed(2, 1, "timeout"), TurnEnded(2, row, True), TurnEnded(3, None, False)]:
        pub.publish(u)
    msgs = [(f["type"], f["data"]) if isinstance(f, dict) else f for f in frames]
    assert msgs == [
        ("vad_status", {"speaking": True, "t_ms": 100.0, "audio_ms": 64.0, "turn": 2}),
        ("state", {"state": "processing", "turn": 2}),
        ("transcription", {"turn": 2, "text": "hi", "is_final": True}),
        ("response_text", {"reply_id": 2, "text": "Hello.", "is_final": False}),
        ("progress", {"reply_id": 2, "llm_tokens": 3, "llm_max_tokens": 40, "tts_chunks_synthesized": 0,
                      "tts_chunks_triggered": 1}),
        ("response_audio", {"reply_id": 2, "request_id": 0, "sample_rate": 24_000, "dtype": "int16",
                            "start_sample": 4800}),
        encode_pcm16(segment),
        ("response_text", {"reply_id": 2, "text": "", "is_final": True}),
        # a discarded speculation and a pause have no protocol message; a stop does
        ("interrupted", {"reply_id": 2, "t_ms": 950.0, "sample_index": 5000}),
        ("error", {"code": "tts_failed", "message": "speech synthesis failed (timeout): the reply goes on as text",
                   "degraded": True, "reply_id": 2, "request_id": 1}),
        ("response_complete", {"reply_id": 2, "text": "Hello.",
                               "metrics": {"stt_latency_ms": None, "voice_to_voice_latency_ms": 812.5}}),
    ]  # a turn without a row (TurnEnded(3, None)) completes nothing
    assert set(msgs[-1][1]["metrics"]) <= set(REPORTED_METRICS)
    assert turns == [(2, {**row, "interrupted": True})]


# --- the one reply player ---------------------------------------------------------------------

PLAYER_CHECK = """
const log = [];
const ctx = { currentTime: 0, destination: {}, createBuffer: (ch, n, rate) => ({ length: n, duration: n / rate,
  copyToChannel() {} }), createBufferSource() {
    const s = { connect() { return s; }, start(t) { s.when = t; log.push(s); }, stop() { s.stopped = true; } };
    return s; } };
let changes = 0;
const p = createReplyPlayer(() => { changes += 1; });
const pcm = (n) => new Float32Array(n);
const at = (now, n, start) => {
  ctx.currentTime = now;
  return p.play(ctx, pcm(n), 24000, start) ? log.at(-1).when : null;
};
const out = {};
out.first = at(1.0, 2400, 0);            // from idle: at once, sample 0 pinned to t = 1.0
out.contiguous = at(1.02, 2400, 2400);   // still playing: back to back (1.1)
out.gap = at(1.05, 2400, 7200);          // a 0.1 s gap on the speaker timeline stays a gap (1.3)
out.afterIdle = at(2.0, 2400, 48000);    // idle again: at once, pinned anew
out.late = at(2.05, 2400, 48000 + 2400); // back to back with the previous (2.1)
const before = log.length;
p.flush();
out.stopped = log.slice(0, before).every((s) => s.stopped);
out.afterFlush = at(2.06, 2400, 60000);  // at once
out.untimed = [at(2.07, 2400, undefined), log.at(-2).when + 0.1];  // no start sample: back to back
p.reset();
out.afterReset = at(2.08, 2400, 1000000);
out.noCtx = p.play(null, pcm(10), 24000, 0);
out.empty = p.play(ctx, pcm(0), 24000, 0);
out.counters = [p.segments, p.samples, +p.seconds.toFixed(6), p.flushes, changes];
console.log(JSON.stringify(out));
"""


def _node(source: str, *args: str) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs node (Debian nodejs) to run the player's script")
    return subprocess.run([node, *args], input=source, capture_output=True, text=True, timeout=60)


def test_the_player_schedules_at_the_start_sample_and_flushes():
    proc = _node(PLAYER_JS.read_text() + PLAYER_CHECK)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    when = {k: out[k] for k in ("first", "contiguous", "gap", "afterIdle", "late", "afterFlush", "afterReset")}
    assert when == pytest.approx({"first": 1.0, "contiguous": 1.1, "gap": 1.3, "afterIdle": 2.0, "late": 2.1,
                                  "afterFlush": 2.06, "afterReset": 2.08})
    assert out["stopped"] is True and out["untimed"][0] == pytest.approx(out["untimed"][1])
    assert out["noCtx"] is False and out["empty"] is False
    # 8 segments of 0.1 s scheduled, one flush; onChange after each play and the flush
    assert out["counters"] == [8, 8 * 2400, pytest.approx(0.8), 1, 9]


def test_both_clients_load_the_one_player():
    player = PLAYER_JS.read_text()
    client = PAGES["/client.js"].read_text()
    assert PAGES["/player.js"] == PLAYER_JS
    page = PAGES["/"].read_text()
    assert page.index('<script src="player.js">') < page.index('<script src="client.js">')
    # the widget's module is the player, then mic.js; neither client schedules audio itself
    assert MIC_ESM.startswith(player) and MIC_ESM.endswith(MIC_JS.read_text())
    for own in (MIC_JS.read_text(), client):
        assert "createReplyPlayer(" in own and "createBufferSource" not in own and "src.start" not in own
    # both parse: the widget's as an ES module, the page's two classic scripts in order
    assert _node(MIC_ESM, "--input-type=module", "--check").returncode == 0
    assert _node(player + "\n" + client, "--check").returncode == 0


def test_the_package_ships_the_player():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["voicelab"]
    rel = PLAYER_JS.relative_to(ROOT / "voicelab").as_posix()
    assert PLAYER_JS.is_file() and any(fnmatch.fnmatch(rel, p) for p in patterns), (rel, patterns)
