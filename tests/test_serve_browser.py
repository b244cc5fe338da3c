"""``voicelab serve`` and its web page, end to end in a real browser with the real models.

The real CLI starts the server (Whisper, SmolLM2, Kokoro, Silero); headless Debian Chromium,
driven by Playwright, opens ``/`` and presses Start; Chromium's fake capture device plays a
bundled real clip (then silence) into ``getUserMedia`` (echo cancellation on). The page
streams it over the WebSocket; the server's VAD ends the turn, the reply's text and audio
stream back, the page plays it. Then SIGTERM: the server closes the session and exits 0.

Needs ``/usr/bin/chromium`` (``make browser``); about 40 s on 2 cores.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf
import soxr

from voicelab.audio.clips import resolve_clip
from voicelab.measure.metrics import wer

from chromium import CHROMIUM, launch

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CLIP = "cmu_arctic_a0007"
FAKE_RATE = 48_000
PAD_S = 20.0  # silence after the clip (Chromium loops the file): the reply ends before it repeats
CONFIG = """
name: serve-browser
llm: {max_new_tokens: 40}
"""


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"voicelab serve exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError("voicelab serve did not become healthy")


def test_web_page_talks_to_the_served_agent(tmp_path, free_port):
    if not CHROMIUM.is_file():
        pytest.skip("needs Debian chromium at /usr/bin/chromium (`make browser`)")
    from playwright.sync_api import sync_playwright

    clip = resolve_clip(CLIP)
    fake = np.concatenate([soxr.resample(clip.audio, 16_000, FAKE_RATE).astype(np.float32),
                           np.zeros(int(PAD_S * FAKE_RATE), np.float32)])
    fake_wav = tmp_path / "fake_capture_48k.wav"
    sf.write(fake_wav, np.clip(fake, -1, 1), FAKE_RATE, subtype="PCM_16")
    config = tmp_path / "serve.yaml"
    config.write_text(CONFIG)
    port = free_port
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "voicelab.cli", "serve", str(config), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_healthy(url, proc) == {"status": "ok", "sessions": 0, "max_sessions": 8}
        with sync_playwright() as pw:
            browser = launch(pw, fake_wav)
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url + "/")
                page.click("#toggle")
                page.wait_for_function("() => window.voicelab.messages.some(m => m.type === 'response_complete')",
                                       timeout=90_000)
                page.wait_for_timeout(300)
                got = page.evaluate("() => ({messages: window.voicelab.messages, sent: window.voicelab.sentFrames,"
                                    " played: window.voicelab.playedSamples,"
                                    " you: document.querySelector('.turn .you').textContent,"
                                    " agent: document.querySelector('.turn .agent').textContent,"
                                    " metrics: document.querySelector('.turn .metrics').textContent})")
                page.click("#toggle")  # stop
                page.wait_for_function("() => window.voicelab.messages.some(m => m.type === 'session_ended')",
                                       timeout=30_000)
                assert not errors, errors
            finally:
                browser.close()
        health = json.loads(urllib.request.urlopen(f"{url}/health", timeout=5).read())
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    kinds = [m["type"] for m in got["messages"]]
    assert kinds[0] == "session_started" and "vad_status" in kinds and "response_audio" in kinds
    assert got["sent"] > 50                                   # 32 ms frames from the microphone
    transcript = got["you"].removeprefix("you: ")
    assert wer(clip.reference_text, transcript) <= 0.3, transcript
    assert got["agent"].startswith("agent: ") and len(got["agent"]) > 10
    assert got["played"] > 0.3 * 24000                        # the reply's audio reached the page
    assert "voice-to-voice" in got["metrics"] and " ms" in got["metrics"]
    assert health["sessions"] == 0                            # the stopped session is gone
    assert proc.returncode == 0, err[-2000:]
    assert "shutting down" in err
