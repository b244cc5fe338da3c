"""voicelab's endpointer as an eot-bench sweep: the closed form against the endpointer itself.

Scripted VAD probabilities (32 ms frames) and a scripted turn detector: the decisions of
:func:`voicelab.lab.eot_eval.voicelab_endpointer_sweep` must equal the ``decided_ms`` of a real
:class:`voicelab.vad.endpointing.Endpointer` fed the same probabilities, at every grid point.
"""


import numpy as np
import pytest

from voicelab.lab.eot_eval import Signals, as_eot_item, eot_table, voicelab_endpointer_sweep
from voicelab.lab.eot_signals import silence_runs, speech_frames
from voicelab.measure.eot import fire_offsets
from voicelab.vad.base import VAD
from voicelab.vad.endpointing import Endpointer, SpeechEnd, SpeechPause

FRAME = 32.0


class ReplayVAD(VAD):
    name = "replay"

    def __init__(self, probs):
        self.probs, self.i = list(probs), 0

    def speech_probability(self, frame):
        p = self.probs[self.i]
        self.i += 1
        return p


def _probs():
    # frames: 10 speech, 9 silence (288 ms), 12 speech, 3 between-threshold (0.4: keeps speech),
    # 20 silence (640 ms), 10 speech, 60 silence (the end)
    seq = [0.9] * 10 + [0.05] * 9 + [0.9] * 12 + [0.4] * 3 + [0.05] * 20 + [0.9] * 10 + [0.05] * 60
    return np.array(seq, dtype=np.float32)


def _p_turn(first_frame, min_ms):
    """The scripted detector: complete only at the final silence, and at the 640 ms one with 0.6."""
    return {10: 0.2, 34: 0.6, 64: 0.95}.get(first_frame, 0.0)


def _endpointer_decisions(probs, min_ms, max_ms, threshold):
    ep = Endpointer(ReplayVAD(probs), threshold=0.5, min_speech_ms=250, min_silence_ms=min_ms,
                    speech_pad_ms=100, max_silence_ms=max_ms)
    out = []
    silence_start = None
    for i in range(len(probs)):
        if probs[i] < 0.35 and silence_start is None:
            silence_start = i
        elif probs[i] >= 0.5:
            silence_start = None
        for ev in ep.process(np.zeros(512, dtype=np.float32)):
            if isinstance(ev, SpeechEnd):
                out.append(ev.decided_ms)
            elif isinstance(ev, SpeechPause):
                if _p_turn(silence_start, min_ms) > threshold:
                    out.append(ep.confirm_end().decided_ms)
    return out


def test_silence_runs_and_hysteresis():
    s = speech_frames(_probs())
    assert s[:10].all() and not s[10:19].any() and s[31:34].all()          # 0.4 keeps speech
    assert silence_runs(s) == [(10, 9), (34, 20), (64, 60)]
    assert silence_runs(np.zeros(5, dtype=bool)) == []
    with pytest.raises(ValueError):
        speech_frames(_probs(), threshold=0.2, neg_threshold=0.3)


@pytest.mark.parametrize("min_ms,max_ms", [(200.0, 1000.0), (300.0, 1000.0), (500.0, 1500.0), (200.0, 3500.0)])
@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.9])
def test_closed_form_matches_the_endpointer(min_ms, max_ms, threshold):
    probs = _probs()
    runs = silence_runs(speech_frames(probs))
    pauses = {(min_ms, i): _p_turn(i, min_ms) for i, n in runs}
    # item silences (labels only matter for scoring): the two holds and the eot
    item = as_eot_item("it", [(320.0, 608.0, "hold"), (1088.0, 1728.0, "hold"), (2048.0, 3968.0, "eot")], "g")
    table = eot_table([item])
    sig = Signals(vad={"it": {"silero": probs}}, pause_scores={"it": pauses})
    sweep = voicelab_endpointer_sweep(table, sig, thresholds=[threshold], min_silences_ms=[min_ms],
                                      max_silences_ms=[max_ms])
    expected = fire_offsets(table, {"it": _endpointer_decisions(probs, min_ms, max_ms, threshold)})
    np.testing.assert_array_equal(sweep.fire_ms[0], expected)


def test_closed_form_known_values():
    """Min 200 ms (7 frames), max 1000 ms (32 frames), threshold 0.5: the 288 ms hold is asked at
    frame 17 (p 0.2: waits; 9 frames < 32: never ends there); the 640 ms hold at frame 41 (p 0.6 >
    0.5: ends at 1312 ms, 224 ms into the hold that starts at 1088: a false cutoff); the final
    silence at frame 71 (p 0.95): 2272 ms, 224 ms after the eot starts at 2048. A span's fire
    offset is to the first decision at or after its start (eot-bench's fire time), so the first
    hold reads 1312 - 320 = 992 ms, longer than the hold: no cutoff there."""
    probs = _probs()
    runs = silence_runs(speech_frames(probs))
    sig = Signals(vad={"it": {"silero": probs}}, pause_scores={"it": {(200.0, i): _p_turn(i, 200.0) for i, _ in runs}})
    item = as_eot_item("it", [(320.0, 608.0, "hold"), (1088.0, 1728.0, "hold"), (2048.0, 3968.0, "eot")], "g")
    sweep = voicelab_endpointer_sweep(eot_table([item]), sig, thresholds=[0.5], min_silences_ms=[200.0],
                                      max_silences_ms=[1000.0])
    assert sweep.fire_ms[0].tolist() == [992.0, 224.0, 224.0]


def test_a_turn_ended_in_a_silence_the_vad_never_left_stays_ended():
    """Silero hears 10 frames of speech, then silence to the end (it misses the last word, which
    the labels put at 800-1200 ms). Min 200 ms, p 0.9 > 0.5: the turn ends at (10 + 7) * 32 = 544
    ms, 224 ms into the hold (320-800): a cutoff; the eot (from 1200) begins in the same silence,
    so it is answered already: offset 0 (without the rule it would wait forever)."""
    probs = np.r_[np.full(10, 0.9), np.full(60, 0.05)].astype(np.float32)
    item = as_eot_item("it", [(320.0, 800.0, "hold"), (1200.0, 2240.0, "eot")], "g")
    sig = Signals(vad={"it": {"silero": probs}}, pause_scores={"it": {(200.0, 10): 0.9}})
    sweep = voicelab_endpointer_sweep(eot_table([item]), sig, thresholds=[0.5], min_silences_ms=[200.0],
                                      max_silences_ms=[1000.0])
    assert sweep.fire_ms[0].tolist() == [224.0, 0.0]
