"""``voicelab serve`` on the real models, measured by ``voicelab bench`` over loopback.

The real CLI serves Whisper, SmolLM2 and Kokoro; one bench client says a real recorded
clip at real-time pace. Checked: the server heard it (WER), the reply is real audio, and the
client's voice-to-voice agrees with the server's own playback timeline within one 10 ms
output frame (both clocks start at the first sent sample's capture), and the server stored
the session (``--db`` SQLite). About 30 s on 2 cores.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from voicelab.bench.run import run_bench
from voicelab.store import ConversationStore
from voicelab.store.schema import SessionRow, TurnRow

from test_serve_browser import _wait_healthy

pytestmark = pytest.mark.integration

CLIP = "librivox_sense_and_sensibility_0870"


def test_bench_against_the_real_served_agent(tmp_path, free_port):
    config = tmp_path / "serve.yaml"
    config.write_text("name: serve-real\nllm: {max_new_tokens: 40}\n")
    port = free_port
    db = f"sqlite:///{tmp_path / 'voicelab.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "voicelab.cli", "serve", str(config), "--port", str(port),
                             "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        table = run_bench(f"ws://127.0.0.1:{port}", [CLIP], tmp_path / "bench", clients=1, log=lambda m: None)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    (row,) = table.itertuples()
    assert row.stt_wer <= 0.15, row.transcript
    assert row.response_text.strip()
    audio, rate = sf.read(tmp_path / "bench" / "client-0" / "agent.wav", dtype="float32")
    start = int(row.first_audio_played_ms * rate / 1000)
    assert np.sqrt(np.mean(audio[start: start + rate] ** 2)) > 0.01          # a real, non-silent reply
    assert 0 < row.voice_to_voice_latency_ms < 10_000
    assert abs(row.received_check_ms) <= 1000 / rate                          # the audio is where the trace says
    assert abs(row.wire_delay_ms) <= 10.0, row.wire_delay_ms                  # within one output frame
    summary = json.loads((tmp_path / "bench" / "summary.json").read_text())
    assert summary["replied"] == 1 and summary["server_reported_v2v_p50_ms"] > 0
    assert proc.returncode == 0, err[-2000:]
    # the session was stored (SIGTERM wrote what was queued): its turn, with the transcript
    # the client was sent and the server's own voice-to-voice
    store = ConversationStore(db)
    try:
        turns = store.read(lambda s: [(t.transcript, t.voice_to_voice_latency_ms) for t in s.scalars(select(TurnRow))])
        ended = store.read(lambda s: s.scalars(select(SessionRow.end_reason)).all())
    finally:
        store.close()
    assert (row.transcript, row.peer_reported_v2v_ms) in [(t, pytest.approx(v)) for t, v in turns]
    assert ended == ["stop"]
