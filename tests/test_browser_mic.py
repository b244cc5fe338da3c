"""The microphone widget in a real browser: headless Debian Chromium driven by Playwright.

Chromium's fake capture device plays a bundled real clip (as a 48 kHz WAV) into
``getUserMedia``. The page is a minimal standalone HTML page served from a local HTTP
server on 127.0.0.1; it loads the widget's own ES module (``voicelab/static/mic.js``, the
anywidget ``_esm`` of :class:`voicelab.widgets.MicrophoneWidget`) with a stand-in for
anywidget's model whose ``send`` POSTs each message (JSON content + binary buffer) to the
server, in order. The server hands them to :class:`voicelab.audio.browser.MicBuffer`,
exactly what the widget's kernel side does with its comm messages. So the JS recording
code and the Python conversion code under test are the notebook's; only the transport
(HTTP instead of the Jupyter comm) differs.

Asserts: the kernel side received about the clip's duration of non-silent audio, its
Whisper transcript matches the clip's reference (WER <= 0.3), and the agent answered
it with played audio. Takes a screenshot of the page (into ``docs/live_agent.png`` when
``VOICELAB_SCREENSHOT=1``, else into the test's temporary directory).

Needs ``/usr/bin/chromium`` (``make browser``; Playwright's own browser download is never used).
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from voicelab.audio.browser import MicBuffer
from voicelab.audio.clips import resolve_clip
from voicelab.config import ExperimentConfig
from voicelab.metrics import wer

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
CLIP = "cmu_arctic_a0007"
FAKE_RATE = 48_000
PAD_S = 1.0  # silence after the clip in the fake-capture file (Chromium loops the file)
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "live_agent.png"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>voicelab: talk to the agent</title>
<link rel="stylesheet" href="/mic.css">
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:760px}
h2{margin:0 0 4px}p.sub{color:#555;margin:0 0 16px}#reply{margin-top:14px}</style></head>
<body>
<h2>voicelab &mdash; talk to the agent</h2>
<p class="sub">Microphone widget (voicelab/static/mic.js): getUserMedia &rarr; AudioWorklet &rarr; kernel
(16 kHz) &rarr; VAD &rarr; Whisper &rarr; SmolLM2 &rarr; 2-word trigger &rarr; Kokoro</p>
<div id="mic"></div><div id="reply"></div>
<script type="module">
import widget from "/mic.js";
const state = {recording: false, message: "", max_seconds: 0};
const handlers = {};
let chain = Promise.resolve();
window.vlSent = 0;
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  save_changes: () => {},
  on: (ev, f) => { (handlers[ev] ||= []).push(f); },
  off: (ev, f) => { handlers[ev] = (handlers[ev] || []).filter((g) => g !== f); },
  // anywidget's model.send(content, callbacks, buffers), over HTTP, strictly in order
  send: (content, callbacks, buffers) => {
    const body = buffers && buffers.length ? buffers[0] : new ArrayBuffer(0);
    const url = "/msg?content=" + encodeURIComponent(JSON.stringify(content));
    chain = chain.then(() => fetch(url, {method: "POST", body})).then(() => { window.vlSent++; });
  },
};
window.vlModel = model;
widget.render({model, el: document.getElementById("mic")});
window.vlReady = true;
</script></body></html>
"""


class _Server:
    """127.0.0.1 HTTP server: the page, the widget's JS/CSS, the message sink, the reply WAV."""

    def __init__(self, buffer: MicBuffer) -> None:
        from voicelab.widgets import MIC_CSS, MIC_JS

        files = {"/": (PAGE.encode(), "text/html"), "/mic.js": (MIC_JS.read_bytes(), "text/javascript"),
                 "/mic.css": (MIC_CSS.read_bytes(), "text/css")}
        self.files = files
        self.errors: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body, ctype = files.get(self.path.split("?")[0], (None, None))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    content = json.loads(query["content"][0])
                    buffer.handle_message(content, [data] if data else [])
                except Exception as err:  # reported by the test, not swallowed
                    outer.errors.append(repr(err))
                self.send_response(204)
                self.end_headers()

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def stages():
    from voicelab.runner import load_stages

    return load_stages(ExperimentConfig(), log=lambda m: None)


def test_microphone_widget_in_chromium(tmp_path, stages):
    if not CHROMIUM.is_file():
        pytest.skip("needs Debian chromium at /usr/bin/chromium (`make browser`)")
    from playwright.sync_api import sync_playwright

    from voicelab.notebook import latency_readout, run_clip, wav_bytes

    clip = resolve_clip(CLIP)
    clip_s = len(clip.audio) / 16_000
    fake = np.concatenate([soxr.resample(clip.audio, 16_000, FAKE_RATE).astype(np.float32),
                           np.zeros(int(PAD_S * FAKE_RATE), np.float32)])
    fake_wav = tmp_path / "fake_capture_48k.wav"
    sf.write(fake_wav, np.clip(fake, -1, 1), FAKE_RATE, subtype="PCM_16")
    record_s = len(fake) / FAKE_RATE

    buffer = MicBuffer()
    stopped = threading.Event()
    buffer.on_stop.append(lambda _b: stopped.set())
    with _Server(buffer) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={fake_wav}",
                  "--autoplay-policy=no-user-gesture-required",
                  "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 820, "height": 420})
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.on("pageerror", lambda e: console.append(str(e)))
            page.goto(server.url)
            page.wait_for_function("window.vlReady === true", timeout=10_000)
            button = page.locator(".voicelab-mic button")
            assert button.inner_text().endswith("Record")
            button.click()
            page.wait_for_function("window.vlSent >= 1", timeout=10_000)  # the `start` message
            page.wait_for_timeout(int(record_s * 1000))
            button.click()
            assert stopped.wait(15), f"no stop message; console: {console}"
            assert not server.errors, server.errors

            # the kernel side: about the recorded duration of non-silent audio at 16 kHz
            audio = buffer.audio()
            dur = len(audio) / 16_000
            assert buffer.rate and buffer.messages > 10
            assert clip_s - 0.3 <= dur <= record_s + 1.5, (dur, clip_s, record_s)
            assert float(np.sqrt(np.mean(audio**2))) > 3e-3
            heard = stages[0].stt.transcribe_sync(audio)
            assert wer(clip.reference_text, heard) <= 0.3, heard

            # the agent answers the recording
            result = run_clip(ExperimentConfig(audio={"lead_in_ms": 200, "turn_gap_ms": 200}),
                              stages[0], buffer.clip("browser-microphone"))
            row = result.row
            assert isinstance(row.response_text, str) and row.response_text.strip()
            assert len(result.reply_audio) and float(np.sqrt(np.mean(result.reply_audio**2))) > 1e-3
            assert np.isfinite(result.voice_to_voice_ms)

            # what a person sees: the transcript, reply, latency and a player for the reply
            server.files["/reply.wav"] = (wav_bytes(result.reply_audio, 16_000), "audio/wav")
            page.evaluate("(m) => window.vlModel.set('message', m)",
                          f"heard: {row.transcript}\nagent: {row.response_text}\n{latency_readout(result)}")
            page.evaluate("""() => { const d = document.getElementById('reply');
                d.innerHTML = '<b>agent reply</b><br><audio controls src="/reply.wav"></audio>'; }""")
            page.wait_for_timeout(300)
            shot = SCREENSHOT if os.environ.get("VOICELAB_SCREENSHOT") == "1" else tmp_path / SCREENSHOT.name
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5_000
        finally:
            browser.close()
