"""Reference speech boundaries: exact rules on scripted sources, then real clips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voicelab.audio.clips import Clip, bundled_clip_names, resolve_clip
from voicelab.stt.whisper import WordTiming
from voicelab.truth import ReferenceFinder
from voicelab.truth.consensus import (
    DISAGREEMENT_LIMIT_MS,
    MIN_WORD_MS,
    OFFSET_TOLERANCE_MS,
    SILERO_END_LAG_MS,
    consensus,
)
from voicelab.truth.energy import EnergyAnalysis, energy_runs
from voicelab.truth.reference import clip_reference
from voicelab.truth.serialize import reference_from_dict, reference_to_dict
from voicelab.truth.silero import SileroPass, segments_from_probabilities, silero_segments

N = 512


def energy(runs):
    return EnergyAnalysis(np.zeros(1), -60.0, -51.0, -58.0, list(runs))


def word(text, a, b):
    return WordTiming(text, a, b, 0.9)


# --- the consensus rule, exactly ---------------------------------------------------------------
def test_edges_come_from_the_energy_runs_holding_silero_speech():
    # a breath (0-90 ms) 180 ms before the speech: not bridged, not speech
    ref = consensus([(288.0, 3040.0)], energy([(0.0, 90.0), (270.0, 1500.0), (1600.0, 3000.0)]),
                    [word("He", 0.0, 500.0), word("himself.", 2320.0, 2800.0)])
    assert (ref.start_ms, ref.end_ms) == (270.0, 3000.0)
    assert ref.onset_by == "energy at Silero's onset" and ref.offset_by == "energy at Silero's offset"
    s = ref.sources
    assert (s["silero"].start_dev_ms, s["silero"].end_dev_ms) == (18.0, 40.0)
    assert (s["energy"].start_dev_ms, s["energy"].end_dev_ms) == (-270.0, 0.0)
    assert (s["whisper"].start_dev_ms, s["whisper"].end_dev_ms) == (-270.0, -200.0)
    # energy's own onset (the breath) disagrees; whisper's first word at 0 ms does not count
    assert ref.agreed == ["silero", "whisper"]
    assert ref.warnings == [f"energy onset is -270 ms from the reference (limit {DISAGREEMENT_LIMIT_MS:.0f} ms)"]


def test_a_run_starting_just_after_silero_onset_still_starts_speech():
    ref = consensus([(300.0, 900.0)], energy([(380.0, 880.0)]), [word("Hi", 0.0, 800.0)])
    assert ref.start_ms == 380.0 and ref.end_ms == 880.0
    ref = consensus([(300.0, 900.0)], energy([(420.0, 880.0)]), [word("Hi", 0.0, 800.0)])
    assert ref.start_ms == 300.0 and ref.onset_by == "Silero"  # 120 ms later: not its run


def test_a_first_word_silero_missed_moves_the_onset_to_its_energy():
    # the telephone prompt: "Please" (50-380 ms) is its own energy run; Silero starts at 450
    words = [word("Please", 0.0, 400.0), word("check", 400.0, 700.0), word("again.", 1500.0, 1900.0)]
    runs = [(0.0, 20.0), (50.0, 380.0), (450.0, 1000.0), (1200.0, 1950.0)]
    ref = consensus([(450.0, 2000.0)], energy(runs), words)
    assert ref.start_ms == 50.0 and ref.onset_by == "energy at Whisper's first word"
    assert ref.end_ms == 1950.0
    assert ref.warnings[0] == "Silero missed the first word 'Please' (0-400 ms): onset moved from 450 to 50 ms"
    # holding MIN_WORD_MS of the first word is enough: no correction
    ref = consensus([(400.0 - MIN_WORD_MS, 2000.0)], energy([(400.0 - MIN_WORD_MS, 1950.0)]), words)
    assert ref.start_ms == 400.0 - MIN_WORD_MS and ref.onset_by == "energy at Silero's onset"


def test_a_last_word_silero_missed_moves_the_offset():
    words = [word("Go", 0.0, 300.0), word("now.", 1000.0, 1400.0)]
    ref = consensus([(100.0, 900.0)], energy([(100.0, 880.0), (1000.0, 1350.0)]), words)
    assert ref.end_ms == 1350.0 and ref.offset_by == "energy at Whisper's last word"
    ref = consensus([(100.0, 900.0)], energy([(100.0, 880.0)]), words)  # no energy there
    assert ref.end_ms == 1400.0 and ref.offset_by == "Whisper"


def test_an_energy_offset_far_from_silero_gives_way_to_silero():
    words = [word("Had", 0.0, 500.0), word("was.", 5420.0, 5740.0)]
    runs = [(300.0, 5500.0)]  # white noise: the quiet end of "was." sank under the hiss
    ref = consensus([(352.0, 5856.0)], energy(runs), words, silero_speech_end_ms=5824.0)
    assert ref.end_ms == 5824.0 - SILERO_END_LAG_MS
    assert ref.offset_by == "Silero's last speech frame, lag-corrected"
    # within the tolerance, energy's sharper edge stands
    near = 5824.0 - SILERO_END_LAG_MS - OFFSET_TOLERANCE_MS
    ref = consensus([(352.0, 5856.0)], energy([(300.0, near)]), words, silero_speech_end_ms=5824.0)
    assert ref.end_ms == near and ref.offset_by == "energy at Silero's offset"


def test_a_run_after_silero_speech_ended_is_not_speech():
    # babble after the speech: its run starts after Silero's last p >= 0.5 frame, lag-corrected
    words = [word("Go", 0.0, 400.0), word("now.", 1000.0, 1500.0)]
    end_frame = 1600.0
    runs = [(300.0, 1520.0), (end_frame - SILERO_END_LAG_MS + 10.0, 1900.0)]
    ref = consensus([(320.0, 2000.0)], energy(runs), words, silero_speech_end_ms=end_frame)
    assert ref.end_ms == 1520.0 and ref.offset_by == "energy at Silero's offset"


def test_an_energy_offset_after_silero_stands_and_an_open_segment_is_not_checked():
    words = [word("Go", 0.0, 400.0), word("now.", 1000.0, 1500.0)]
    # Silero's probability fell 300 ms early (an unvoiced last syllable): energy's offset stands
    ref = consensus([(320.0, 1500.0)], energy([(300.0, 1500.0)]), words, silero_speech_end_ms=1274.0)
    assert ref.end_ms == 1500.0 and ref.offset_by == "energy at Silero's offset"
    # a segment the clip's end closed has no measured end: no cross-check
    far = 1500.0 + SILERO_END_LAG_MS + OFFSET_TOLERANCE_MS + 50.0
    ref = consensus([(320.0, 1900.0)], energy([(300.0, 1500.0)]), words, far, silero_closed=False)
    assert ref.end_ms == 1500.0
    ref = consensus([(320.0, 1900.0)], energy([(300.0, 1500.0)]), words, far, silero_closed=True)
    assert ref.end_ms == far - SILERO_END_LAG_MS


def test_silero_pass_knows_whether_its_last_segment_closed():
    probs = np.array([0.9] * 10)
    assert not SileroPass(probs, [(0.0, 320.0)], 320.0).closed
    assert SileroPass(probs, [(0.0, 200.0)], 320.0).closed
    assert SileroPass(probs, [(0.0, 320.0)]).closed  # length unknown: as before


def test_without_silero_the_words_place_the_edges():
    ref = consensus([], energy([(120.0, 640.0)]), [word("Yes.", 0.0, 700.0)])
    assert (ref.start_ms, ref.end_ms) == (120.0, 640.0)
    assert "the Silero pass found no speech" in ref.warnings[0]


def test_without_words_the_check_is_skipped_and_said():
    ref = consensus([(100.0, 900.0)], energy([(110.0, 850.0)]), [])
    assert (ref.start_ms, ref.end_ms) == (110.0, 850.0)
    assert ref.warnings == ["Whisper recognised no words: coverage not checked"]
    assert ref.sources["whisper"].start_ms is None and ref.agreed == ["silero", "energy"]


def test_no_speech_at_all_is_an_error():
    with pytest.raises(ValueError, match="no speech"):
        consensus([], energy([]), [])


def test_reference_json_round_trip_and_minimal_sidecar():
    ref = consensus([(288.0, 3040.0)], energy([(270.0, 3000.0)]), [word("He", 0.0, 2800.0)])
    d = json.loads(json.dumps(reference_to_dict(ref)))
    back = reference_from_dict(d)
    assert back == ref
    minimal = reference_from_dict({"speech_start_ms": 250.75, "speech_end_ms": 2773.918})
    assert minimal.bounds_ms == (250.75, 2773.918) and minimal.method == "sidecar"
    with pytest.raises(ValueError, match="after"):
        reference_from_dict({"speech_start_ms": 900, "speech_end_ms": 100})


# --- sources on signals ------------------------------------------------------------------------
def test_silero_segmentation_rules():
    # silero's get_speech_timestamps rules, frames of 512 samples (32 ms)
    p = [0.0] * 2 + [0.9] * 10 + [0.0] * 4 + [0.9] * 10 + [0.0] * 5 + [0.4] + [0.9] * 10 + [0.0] * 10
    # a 4-frame gap is bridged (its last frame starts 96 ms < 100 ms after the gap's start),
    # a 5-frame gap splits (128 ms); 0.4 (between neg 0.35 and 0.5) does not start speech
    assert segments_from_probabilities(p, len(p) * N) == [(2 * N, 26 * N), (32 * N, 42 * N)]
    # segments of <= 250 ms are dropped; speech running to the clip's end is closed there
    assert segments_from_probabilities([0.9] * 7 + [0.0] * 10, 17 * N) == []
    assert segments_from_probabilities([0.0] + [0.9] * 9, 10 * N - 100) == [(N, 10 * N - 100)]


def test_energy_runs_bridge_gaps_and_drop_clicks():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16_000) * 1e-4).astype(np.float32)  # -80 dB hiss
    tone = lambda a, b: np.sin(2 * np.pi * 1000 * np.arange(a * 16, b * 16) / 16_000) * 0.3  # noqa: E731
    for a, b in [(100, 400), (450, 700), (800, 810)]:  # 50 ms gap bridged; 10 ms click dropped
        x[a * 16:b * 16] += tone(a, b)
    e = energy_runs(x)
    assert len(e.runs_ms) == 1
    a, b = e.runs_ms[0]
    assert abs(a - 100) <= 10 and abs(b - 700) <= 10


@pytest.mark.integration  # ReferenceFinder.find runs the real Silero model
def test_silero_pass_errors():
    with pytest.raises(ValueError, match="16000 Hz"):
        silero_segments(np.zeros(44_100, np.float32), sample_rate=44_100)
    with pytest.raises(ValueError, match="no speech"):
        ReferenceFinder(cache=False).find(np.zeros(32_000, np.float32))
    with pytest.raises(ValueError, match="16000 Hz"):
        ReferenceFinder(cache=False).find(np.zeros(44_100, np.float32), sample_rate=44_100)


# --- real clips (Silero ONNX + Whisper tiny.en) --------------------------------------------------
ANNOTATED = [n for n in bundled_clip_names() if resolve_clip(n).speech_bounds_ms]


def test_five_clips_are_annotated():
    assert len(ANNOTATED) == 5


@pytest.mark.integration
@pytest.mark.parametrize("name", bundled_clip_names())
def test_reference_bounds_of_bundled_clips(name):
    audio = resolve_clip(name).audio
    ref = ReferenceFinder().find(audio)
    assert 0.0 <= ref.start_ms < ref.end_ms <= len(audio) / 16.0
    assert ref.end_ms - ref.start_ms > 1000.0  # every bundled clip holds over a second of speech
    assert ref.words and ref.sources["silero"].segments_ms


@pytest.mark.integration
def test_reference_is_independent_of_leading_silence():
    audio = resolve_clip(bundled_clip_names()[0]).audio
    lead = np.zeros(16_384, np.float32)  # 1024 ms
    a = ReferenceFinder().find(audio)
    b = ReferenceFinder().find(np.concatenate([lead, audio]))
    assert b.start_ms == pytest.approx(a.start_ms + 1024.0, abs=20.0)
    assert b.end_ms == pytest.approx(a.end_ms + 1024.0, abs=20.0)


@pytest.mark.integration
def test_sidecar_overrides_and_cache_is_reused(tmp_path):
    cache = tmp_path / "truth"
    src = resolve_clip("cmu_arctic_a0007")
    wav = tmp_path / "prompt.wav"
    wav.write_bytes(src.path.read_bytes())
    clip = resolve_clip(wav)
    finder = ReferenceFinder(cache_dir=cache)
    computed = clip_reference(clip, finder)
    assert computed.method == "consensus"
    assert len(list(cache.glob("*.json"))) == 1
    again = ReferenceFinder(cache_dir=cache)
    assert again.find(clip.audio) == computed and again._stt is None  # from the cache: no Whisper
    wav.with_suffix(".json").write_text(json.dumps({"speech_start_ms": 400.0, "speech_end_ms": 3500.0}))
    sided = clip_reference(resolve_clip(wav), finder)
    assert sided.bounds_ms == (400.0, 3500.0) and sided.method == "sidecar"


def test_clip_reference_of_an_annotated_clip_loads_no_model():
    clip = Clip.from_array("x", np.zeros(1600, np.float32))
    clip2 = Clip(clip.name, clip.path, "", (10.0, 90.0))
    assert clip_reference(clip2, finder=None).bounds_ms == (10.0, 90.0)


@pytest.mark.integration
def test_truth_command_writes_figure_and_sidecar(tmp_path):
    from typer.testing import CliRunner

    from voicelab.cli import app

    wav = tmp_path / "cmu_arctic_a0007.wav"
    wav.write_bytes(resolve_clip("cmu_arctic_a0007").path.read_bytes())
    runner = CliRunner()
    res = runner.invoke(app, ["truth", str(wav), "--out", str(tmp_path / "fig"), "--write"])
    assert res.exit_code == 0, res.output
    png = tmp_path / "fig" / "cmu_arctic_a0007.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sidecar = json.loads(wav.with_suffix(".json").read_text())
    ref = ReferenceFinder().find(resolve_clip(wav).audio)
    assert (sidecar["speech_start_ms"], sidecar["speech_end_ms"]) == (ref.start_ms, ref.end_ms)
    assert set(sidecar["sources"]) == {"silero", "energy", "whisper"} and sidecar["words"]
    assert f"speech {ref.start_ms:.0f}-{ref.end_ms:.0f} ms" in res.output
    # the sidecar now overrides; writing again needs --force
    assert resolve_clip(wav).speech_bounds_ms == (ref.start_ms, ref.end_ms)
    res = runner.invoke(app, ["truth", str(wav), "--out", str(tmp_path / "fig"), "--write"])
    assert res.exit_code == 2 and "--force" in res.output
    res = runner.invoke(app, ["truth", "no_such_clip"])
    assert res.exit_code == 2 and "no such clip" in res.output


@pytest.mark.parametrize("text, match", [("{not json", "not a valid"), ('{"speech_start_ms": 1}', "not a valid"),
                                         ('{"speech_start_ms": 900, "speech_end_ms": 100}', "must be after")])
def test_a_bad_sidecar_is_a_clear_error(tmp_path, text, match):
    from voicelab.audio.load import AudioError

    wav = tmp_path / "c.wav"
    wav.write_bytes(resolve_clip("cmu_arctic_a0007").path.read_bytes())
    wav.with_suffix(".json").write_text(text)
    with pytest.raises(AudioError, match=match):
        resolve_clip(wav)


# --- the evaluation of the reference itself (issue goal: median <= 20 ms, max < 100 ms) ---------
GOAL_MEDIAN_MS, GOAL_MAX_MS = 20.0, 100.0
MEETS_GOAL = ["clean", "telephone-8k", "white-20dB", "level-20dB", "leading-sound"]
NOT_YET = {  # measured after the steady-noise sub-band rules: median / max absolute error (ms)
    "white-10dB": "onsets 25 / 54; offsets 78 / 227 (the final /f/ of 0930 and the nasal end of 0880 "
                  "lie under the hiss; 0880's Silero segment runs into the clip's end, so no cross-check)",
    "babble-20dB": "onsets 25 / 110 (the /h/ of 0880 and 0920 lies under the babble; babble at speech level "
                   "runs into cmu_arctic_a0007's onset); offsets 42 / 70",
    "babble-10dB": "onsets 33 / 378 (Silero calls the babble speech); offsets 87 / 298",
}


@pytest.fixture(scope="module")
def evaluation():
    from voicelab.truth.evaluate import evaluate

    return evaluate()


@pytest.mark.integration
@pytest.mark.parametrize("degradation", [*MEETS_GOAL,
                                         *[pytest.param(d, marks=pytest.mark.xfail(strict=True, reason=r))
                                           for d, r in NOT_YET.items()]])
def test_reference_error_on_annotated_and_degraded_clips(evaluation, degradation):
    from voicelab.truth.evaluate import error_table

    assert set(evaluation["degradation"]) == {*MEETS_GOAL, *NOT_YET}
    row = error_table(evaluation).loc[degradation]
    assert row["n"] == (5 if degradation == "clean" else 6)
    for edge in ("onset", "offset"):
        assert row[f"{edge}_median_ms"] <= GOAL_MEDIAN_MS, (edge, row.to_dict())
        assert row[f"{edge}_max_ms"] < GOAL_MAX_MS, (edge, row.to_dict())
