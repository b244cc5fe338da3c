"""``faults:`` in ``voicelab serve`` (issue 17), on scripted stages in virtual time: the network
sink's faults (every frame to the client is a request) and the agent's stage faults."""

import asyncio
import json

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import FaultInjected, TurnFailed
from voicelab.serve.app import VoiceServer
from voicelab.serve.models import ModelManager
from voicelab.session.response import APOLOGY

from scripted_stages import scripted_stages
from test_serve import _collect, _of, _speech, _stream

START = json.dumps({"type": "start"})


def _serve_one(faults: dict) -> tuple[list, VoiceServer]:
    """One client: start, say the scripted "hello agent" (5 s), stop; every frame received."""
    cfg = ExperimentConfig.model_validate({
        "trigger": {"policy": "words", "words": 2},
        "vad": {"kind": "energy", "threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False}, "tts": {"coalesce": True}, "audio": {"speaker_frame_ms": 10},
        "faults": faults,
    })

    async def main():
        server = VoiceServer(ModelManager(cfg, (scripted_stages(), []), log=lambda m: None), log=lambda m: None)
        port = await server.start("127.0.0.1", 0)
        frames = []
        try:
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                reader = asyncio.create_task(_collect(ws, frames))
                await ws.send(START)
                try:
                    await _stream(ws, _speech(5.0))
                    await ws.send(json.dumps({"type": "stop"}))
                except ConnectionClosed:  # the server closed it (a failed send)
                    pass
                await reader
                return frames, server
        finally:
            await server.shutdown()
    return run_virtual(main())


def _kinds(frames) -> list[str]:
    return [f["type"] if isinstance(f, dict) else "pcm" for f in frames]


def test_a_dropped_frame_is_missing_and_the_session_goes_on():
    clean, _ = _serve_one({})
    dropped, server = _serve_one({"sink": {"kind": "empty", "at": [4, 6]}})
    assert _kinds(dropped) == [k for i, k in enumerate(_kinds(clean)) if i not in (4, 6)]
    assert _of(dropped, "response_complete") and _of(dropped, "session_ended")
    (s,) = server.finished
    assert s.end_reason == "stop"
    assert [(e.stage, e.request, e.kind) for e in s.result.trace.of(FaultInjected)] == [("sink", 4, "empty"),
                                                                                       ("sink", 6, "empty")]


def test_a_failed_send_closes_the_connection_and_ends_the_session():
    clean, _ = _serve_one({})
    frames, server = _serve_one({"sink": {"kind": "raise", "at": [8]}})
    assert _kinds(frames) == _kinds(clean)[:8]  # what was sent before the failure, then the close
    (s,) = server.finished
    assert s.end_reason == "send_failed"
    assert [(e.stage, e.request) for e in s.result.trace.of(FaultInjected)] == [("sink", 8)]
    assert not server.sessions


def test_a_stalled_send_never_blocks_the_agent_then_ends_the_session():
    clean, _ = _serve_one({})
    # request 5 is the transcription (at 2156 ms); the reply plays 2640..2990 ms
    frames, server = _serve_one({"sink": {"kind": "hang", "at": [5], "hang_ms": 1500}})
    assert _kinds(frames) == _kinds(clean)[:5]
    (s,) = server.finished
    assert s.end_reason == "send_failed"
    (fault,) = s.result.trace.of(FaultInjected)
    # while the send hung, the agent went on: it answered and played its whole reply
    later = [type(e).__name__ for e in s.result.trace if fault.t_ms < e.t_ms < fault.t_ms + 1500]
    assert {"LLMFinished", "PlaybackStarted", "PlaybackStopped"} <= set(later), later


def test_stage_faults_apply_to_served_sessions():
    frames, server = _serve_one({"llm": {"kind": "raise", "at": [0]}})
    (done,) = _of(frames, "response_complete")
    assert "".join(d["text"] for d in _of(frames, "response_text")).strip() == APOLOGY.strip()
    (s,) = server.finished
    (failed,) = s.result.trace.of(TurnFailed)
    assert failed.stage == "llm"
