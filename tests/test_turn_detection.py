"""Turn detection in the session, exactly, on scripted stages in virtual time.

The clip: 320 ms of digital silence, "speech" (a 0.1 constant) 320-1000 ms, a 400 ms
pause, speech 1400-1920 ms, then silence to 2240 ms. The mic places it at 480 ms (the
32 ms frame boundary at or before the 500 ms lead-in), so on the session clock speech
runs 800-1480 and 1880-2400 ms: the true end is 2400 ms.

With min_silence 200 ms: the first silent frame starts at 1504 ms (the frame 1472-1504
still holds speech), so the pause is decided at the end of the frame where 200 ms of
silence is reached, 1728 ms (padded end 1504 + 100 = 1604 ms); after the last word the
silence starts at 2400 ms and the second pause is decided at 2624 ms (padded end 2500).
The scripted detector answers 50 ms after it is asked.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voicelab.audio.clips import Clip
from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import SpeechEnded, SpeechPaused, STTStarted, TurnPredicted
from voicelab.measure.metrics import turns_table
from voicelab.session import TurnSpec, VoiceAgent
from voicelab.vad.endpointing import Endpointer
from voicelab.vad.oracle import OracleVAD

from scripted_stages import scripted_stages


def ms(x):
    return pytest.approx(x, abs=1e-6)


class ScriptedTurnDetector:
    """Answers the scripted probabilities in order, ``delay_ms`` after each question
    (raises once they run out)."""

    def __init__(self, probabilities, delay_ms: float) -> None:
        self.probabilities, self.delay_ms = list(probabilities), delay_ms
        self.calls: list[int] = []

    async def judge(self, audio: np.ndarray) -> float:
        self.calls.append(len(audio))
        await asyncio.sleep(self.delay_ms / 1000.0)
        return self.probabilities[len(self.calls) - 1]


def _run(probabilities, detector_on=True):
    audio = np.zeros(int(2.24 * 16000), np.float32)
    audio[int(0.32 * 16000):int(1.0 * 16000)] = 0.1
    audio[int(1.4 * 16000):int(1.92 * 16000)] = 0.1
    clip = Clip.from_array("paused", audio, "hello agent")
    vad = {"min_speech_ms": 250, "min_silence_ms": 200, "speech_pad_ms": 100, "max_silence_ms": 1000,
           "turn_detector": "smart-turn" if detector_on else "none"}
    cfg = ExperimentConfig.model_validate({
        "clips": ["paused"], "warmup_turns": 0, "trigger": {"policy": "words", "words": 2}, "vad": vad,
        "speculate": {"enabled": False}, "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10}})
    detector = ScriptedTurnDetector(probabilities, delay_ms=50)
    stages = scripted_stages(tokens=["Hi", " there", "."], tts_ms_per_char=60, turn_detector=detector,
                             min_silence_ms=200, max_silence_ms=1000 if detector_on else None)
    turn = TurnSpec(clip, cfg.resolved_variants()[0], False, (320.0, 1920.0))
    result = run_virtual(VoiceAgent(cfg, stages).run([turn]))
    return result.trace, turns_table(result.trace, 200.0).iloc[0], detector


def test_incomplete_at_the_pause_then_complete_at_the_end():
    trace, row, det = _run([0.1, 0.9])
    assert [(e.t_ms, e.audio_ms) for e in trace.of(SpeechPaused)] == [(ms(1728.0), ms(1604.0)),
                                                                      (ms(2624.0), ms(2500.0))]
    preds = trace.of(TurnPredicted)
    assert [(p.started_ms, p.t_ms, p.complete) for p in preds] == [(ms(1728.0), ms(1778.0), False),
                                                                   (ms(2624.0), ms(2674.0), True)]
    # the detector saw the utterance from its padded start (700 ms) to the audio processed
    assert [p.audio_ms for p in preds] == [ms(1028.0), ms(1924.0)] and det.calls == [16448, 30784]
    (end,) = trace.of(SpeechEnded)
    # ended at the verdict (2674 ms; the last frame processed ended at 2656 ms)
    assert (end.t_ms, end.audio_ms, end.decided_ms) == (ms(2674.0), ms(2500.0), ms(2656.0))
    assert trace.of(STTStarted)[0].audio_ms == ms(1800.0)  # 700..2500: both parts of the utterance
    assert not row.premature_endpoint
    assert row.endpoint_delay_ms == ms(274.0)  # 224 ms of silence to the frame + 50 ms detector
    assert row.turn_predictions == 2 and row.turn_detector_ms == ms(50.0)


def test_complete_at_the_pause_is_a_premature_endpoint():
    trace, row, det = _run([0.9])
    (end,) = trace.of(SpeechEnded)
    assert end.t_ms == ms(1778.0) and end.audio_ms == ms(1604.0)
    assert trace.of(STTStarted)[0].audio_ms == ms(904.0)  # only the first part: 700..1604
    assert bool(row.premature_endpoint) and row.endpoint_delay_ms == ms(1778.0 - 2400.0)
    # the rest of the answered turn pauses again but is not judged
    assert len(trace.of(SpeechPaused)) == 2 and det.calls == [16448]


def test_incomplete_everywhere_ends_at_max_silence():
    trace, row, det = _run([0.1, 0.1])
    (end,) = trace.of(SpeechEnded)
    # silence from 2400 ms; 1000 ms of it is reached at the end of the frame 3392-3424
    assert end.t_ms == ms(3424.0) and end.decided_ms == ms(3424.0) and end.audio_ms == ms(2500.0)
    assert not row.premature_endpoint and row.endpoint_delay_ms == ms(1024.0)


def test_a_failing_detector_degrades_to_max_silence():
    trace, row, det = _run([])  # every question raises
    assert [np.isnan(p.probability) and not p.complete for p in trace.of(TurnPredicted)] == [True, True]
    assert trace.of(SpeechEnded)[0].t_ms == ms(3424.0)


def test_without_a_turn_detector_the_first_pause_ends_the_turn():
    trace, row, det = _run([], detector_on=False)
    # min_silence 200 ms ends the turn at the pause: a premature endpoint, no question asked
    assert trace.of(SpeechEnded)[0].t_ms == ms(1728.0) and bool(row.premature_endpoint)
    assert det.calls == [] and not trace.of(SpeechPaused)


def test_turn_detector_config_is_validated():
    from voicelab.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="max_silence_ms"):
        parse_config({"vad": {"turn_detector": "smart-turn", "min_silence_ms": 500, "max_silence_ms": 300}})
    with pytest.raises(ConfigError, match="turn_detector"):
        parse_config({"vad": {"turn_detector": "livekit"}})


# --- the offline pause-set evaluation ------------------------------------------------------------
def test_offline_evaluation_counts_premature_endpoints_exactly():
    from voicelab.config import VADConfig
    from voicelab.lab.turn_taking import PauseItem, evaluate_endpointing

    # speech 0-640 ms, pause 640-1040 ms, speech 1040-1600 ms, then silence: true end 1600
    audio = np.zeros(int(3.2 * 16000), np.float32)
    audio[:int(0.64 * 16000)] = 0.1
    audio[int(1.04 * 16000):int(1.6 * 16000)] = 0.1
    item = PauseItem("x", audio, 1600.0, 400.0)
    vad = VADConfig(min_speech_ms=250, min_silence_ms=200, speech_pad_ms=100, turn_detector="smart-turn",
                    max_silence_ms=1000)
    make = lambda: Endpointer(OracleVAD(), min_speech_ms=250, min_silence_ms=200, speech_pad_ms=100,  # noqa: E731
                              max_silence_ms=1000)
    # complete at the pause: decided at the end of the frame where 200 ms of silence is
    # reached (640 + 200 -> 864 ms), before the true end
    r = evaluate_endpointing([item], vad, lambda a: 0.9, make).iloc[0]
    assert bool(r.premature) and r.pauses == 1 and r.endpoint_ms == pytest.approx(864.0, abs=5.0)
    # incomplete at the pause, complete at the end (1600 + 224 = 1824 ms plus the detector's time)
    answers = iter([0.1, 0.9])
    r = evaluate_endpointing([item], vad, lambda a: next(answers), make).iloc[0]
    assert not r.premature and r.pauses == 2 and r.endpoint_delay_ms == pytest.approx(224.0, abs=5.0)
    # no detector, 500 ms of silence: the 400 ms pause does not end the turn
    plain = VADConfig(min_speech_ms=250, min_silence_ms=500, speech_pad_ms=100, turn_detector="none")
    make500 = lambda: Endpointer(OracleVAD(), min_speech_ms=250, min_silence_ms=500, speech_pad_ms=100)  # noqa: E731
    r = evaluate_endpointing([item], plain, None, make500).iloc[0]
    assert not r.premature and r.endpoint_delay_ms == 512.0
    with pytest.raises(ValueError, match="needs a detector"):
        evaluate_endpointing([item], vad, None, make)


@pytest.mark.integration
def test_pause_set_items_and_true_ends():
    from voicelab.audio.clips import bundled_clip_names, resolve_clip
    from voicelab.lab.turn_taking import PAUSES_MS, pause_set
    from voicelab.truth.reference import clip_reference

    items = pause_set()
    assert len(items) == 6 * (1 + len(PAUSES_MS))
    for it in items:
        base = next(n for n in bundled_clip_names() if it.name.startswith(n))
        ref = clip_reference(resolve_clip(base))
        assert it.speech_end_ms == pytest.approx(ref.end_ms + it.pause_ms)
        assert len(it.audio) >= (ref.end_ms + it.pause_ms) * 16 and it.audio.dtype == np.float32
