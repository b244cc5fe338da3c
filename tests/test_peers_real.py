"""A stock Pipecat pipeline (``engine: pipecat``) on the real models and a real clip.

The pipeline's services are Pipecat's own, so there is nothing to fake: one real clip
goes through it in a voicelab session, and the trace it leaves is checked against the
audio. Needs the model assets (``make setup``) and the ``pipecat`` extra (installed by
``make setup`` with the test extra).
"""

import threading

import numpy as np
import pytest
import soundfile as sf

from voicelab.config import ExperimentConfig
from voicelab.events import ChunkTriggered, LLMStarted, PeerReported, PlaybackStarted, Trace, WordEmitted
from voicelab.lab.runner import run_experiment
from voicelab.stages import load_stages

pytestmark = pytest.mark.integration

CLIP = "librivox_sense_and_sensibility_0870"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("pipecat", reason="the `pipecat` extra is not installed (pip install 'voicelab[pipecat]')")
    cfg = ExperimentConfig.model_validate({
        "name": "pipecat-integration", "clips": [CLIP], "warmup_turns": 0,
        "variants": [{"name": "pipecat-token", "engine": "pipecat",
                      "pipecat": {"text_aggregation": "token", "stt_beam_size": 1}}],
        "llm": {"max_new_tokens": 40},
    })
    stages = load_stages(cfg, log=lambda m: None)
    threads_before = {t.name for t in threading.enumerate()}
    result = run_experiment(cfg, tmp_path_factory.mktemp("pipecat"), stages=stages, log=lambda m: None)
    return result, threads_before


def test_pipecat_hears_the_clip(run):
    result, _ = run
    (row,) = result.turns.itertuples()
    assert row.engine == "pipecat"
    assert row.stt_wer <= 0.15, row.transcript
    assert row.response_text.strip()


def test_pipecat_reply_is_played_and_measured(run):
    result, _ = run
    audio, rate = sf.read(result.out_dir / "agent.wav", dtype="float32")
    trace = Trace.load_jsonl(result.out_dir / "events.jsonl")
    (play, *_) = trace.of(PlaybackStarted, 0)
    # the first sample the speaker played is where the trace says playback started (int16 in
    # the WAV: the first sample of at least one LSB), within one 10 ms output frame
    first = int(np.argmax(np.abs(audio) >= 1 / 32768))
    assert rate == 24000 and 0 <= first - play.sample_index < 240
    reply = audio[play.sample_index: play.sample_index + rate]
    assert np.sqrt(np.mean(reply**2)) > 0.01  # not silent
    (row,) = result.turns.itertuples()
    assert row.voice_to_voice_latency_ms == pytest.approx(play.t_ms - row.speech_end_ms)
    # Pipecat's own figure is recorded beside the measured one
    assert any(r.metric == "user_bot_latency" for r in trace.of(PeerReported, 0))
    assert np.isfinite(row.peer_v2v_error_ms) and abs(row.peer_v2v_error_ms) < 1000.0


def test_pipecat_words_and_chunks_agree(run):
    result, _ = run
    trace = Trace.load_jsonl(result.out_dir / "events.jsonl")
    # one index per word of the turn, in order, across a restarted reply's words too; every
    # chunk handed to TTS covers words the trace has
    words = [w.index for w in trace.of(WordEmitted, 0)]
    assert words == list(range(len(words))) and words
    assert all(0 <= c.first_word <= c.last_word < len(words) for c in trace.of(ChunkTriggered, 0))
    (row,) = result.turns.itertuples()
    assert row.restarted_replies == len(trace.of(LLMStarted, 0)) - 1


def test_pipecat_leaves_no_thread_behind(run):
    _, threads_before = run
    # the session's threads (Pipecat's services run in the event loop's executor, the LLM's
    # generation thread) are gone once the run returns; what may remain belongs to the
    # process: voicelab's Whisper worker (started by the round-trip WER) and tqdm's monitor
    new = {t.name for t in threading.enumerate()} - threads_before
    assert new <= {"whisper_0", "tqdm_monitor"}, new
