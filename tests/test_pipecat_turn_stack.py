"""Pipecat 1.14's stock turn stack as an offline end-of-turn detector (voicelab.peers.pipecat.turn_stack),
and its place in the end-of-turn evaluation (voicelab.lab.eot_eval).

Expected times come from Pipecat's stock parameters, in 32 ms input frames (512 samples at 16 kHz):

- ``VADParams.stop_secs`` 0.2 s -> ``round(0.2 / 0.032)`` = 6 quiet frames before the VAD stop;
- ``SmartTurnParams.stop_secs`` 3 s -> the timeout fires on the frame where the silence counted
  after the VAD stop reaches 3000 ms: ``ceil(3000 / 32)`` = 94 frames = 3008 ms after the VAD stop
  (1 s -> 32 frames = 1024 ms);
- Smart Turn's COMPLETE at the VAD stop ends the turn on that very frame.
"""

import importlib.util
import math
import pickle

import numpy as np
import pytest

from voicelab.lab.eot_eval import PIPECAT, Signals, as_eot_item, compute_signals, eot_table, sweeps
from voicelab.measure.eot import fire_offsets

needs_pipecat = pytest.mark.skipif(importlib.util.find_spec("pipecat") is None,
                                   reason="the `pipecat` extra is not installed (pip install 'voicelab[pipecat]')")

FRAME_MS = 32.0
CLIP = "librivox_sense_and_sensibility_0870"  # "And mister John Dashwood had then leisure to consider how much ..."
PAUSE_AT_MS = 4160.0  # a gap between two words mid-sentence ("... might be | prudently ...")
PAUSE_MS = 3500.0


def _timeout_ms(stop_secs: float) -> float:
    return math.ceil(stop_secs * 1000.0 / FRAME_MS - 1e-9) * FRAME_MS


@pytest.fixture(scope="module")
def stack():
    from voicelab.peers.pipecat.turn_stack import PipecatTurnStack
    return PipecatTurnStack(stop_secs=(1.0, 3.0))


@pytest.fixture(scope="module")
def clip():
    from voicelab.audio.clips import resolve_clip
    from voicelab.truth.reference import clip_reference
    c = resolve_clip(CLIP)
    return c.audio, clip_reference(c).end_ms


def _silence(ms: float) -> np.ndarray:
    return np.zeros(int(ms * 16), dtype=np.float32)


@needs_pipecat
def test_stock_parameters_are_voicelabs_pipecat_engine():
    from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
    from pipecat.audio.vad.vad_analyzer import VADParams

    from voicelab.config.peers import PipecatConfig
    from voicelab.peers.pipecat.turn_stack import STOCK_SMART_TURN_STOP_SECS

    cfg, vad = PipecatConfig(), VADParams()
    assert (vad.confidence, vad.start_secs, vad.stop_secs) == (cfg.vad_confidence, cfg.vad_start_secs,
                                                               cfg.vad_stop_secs) == (0.7, 0.2, 0.2)
    assert cfg.turn == "smart-turn"
    assert STOCK_SMART_TURN_STOP_SECS == SmartTurnParams().stop_secs == 3.0


@pytest.mark.integration
@needs_pipecat
def test_one_decision_after_the_speech_end(stack, clip):
    audio, end_ms = clip
    ends = stack.turn_ends(np.concatenate([audio, _silence(2000.0)]))
    for stop_secs, got in ends.items():
        assert len(got) == 1, got
        e = got[0]
        assert end_ms < e.time_ms <= end_ms + 1000.0 * stop_secs + 1000.0
        assert e.time_ms % FRAME_MS == 0
        # a Smart Turn COMPLETE ends the turn at the VAD stop; a timeout 1024 / 3008 ms after it
        assert e.time_ms - e.vad_stop_ms == (_timeout_ms(stop_secs) if e.by_timeout else 0.0)
    assert ends[1.0][0].vad_stop_ms == ends[3.0][0].vad_stop_ms  # one VAD feeds both stacks


@pytest.mark.integration
@needs_pipecat
def test_mid_sentence_pause_ends_the_turn_by_timeout_then_speech_starts_a_new_turn(stack, clip):
    audio, end_ms = clip
    k = int(PAUSE_AT_MS * 16)
    x = np.concatenate([audio[:k], _silence(PAUSE_MS), audio[k:], _silence(2000.0)])
    ends = stack.turn_ends(x)
    for stop_secs, got in ends.items():
        assert len(got) == 2, got
        pause, final = got
        # Smart Turn says "incomplete" at the VAD stop, so Pipecat waits stop_secs of silence
        assert pause.by_timeout and pause.probability < 0.5
        assert PAUSE_AT_MS < pause.vad_stop_ms < PAUSE_AT_MS + 500.0
        assert pause.time_ms == pause.vad_stop_ms + _timeout_ms(stop_secs)
        assert pause.time_ms < PAUSE_AT_MS + PAUSE_MS  # inside the inserted silence
        assert final.time_ms > end_ms + PAUSE_MS
    assert ends[3.0][0].time_ms - ends[1.0][0].time_ms == 3008.0 - 1024.0


@pytest.mark.integration
@needs_pipecat
def test_stacks_run_together_decide_as_each_alone(stack, clip):
    from voicelab.peers.pipecat.turn_stack import PipecatTurnStack, pipecat_turn_decisions
    audio, _ = clip
    k = int(PAUSE_AT_MS * 16)
    x = np.concatenate([audio[:k], _silence(PAUSE_MS), audio[k:], _silence(2000.0)])
    together = stack.decisions(x)
    assert pipecat_turn_decisions(x, stack=PipecatTurnStack(stop_secs=(1.0,))) == together[1.0]
    assert pipecat_turn_decisions(x) == together[3.0]  # the stock stack, built on the spot


@pytest.mark.integration
@needs_pipecat
def test_bad_input_is_refused(stack):
    with pytest.raises(ValueError, match="1-D float32"):
        stack.decisions(np.zeros(16000))
    with pytest.raises(ValueError, match="1-D float32"):
        stack.decisions(np.zeros((2, 16000), dtype=np.float32))


@needs_pipecat
def test_bad_settings_are_refused():  # refused before any model loads
    from voicelab.peers.pipecat.turn_stack import PipecatTurnStack
    with pytest.raises(ValueError, match="watchdog"):
        PipecatTurnStack(stop_secs=(5.0,))  # 5 s of frames reaches the 5 s watchdog, which is not run
    with pytest.raises(ValueError, match="watchdog"):
        PipecatTurnStack(stop_secs=())


def _items():
    return [as_eot_item("a", [(1000.0, 1600.0, "hold"), (3000.0, 5000.0, "eot")], "r1"),
            as_eot_item("b", [(2000.0, 4000.0, "eot")], "r2")]


def test_pipecat_decisions_are_a_sweep_over_stop_secs():
    decisions = {"a": {1.0: [1500.0, 3300.0], 3.0: [6200.0]}, "b": {1.0: [2250.0], 3.0: [2250.0]}}
    sig = Signals(pipecat=decisions)
    table = eot_table(_items())
    sweep = sweeps(table, _with_other_signals(sig))[PIPECAT]
    # one point per stop_secs and eot-bench policy timeout (inf: the stack alone, then 1.0-3.5 s)
    timeouts = [math.inf, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0]
    assert sweep.knobs["smart_turn_stop_secs"].tolist() == [1.0] * 7 + [3.0] * 7
    assert sweep.knobs["policy_timeout_ms"].tolist() == timeouts * 2
    assert sweep.timeout_ms.tolist() == timeouts * 2
    for row, s in enumerate([1.0] * 7 + [3.0] * 7):
        expect = fire_offsets(table, {k: v[s] for k, v in decisions.items()})
        np.testing.assert_array_equal(sweep.fire_ms[row], expect)
    # stop_secs 1: the hold is cut 500 ms in; eots 300 / 250 ms; stop_secs 3: hold kept, eot a at 3200
    np.testing.assert_array_equal(sweep.fire_ms[[0, 7]], [[500.0, 300.0, 250.0], [5200.0, 3200.0, 250.0]])


def _with_other_signals(sig: Signals) -> Signals:
    """The other detectors' signals, scripted (silence everywhere after 1 s of speech)."""
    for it in _items():
        probs = np.r_[np.full(31, 0.9), np.full(200, 0.05)].astype(np.float32)
        sig.vad[it.item_id] = {"silero": probs, "energy": probs, "webrtc": probs}
        n = len(it.silences)
        sig.span_scores[it.item_id] = (np.array([s.start_ms + 200.0 for s in it.silences]), np.full(n, 0.9))
        sig.pause_scores[it.item_id] = {}
    return sig


def test_compute_signals_runs_pipecat_on_the_audio_with_the_tail_and_only_once():
    calls = []

    def fake_pipecat(x):
        calls.append(len(x))
        return {3.0: [500.0, float(len(x)) / 16.0]}   # 500: in the lead-in, before the item: dropped

    items = _items()
    done = Signals(pause_scores={"a": {}, "b": {}})  # the other detectors already ran (an old cache)
    out = compute_signals(items, lambda i: np.zeros(16000, dtype=np.float32), lambda x: 0.5, done,
                          progress=False, pipecat=fake_pipecat)
    assert calls == [16000 + 16000 + 64000] * 2  # PIPECAT_LEAD_S = 1 s + 1 s of audio + PIPECAT_TAIL_S = 4 s
    assert out.pipecat == {"a": {3.0: [5000.0]}, "b": {3.0: [5000.0]}}   # 6000 ms of input, less the 1 s lead
    compute_signals(items, lambda i: np.zeros(16000, dtype=np.float32), lambda x: 0.5, out, progress=False,
                    pipecat=fake_pipecat)
    assert len(calls) == 2


def test_a_cache_pickled_before_the_pipecat_field_loads_with_it_empty():
    old = Signals(pause_scores={"a": {(500.0, 3): 0.7}})
    del old.__dict__["pipecat"]  # as pickled by the version without the field
    back = pickle.loads(pickle.dumps(old))
    assert back.pipecat == {} and back.pause_scores == {"a": {(500.0, 3): 0.7}}
