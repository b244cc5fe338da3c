"""Exact endpointing logic on a scripted VAD (no model, no timing).

Frames are 512 samples = 32 ms at 16 kHz. With the defaults (threshold 0.5,
neg 0.35, min_speech 250 ms = 4000 samples, min_silence 500 ms = 8000 samples,
pad 100 ms = 1600 samples) speech is confirmed after 8 frames (256 ms) and a turn
ends after 16 silent frames (512 ms).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from voicelab.vad.base import VAD
from voicelab.vad.endpointing import Endpointer, EndpointEvent, SpeechEnd, SpeechStart

N = 512
FRAME_MS = 32.0


class ScriptedVAD(VAD):
    """Returns the scripted probabilities in order, one per frame."""

    name = "scripted"

    def __init__(self, probs: Sequence[float]) -> None:
        self.probs = list(probs)
        self.i = 0
        self.resets = 0

    def speech_probability(self, frame: np.ndarray) -> float:
        self.check_frame(frame)
        p = self.probs[self.i]
        self.i += 1
        return p

    def reset(self) -> None:
        self.i = 0
        self.resets += 1


def ramp(n_frames: int) -> np.ndarray:
    """Sample k has value k * 2**-15: exact in float32, so slices can be checked exactly."""
    return (np.arange(n_frames * N) * 2.0**-15).astype(np.float32)


def run(probs: Sequence[float], **params: float) -> tuple[Endpointer, list[tuple[int, EndpointEvent]]]:
    """Feed one ramp frame per probability; return the endpointer and (frame index, event) pairs."""
    ep = Endpointer(ScriptedVAD(probs), **params)
    audio = ramp(len(probs))
    events = [(i, ev) for i in range(len(probs)) for ev in ep.process(audio[i * N:(i + 1) * N])]
    return ep, events


def test_one_utterance_exact_times_and_audio() -> None:
    probs = [0.0] * 10 + [1.0] * 20 + [0.0] * 20
    ep, events = run(probs)
    # speech begins at frame 10 (320 ms); confirmed when the run spans >= 4000 samples:
    # frame 17 ends at 18 * 512 = 9216 samples = 576 ms (9216 - 5120 = 4096).
    # silence begins at frame 30 (960 ms); 16 frames later frame 45 ends at 1472 ms.
    assert events == [(17, SpeechStart(audio_ms=220.0, decided_ms=576.0)),
                      (45, SpeechEnd(audio_ms=1060.0, decided_ms=1472.0))]
    utt = ep.utterance_audio()
    assert utt.dtype == np.float32
    np.testing.assert_array_equal(utt, ramp(50)[220 * 16:1060 * 16])
    assert ep.probabilities == probs and ep.last_probability == 0.0
    assert ep.audio_ms == 50 * FRAME_MS and not ep.in_speech


def test_min_speech_rejects_short_blips() -> None:
    _, events = run([0.0] * 5 + [1.0] * 7 + [0.0] * 30)  # 224 ms < 250 ms
    assert events == []
    _, events = run([0.0] * 5 + [1.0] * 8 + [0.0] * 30)  # 256 ms >= 250 ms
    assert [type(ev) for _, ev in events] == [SpeechStart, SpeechEnd]
    assert events[0] == (12, SpeechStart(audio_ms=5 * FRAME_MS - 100, decided_ms=13 * FRAME_MS))


def test_blips_separated_by_silence_do_not_add_up() -> None:
    _, events = run(([1.0] * 4 + [0.0]) * 10)  # 128 ms blips, one silent frame apart
    assert events == []


def test_onset_hysteresis_between_thresholds_keeps_candidate() -> None:
    # 0.4 is between neg (0.35) and threshold (0.5): keeps the onset candidate alive
    _, events = run([0.0, 1.0] + [0.4] * 7 + [0.0] * 20)
    assert events[0] == (8, SpeechStart(audio_ms=0.0, decided_ms=9 * FRAME_MS))  # 32 - 100 -> 0
    # 0.3 is below neg: drops it; a frame in between never opens one
    _, events = run([0.0, 1.0] + [0.3] + [0.4] * 20 + [0.0] * 20)
    assert events == []


def test_offset_hysteresis() -> None:
    # frames between the thresholds do not start the silence timer ...
    ep, events = run([1.0] * 10 + [0.4] * 30 + [0.0] * 20)
    assert events[1] == (55, SpeechEnd(audio_ms=40 * FRAME_MS + 100, decided_ms=56 * FRAME_MS))
    # ... nor stop it once started (silero's temp_end rule)
    _, events = run([1.0] * 10 + [0.0] * 4 + [0.4] * 12 + [0.0] * 10)
    assert events[1] == (25, SpeechEnd(audio_ms=10 * FRAME_MS + 100, decided_ms=26 * FRAME_MS))
    # a frame at/above threshold cancels it; the silence restarts at frame 15
    _, events = run([1.0] * 10 + [0.0] * 4 + [0.5] + [0.0] * 20)
    assert events[1] == (30, SpeechEnd(audio_ms=15 * FRAME_MS + 100, decided_ms=31 * FRAME_MS))


def test_neg_threshold_default_and_explicit() -> None:
    assert Endpointer(ScriptedVAD([])).neg_threshold == pytest.approx(0.35)
    assert Endpointer(ScriptedVAD([]), threshold=0.1).neg_threshold == pytest.approx(0.01)
    # explicit neg 0.45: 0.4 now counts as silence
    _, events = run([1.0] * 10 + [0.4] * 30, neg_threshold=0.45)
    assert events[1] == (25, SpeechEnd(audio_ms=10 * FRAME_MS + 100, decided_ms=26 * FRAME_MS))


def test_two_utterances_padding_clamped_to_decision_and_previous_end() -> None:
    probs = [1.0] * 10 + [0.0] * 2 + [1.0] * 10 + [0.0] * 2
    ep, events = run(probs, min_silence_ms=64, speech_pad_ms=100)
    assert events == [
        (7, SpeechStart(0.0, 256.0)),              # clamped at 0
        (11, SpeechEnd(384.0, 384.0)),              # 320 + 100 clamped to the decision point
        (19, SpeechStart(384.0, 640.0)),            # 384 - 100 clamped to the previous end
        (23, SpeechEnd(768.0, 768.0)),
    ]
    np.testing.assert_array_equal(ep.utterance_audio(), ramp(24)[384 * 16:768 * 16])


def test_long_utterance_audio_is_complete() -> None:
    # 20 s of speech: the rolling buffer must keep everything since the padded start
    probs = [0.0] * 100 + [1.0] * 625 + [0.0] * 16
    ep, events = run(probs)
    start, end = events[0][1], events[1][1]
    assert (start.audio_ms, end.audio_ms) == (3200.0 - 100, 3200.0 + 20_000 + 100)
    np.testing.assert_array_equal(ep.utterance_audio(), ramp(len(probs))[3100 * 16:23300 * 16])


def test_zero_min_speech_starts_on_first_speech_frame() -> None:
    _, events = run([0.0, 0.0, 1.0] + [0.0] * 20, min_speech_ms=0, speech_pad_ms=0)
    # silence from frame 3 (96 ms); 16 silent frames end with frame 18 (608 ms)
    assert events == [(2, SpeechStart(64.0, 96.0)), (18, SpeechEnd(96.0, 608.0))]


def test_reset_starts_a_new_stream() -> None:
    vad = ScriptedVAD([1.0] * 9 + [1.0] * 9)
    ep = Endpointer(vad)
    frame = np.zeros(N, np.float32)
    assert sum((ep.process(frame) for _ in range(9)), []) != []
    assert ep.in_speech
    ep.reset()
    assert vad.resets == 2 and vad.i == 0  # constructor + reset
    assert not ep.in_speech and ep.audio_ms == 0.0 and ep.probabilities == []
    assert ep.utterance_audio().size == 0


def test_bad_frame_is_rejected_and_not_consumed() -> None:
    ep = Endpointer(ScriptedVAD([1.0]))
    with pytest.raises(ValueError, match="512"):
        ep.process(np.zeros(480, np.float32))
    assert ep.audio_ms == 0.0 and ep.probabilities == []


@pytest.mark.parametrize("params", [
    {"threshold": 1.5}, {"threshold": -0.1}, {"threshold": 0.5, "neg_threshold": 0.6},
    {"min_speech_ms": -1}, {"min_silence_ms": -1}, {"speech_pad_ms": -1},
])
def test_bad_parameters(params: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Endpointer(ScriptedVAD([]), **params)


# --- turn detection: pause, confirm, resume, max silence --------------------------------------
def test_pause_then_confirm_ends_the_turn_at_the_pause() -> None:
    from voicelab.vad.endpointing import SpeechPause

    # min_silence 200 ms: silence from frame 30 (960 ms); frame 36 ends at 1184 ms (224 ms)
    probs = [0.0] * 10 + [1.0] * 20 + [0.0] * 20
    ep = Endpointer(ScriptedVAD(probs), min_silence_ms=200, max_silence_ms=1000)
    audio = ramp(len(probs))
    events = []
    for i in range(40):
        events += [(i, ev) for ev in ep.process(audio[i * N:(i + 1) * N])]
        if i == 36:
            # a turn detector looks at the utterance so far: padded start .. now
            np.testing.assert_array_equal(ep.pending_audio(), audio[220 * 16:37 * N])
    assert events == [(17, SpeechStart(220.0, 576.0)), (36, SpeechPause(audio_ms=1060.0, decided_ms=1184.0))]
    assert ep.paused and ep.in_speech
    end = ep.confirm_end()  # the detector's verdict arrives at frame 39's end (1280 ms)
    assert end == SpeechEnd(audio_ms=1060.0, decided_ms=1280.0)
    np.testing.assert_array_equal(ep.utterance_audio(), audio[220 * 16:1060 * 16])
    assert not ep.paused and not ep.in_speech
    with pytest.raises(RuntimeError, match="SpeechPause"):
        ep.confirm_end()


def test_pause_resumes_on_speech_and_ends_by_itself_after_max_silence() -> None:
    from voicelab.vad.endpointing import SpeechPause, SpeechResumed

    # speech 10-29, silence 30-39 (pause at 36), speech 40-49 (resumed at 40), then
    # silence from 50 (1600 ms): paused again at 56, ended at max_silence (1000 ms) at frame 81
    probs = [0.0] * 10 + [1.0] * 20 + [0.0] * 10 + [1.0] * 10 + [0.0] * 40
    ep, events = run(probs, min_silence_ms=200, max_silence_ms=1000)
    assert events == [(17, SpeechStart(220.0, 576.0)), (36, SpeechPause(1060.0, 1184.0)),
                      (40, SpeechResumed(1312.0)), (56, SpeechPause(1700.0, 1824.0)),
                      (81, SpeechEnd(audio_ms=1700.0, decided_ms=2624.0))]
    np.testing.assert_array_equal(ep.utterance_audio(), ramp(90)[220 * 16:1700 * 16])


def test_max_silence_below_min_silence_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_silence_ms"):
        Endpointer(ScriptedVAD([]), min_silence_ms=500, max_silence_ms=300)
