"""The end-of-turn evaluation end to end on a few real corpus items with the real detectors.

Needs the corpus (`make assets` builds it) and the Smart Turn asset. Four items of two
recordings (each as recorded, and split by an inserted pause); every detector runs, every
sweep is scored, and what the labels alone decide is checked exactly.
"""

import math

import numpy as np
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def evaluated():
    from voicelab.corpus import CorpusError, load_corpus

    try:
        corpus = load_corpus()
    except CorpusError as err:
        pytest.skip(f"the corpus is not built (`make assets` builds it): {err}")
    from voicelab.lab.eot_eval import as_eot_item, budget_table, compute_signals, eot_table, sweeps
    from voicelab.vad.turn_detector import SmartTurnDetector

    names = list(dict.fromkeys(it.recording for it in corpus if it.kind == "hold" and it.source == "asterisk"))[:2]
    items = [it for it in corpus if it.recording in names]
    assert len(items) >= 4
    by_id = {it.id: it for it in items}
    eot_items = [as_eot_item(it.id, it.silences, it.recording) for it in items]
    signals = compute_signals(eot_items, lambda i: by_id[i].audio, SmartTurnDetector().probability_complete,
                              progress=False)
    table = eot_table(eot_items)
    budgets, curves = budget_table(table, sweeps(table, signals), n_boot=50)
    return items, table, signals, budgets, curves


def test_every_detector_is_scored_on_the_same_spans(evaluated):
    items, table, signals, budgets, curves = evaluated
    assert table.n_eots == len(items) and table.n_holds >= 2
    assert set(curves["detector"]) >= {"silence (labelled)", "silence (Silero VAD)", "Smart Turn v3.2 (eot-bench)",
                                       "Smart Turn after Silero silence (voicelab)", "Pipecat stock turn stack"}
    assert (curves["n_eots"] == table.n_eots).all() and (curves["n_holds"] == table.n_holds).all()
    assert len(budgets) == 4 * curves["detector"].nunique()
    for it in items:                       # Silero's probabilities cover the whole item
        assert len(signals.vad[it.id]["silero"]) == len(it.audio) // 512
        t, p = signals.span_scores[it.id]
        assert len(t) == len(it.silences) and ((0.0 <= p) & (p <= 1.0)).all()


def test_the_labelled_baseline_is_what_the_labels_say(evaluated):
    """eot-bench's VAD-only baseline on the true silences: at d ms a hold is cut iff it is
    longer than d; every eot is answered d ms after the speech end."""
    _, table, _, _, curves = evaluated
    lab = curves[curves["detector"] == "silence (labelled)"].set_index("timeout_ms")
    holds = table.duration_ms[~table.is_eot]
    for d in (300.0, 600.0, 1000.0):
        assert lab.loc[d, "cutoff_rate"] == pytest.approx(float(np.mean(holds > d)))
        assert lab.loc[d, "mean_latency_ms"] == d and lab.loc[d, "detect_rate"] == 1.0


def test_real_vad_silence_pays_the_vad_lag(evaluated):
    """Silence-only endpointing on Silero's frames decides no sooner than its timeout after the
    true end (Silero keeps saying speech for a frame or more after it), in whole 32 ms frames."""
    _, _, _, _, curves = evaluated
    sil = curves[curves["detector"] == "silence (Silero VAD)"].set_index("silence_ms")
    for d in (300.0, 500.0):
        lat = sil.loc[d, "p50_latency_ms"]
        assert math.isfinite(lat) and lat >= d - 32.0
