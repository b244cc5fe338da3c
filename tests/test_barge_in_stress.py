"""Stress (issue 17): 1,000 randomly timed barge-ins on scripted fake stages in virtual time.

No deadlock (the session ends), no leaked thread or asyncio task, and exactly one terminal
event per reply: every generation that started finished once (``LLMFinished``, cancelled or
not), and every reply that started playing stopped once (``PlaybackStopped``, interrupted or
not). The same checks on the real models are ``benchmarks/barge_in_stress.py``.
"""

import asyncio
import threading
from collections import Counter

import numpy as np

from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import LLMFinished, LLMStarted, PlaybackStarted, PlaybackStopped, ResponseCancelled
from voicelab.measure.metrics import turns_table
from voicelab.session import TurnSpec, VoiceAgent

from scripted_stages import scripted_stages, speech_clip

N_BARGE_INS = 1000


def test_a_thousand_random_barge_ins_end_cleanly():
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0, "trigger": {"policy": "words", "words": 2},
        "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10},
        "barge_in": {"enabled": True, "threshold": 0.5, "min_barge_in_ms": 200},
        "vad": {"turn_detector": "none"}, "speculate": {"enabled": False},
    })
    # offsets from before the reply's first sample to well after its last: barge-ins during
    # generation, during playback, at its end and after it (then a normal turn)
    rng = np.random.default_rng(17)
    offsets = rng.uniform(0, 3000, N_BARGE_INS)
    words = [f" w{i}" for i in range(25)]
    stages = scripted_stages(tokens=words, token_ms=40, tts_ms_per_char=60)
    variant = cfg.resolved_variants()[0]
    clip = speech_clip()
    turns = [TurnSpec(clip, variant, False, (320.0, 1320.0))]
    turns += [TurnSpec(clip, variant, False, (320.0, 1320.0), "after_agent_starts", float(o)) for o in offsets]
    agent = VoiceAgent(cfg, stages)
    threads_before = threading.active_count()
    tasks: dict[str, int] = {}

    async def session():
        tasks["before"] = len(asyncio.all_tasks())
        result = await agent.run(turns)
        await asyncio.sleep(0)
        tasks["after"] = len(asyncio.all_tasks())
        return result

    result = run_virtual(session())
    trace = result.trace

    assert len(turns_table(trace, 200.0)) == N_BARGE_INS + 1
    assert tasks["after"] == tasks["before"], tasks
    assert threading.active_count() == threads_before
    assert agent.responding is None and not agent.speaker._queue

    started, finished = Counter(e.turn for e in trace.of(LLMStarted)), Counter(e.turn for e in trace.of(LLMFinished))
    assert started and finished == Counter(dict.fromkeys(started, 1)), "one LLMFinished per started generation"
    assert set(started.values()) == {1}
    played, stopped = {e.turn for e in trace.of(PlaybackStarted)}, Counter(e.turn for e in trace.of(PlaybackStopped))
    assert stopped == Counter(dict.fromkeys(played, 1)), "one PlaybackStopped per reply that played"
    cut = [e for e in trace.of(PlaybackStopped) if e.interrupted]
    cancelled = trace.of(ResponseCancelled)
    # the random offsets really do interrupt (a barge-in after a reply ended cuts nothing)
    assert 0.3 * N_BARGE_INS < len(cut) <= N_BARGE_INS
    assert {e.turn for e in cut} <= {e.turn for e in cancelled}
