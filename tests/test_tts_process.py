"""``tts.isolation: process`` on the real Kokoro: the worker process answers like the
in-process engine, and a worker killed mid-session fails one request, is restarted, and
speaks again."""

import asyncio
import os

import numpy as np
import pytest

from voicelab.config import TTSConfig
from voicelab.tts import make_supervised_tts, make_tts
from voicelab.tts.process import ProcessTTS, TTSFailure
from voicelab.tts.supervised import TTSUnavailable

pytestmark = pytest.mark.integration


def test_worker_process_matches_in_process_and_survives_a_kill():
    config = TTSConfig(isolation="process", restart_backoff_ms=0.0)
    local = make_tts(TTSConfig())
    expected = local.synthesize_sync("Hello there.")
    tts = make_supervised_tts(config)
    try:
        assert isinstance(tts.inner, ProcessTTS) and tts.sample_rate == 24000

        async def session():
            first = await tts.synthesize("Hello there.")
            pid = tts.inner.process.pid
            os.kill(pid, 9)                                # the engine crashes
            with pytest.raises(TTSFailure, match="died"):
                await tts.synthesize("Are you there?")
            with pytest.raises(TTSUnavailable):          # restarting: text only meanwhile
                await tts.synthesize("Still there?")
            await tts.wait_restarted()
            again = await tts.synthesize("Hello there.")
            return first, again, pid
        first, again, old_pid = asyncio.run(session())
        np.testing.assert_allclose(first, expected, atol=1e-5)   # the same engine, over a pipe
        np.testing.assert_allclose(again, expected, atol=1e-5)
        assert tts.inner.process.pid != old_pid and tts.inner.process.is_alive() and tts.failures == 1
    finally:
        tts.close()
    assert not tts.inner.process.is_alive()


def test_a_worker_that_cannot_load_its_model_says_why():
    with pytest.raises(TTSFailure, match="failed to start: .*voice"):
        ProcessTTS(TTSConfig(voice="no_such_voice"))
