"""TTS failures on scripted stages in virtual time: the reply goes on as text only, TTS is
restarted with exponential backoff, and the next reply speaks again; over the wire, the
client gets ``error`` (``tts_failed``, ``degraded: true``) and every ``response_text``."""

import asyncio
import dataclasses
import json

import pytest
from websockets.asyncio.client import connect

from voicelab.clock import run_virtual
from voicelab.events import TTSFailed, TTSRestarted
from voicelab.serve.app import VoiceServer
from voicelab.tts.process import TTSFailure
from voicelab.tts.scripted import ScriptedTTS
from voicelab.tts.supervised import SupervisedTTS, TTSUnavailable

from test_serve import _collect, _manager, _of, _speech, _stream


class BrokenTTS(ScriptedTTS):
    """Scripted TTS whose request number ``fail_at`` (0-based) raises; None: never."""

    def __init__(self, fail_at=None, hang=False):
        super().__init__(base_ms=230, audio_ms_per_char=10)
        self.fail_at, self.hang = fail_at, hang

    async def synthesize(self, text):
        if len(self.requests) == self.fail_at:
            self.requests.append(text)
            if self.hang:
                await asyncio.sleep(3600)
            raise RuntimeError("engine exploded")
        return await super().synthesize(text)


def _factory(*engines, build_fails=False):
    """Hands out ``engines`` in order (the first is the initial one); with ``build_fails``,
    every rebuild raises."""
    made = []

    def make():
        if made and build_fails:
            raise OSError("no model today")
        tts = engines[len(made)]
        made.append(tts)
        return tts
    return make, made


def test_failure_restarts_once_with_backoff_and_requests_wait_for_it():
    make, made = _factory(BrokenTTS(fail_at=0), BrokenTTS())
    tts = SupervisedTTS(make, timeout_s=None, attempts=5, backoff_s=0.25)
    heard = []
    tts.subscribe(lambda *a: heard.append((asyncio.get_running_loop().time(), *a)))

    async def main():
        with pytest.raises(TTSFailure, match="RuntimeError: engine exploded"):
            await tts.synthesize("one")
        with pytest.raises(TTSUnavailable):           # restarting: not tried
            await tts.synthesize("two")
        await tts.wait_restarted()
        return await tts.synthesize("three")
    audio = run_virtual(main())
    assert len(audio) == 5 * 240 and len(made) == 2 and tts.inner is made[1] and tts.failures == 1
    # one attempt, 0.25 s after the failure (at 0: the failed request raised at once), ok
    ((t, attempt, ok, restart_ms, down_ms, error),) = heard
    assert (attempt, ok, error) == (1, True, "") and t == pytest.approx(0.25) and down_ms == pytest.approx(250.0)
    assert made[1].requests == ["three"]


def test_exponential_backoff_then_gives_up():
    make, made = _factory(BrokenTTS(fail_at=0), build_fails=True)
    tts = SupervisedTTS(make, timeout_s=None, attempts=5, backoff_s=0.25)
    heard = []
    tts.subscribe(lambda *a: heard.append((asyncio.get_running_loop().time(), *a)))

    async def main():
        with pytest.raises(TTSFailure):
            await tts.synthesize("one")
        await tts.wait_restarted()
        with pytest.raises(TTSUnavailable, match="5 restart attempts failed"):
            await tts.synthesize("two")
    run_virtual(main())
    starts = [t - restart_ms / 1000 for t, _, _, restart_ms, _, _ in heard]
    assert [a for _, a, *_ in heard] == [1, 2, 3, 4, 5] and not any(ok for _, _, ok, *_ in heard)
    assert starts == pytest.approx([0.25, 0.75, 1.75, 3.75, 7.75])   # 0.25 * (2**k - 1)
    assert all(e == "OSError: no model today" for *_, e in heard) and tts.gave_up


def test_a_hung_request_times_out():
    make, _ = _factory(BrokenTTS(fail_at=0, hang=True), BrokenTTS())
    tts = SupervisedTTS(make, timeout_s=2.0, attempts=1, backoff_s=0.0)

    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(TTSFailure, match="no audio within 2 s"):
            await tts.synthesize("one")
        failed_at = loop.time()
        await tts.wait_restarted()
        return failed_at, await tts.synthesize("ok")
    failed_at, audio = run_virtual(main())
    assert failed_at == pytest.approx(2.0) and len(audio) == 2 * 240


def _server_with(tts):
    manager = _manager()
    manager.stages = dataclasses.replace(manager.stages, tts=tts)
    return manager


def test_over_the_wire_the_reply_goes_on_as_text_and_the_next_one_speaks():
    # request 0 of the first reply ("Hello there,") plays; request 1 ("how are you?") fails
    make, made = _factory(BrokenTTS(fail_at=1), BrokenTTS())
    tts = SupervisedTTS(make, timeout_s=None, attempts=5, backoff_s=0.25)
    manager = _server_with(tts)

    async def main():
        server = VoiceServer(manager, log=lambda m: None)
        port = await server.start("127.0.0.1", 0)
        frames = []
        try:
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                reader = asyncio.create_task(_collect(ws, frames))
                await ws.send(json.dumps({"type": "start"}))
                await _stream(ws, _speech(5.0))
                await ws.send(json.dumps({"type": "text", "data": {"text": "again"}}))
                await _stream(ws, _speech(3.0, ()))
                await ws.send(json.dumps({"type": "stop"}))
                await reader
        finally:
            await server.shutdown()
        return frames, server.finished[0].result.trace
    frames, trace = run_virtual(main())
    (err,) = _of(frames, "error")
    assert (err["code"], err["degraded"], err["reply_id"], err["request_id"]) == ("tts_failed", True, 0, 1)
    assert "RuntimeError: engine exploded" in err["message"]
    texts = {}
    for d in _of(frames, "response_text"):
        texts.setdefault(d["reply_id"], []).append(d["text"])
    assert "".join(texts[0]) == "".join(texts[1]) == "Hello there, how are you?"   # all of it, as text
    done = _of(frames, "response_complete")
    assert [d["reply_id"] for d in done] == [0, 1] and done[0]["text"] == "Hello there, how are you?"
    heads = _of(frames, "response_audio")
    assert [(h["reply_id"], h["request_id"]) for h in heads] == [(0, 0), (1, 0), (1, 1)]   # reply 1 speaks again
    pcm = [f for f in frames if isinstance(f, bytes)]
    assert len(pcm[0]) // 2 == len("Hello there,") * 10 * 24
    (failed,) = [e for e in trace if isinstance(e, TTSFailed)]
    (restarted,) = [e for e in trace if isinstance(e, TTSRestarted)]
    assert (failed.turn, failed.request, restarted.attempt, restarted.ok) == (0, 1, 1, True)
    assert restarted.t_ms - failed.t_ms == pytest.approx(250.0)
    assert made[1].requests == ["Hello there,", "how are you?"]


def test_a_request_gets_its_base_limit_plus_a_per_word_allowance():
    from voicelab.tts.base import request_timeout_s

    assert request_timeout_s("one two  three", 15.0, 0.5) == 16.5
    assert request_timeout_s("", 15.0, 0.5) == 15.0 and request_timeout_s("a b", None, 0.5) is None

    class Slow(ScriptedTTS):
        async def synthesize(self, text):
            await asyncio.sleep(0.3)                      # every request takes 300 ms (virtual time)
            return await super().synthesize(text)

    tts = SupervisedTTS(lambda: Slow(base_ms=0, audio_ms_per_char=10), timeout_s=0.1, attempts=0, per_word_s=0.1)

    async def main():
        assert len(await tts.synthesize("a whole long reply")) > 0   # limit 0.1 + 4 x 0.1 = 0.5 s
        with pytest.raises(TTSFailure, match="no audio within 0.2 s"):  # one word: 0.2 s
            await tts.synthesize("short")

    run_virtual(main())
