"""Smart Turn v3.2 end-of-turn detection (voicelab.vad.turn_detector) on real speech.

Unit tests need no model; the integration tests run the ``smart-turn-v3.2`` asset on
the bundled clips and compare the features with pipecat's own extractor, read from the
pipecat-ai wheel the asset was built from.
"""

from __future__ import annotations

import re
import types
import zipfile
from functools import cache

import numpy as np
import pytest

from voicelab.assets import AssetError
from voicelab.assets.cache import _sha256_file
from voicelab.assets.fetch import _downloads_dir
from voicelab.assets.smart_turn import PIPECAT_WHEEL
from voicelab.audio.clips import bundled_clip_names, resolve_clip
from voicelab.vad.silero import silero_model_path
from voicelab.vad.turn_detector import (
    THRESHOLD,
    WINDOW_SAMPLES,
    SmartTurnDetector,
    last_window,
    log_mel_features,
    whisper_mel_filters,
)

CLIPS = bundled_clip_names()
REFERENCE_MEMBER = "pipecat/audio/turn/smart_turn/_whisper_features.py"


@cache
def clip_audio(name: str) -> np.ndarray:
    return resolve_clip(name).audio


def half(name: str) -> np.ndarray:
    """The first half of a clip: cut mid-sentence (in a0007 inside "it | in")."""
    a = clip_audio(name)
    return a[:len(a) // 2]


def right_padded(audio: np.ndarray) -> np.ndarray:
    """``audio`` then zeros up to 8 s: the window a right-padding extractor would build."""
    return np.concatenate([audio, np.zeros(WINDOW_SAMPLES - len(audio), np.float32)])


# ---------------------------------------------------------------- no model needed


def test_last_window_left_pads_to_8_s_and_keeps_the_last_8_s():
    a = np.arange(1, 16_001, dtype=np.float32)
    w = last_window(a)
    assert w.dtype == np.float32 and w.shape == (WINDOW_SAMPLES,)
    assert not w[:-16_000].any() and np.array_equal(w[-16_000:], a)
    long = np.arange(WINDOW_SAMPLES + 5, dtype=np.float32)
    assert np.array_equal(last_window(long), long[5:])


def test_features_shape_and_leading_zeros_change_nothing():
    cut = half("cmu_arctic_a0007")
    f = log_mel_features(cut)
    assert f.dtype == np.float32 and f.shape == (80, 800)
    assert np.array_equal(f, log_mel_features(np.concatenate([np.zeros(16_000, np.float32), cut])))
    assert np.abs(f - log_mel_features(right_padded(cut))).max() > 1.0  # not what it does


def test_features_are_whisper_feature_extractors():
    """Same mel bank as transformers' WhisperFeatureExtractor(chunk_length=8); its own
    call (torch STFT in float32 when torch is installed) agrees to float32 rounding."""
    from transformers import WhisperFeatureExtractor

    fe = WhisperFeatureExtractor(chunk_length=8)
    np.testing.assert_array_equal(whisper_mel_filters(), fe.mel_filters)
    for audio in (clip_audio("cmu_arctic_a0007"), half("librivox_sense_and_sensibility_0870")):
        window = last_window(audio)
        theirs = fe(window, sampling_rate=16_000, padding="max_length", max_length=WINDOW_SAMPLES,
                    truncation=True, do_normalize=True, return_tensors="np")["input_features"][0]
        assert theirs.shape == (80, 800)
        assert np.abs(log_mel_features(audio) - theirs).max() < 5e-5


@pytest.mark.parametrize("bad, match", [
    (np.zeros(1600, np.float64), "float32.*got float64"),
    (np.zeros(1600, np.int16), "float32.*got int16.*32768"),
    ([0.0] * 1600, "float32.*got list"),
    (np.zeros((1600, 2), np.float32), r"shape \(n,\).*\(1600, 2\)"),
    (np.zeros(0, np.float32), "empty"),
    (np.array([0.0, np.nan, 0.1], np.float32), "NaN or infinite"),
    (np.array([0.0, np.inf, 0.1], np.float32), "NaN or infinite"),
])
def test_bad_audio_is_a_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        log_mel_features(bad)


def test_bad_threads_and_missing_asset(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="threads must be >= 1"):
        SmartTurnDetector(threads=0)
    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path))
    with pytest.raises(AssetError, match="smart-turn-v3.2.*python -m voicelab.assets build smart-turn-v3.2"):
        SmartTurnDetector()


@pytest.mark.integration
def test_wrong_model_is_refused():
    """Loads a real model (Silero's ONNX file) to find it is not Smart Turn."""
    with pytest.raises(RuntimeError, match="not a Smart Turn v3 model"):
        SmartTurnDetector(str(silero_model_path()))


# ---------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def detector() -> SmartTurnDetector:
    return SmartTurnDetector()


@pytest.mark.integration
def test_clip_end_is_complete_and_mid_word_cut_is_not(detector):
    whole = clip_audio("cmu_arctic_a0007")  # "... to see it in the superlative degree."
    p_end = detector.probability_complete(whole)
    assert p_end >= THRESHOLD and detector.is_complete(whole)
    p_cut = detector.probability_complete(half("cmu_arctic_a0007"))
    assert p_cut < THRESHOLD and not detector.is_complete(half("cmu_arctic_a0007"))
    assert 0.0 <= p_cut < 0.1 < 0.9 < p_end <= 1.0  # measured 0.009 and 0.945


@pytest.mark.integration
def test_only_the_last_8_s_count_and_leading_zeros_change_nothing(detector):
    cut = half("cmu_arctic_a0007")
    p = detector.probability_complete(cut)
    assert p == detector.probability_complete(np.concatenate([np.zeros(24_000, np.float32), cut]))
    long = np.concatenate([clip_audio("librivox_sense_and_sensibility_0870"), cut])  # 9.1 s
    assert len(long) > WINDOW_SAMPLES
    assert detector.probability_complete(long) == detector.probability_complete(long[-WINDOW_SAMPLES:])


@pytest.mark.integration
def test_right_padding_by_hand_is_not_what_the_detector_does(detector):
    """Trailing silence pushes the model towards "complete": right padding (the
    smart_turn_livekit bug) raises P on every half cut; on 0890 it
    flips the decision. How far a0007 moves depends on the CPU's int8 kernels
    (0.009 -> 0.41 on a Zen 5 with AVX-512, 0.009 -> 0.84 on an AVX2-only EPYC), so only
    its direction is held."""
    for name in CLIPS:
        cut = half(name)
        assert detector.probability_complete(right_padded(cut)) > detector.probability_complete(cut)
    cut = half("librivox_sense_and_sensibility_0890")  # "... rather cold hearted and | rather ..."
    assert not detector.is_complete(cut) and detector.is_complete(right_padded(cut))
    cut = half("cmu_arctic_a0007")
    p_left, p_right = detector.probability_complete(cut), detector.probability_complete(right_padded(cut))
    assert p_left < 0.05 and p_right > 0.2


@pytest.mark.integration
def test_detector_validates_audio_and_threshold(detector):
    with pytest.raises(ValueError, match="float32"):
        detector.probability_complete(clip_audio("cmu_arctic_a0007").astype(np.float64))
    with pytest.raises(ValueError, match="NaN"):
        detector.is_complete(np.full(1600, np.nan, np.float32))
    with pytest.raises(ValueError, match=r"threshold must be a probability in \[0, 1\]"):
        detector.is_complete(clip_audio("cmu_arctic_a0007"), threshold=1.5)


def pipecat_reference_features():
    """pipecat's ``compute_whisper_log_mel_features``, loaded from the cached wheel
    without importing pipecat (the module imports only numpy), or skip."""
    wheel = _downloads_dir() / PIPECAT_WHEEL.filename
    if not wheel.is_file() or _sha256_file(wheel) != PIPECAT_WHEEL.sha256:
        pytest.skip(f"{PIPECAT_WHEEL.filename} is not in the download cache ({wheel}); "
                    "`python -m voicelab.assets build smart-turn-v3.2 --force` fetches it")
    with zipfile.ZipFile(wheel) as zf:
        source = zf.read(REFERENCE_MEMBER).decode()
    imports = set(re.findall(r"^(?:from|import) (\S+)", source, flags=re.M))
    if not imports <= {"numpy", "numpy.lib.stride_tricks"}:
        pytest.skip(f"{REFERENCE_MEMBER} imports {sorted(imports)}: "
                    "not loadable without pipecat's dependencies")
    module = types.ModuleType("pipecat_whisper_features")
    exec(compile(source, f"{wheel.name}/{REFERENCE_MEMBER}", "exec"), module.__dict__)
    return module.compute_whisper_log_mel_features


@pytest.mark.integration
@pytest.mark.parametrize("name", CLIPS)
def test_features_and_probabilities_match_pipecat(detector, name):
    """pipecat left-pads to 8 s, then calls its vendored extractor: same features to
    float32 rounding, hence the same probability."""
    reference = pipecat_reference_features()
    for audio in (clip_audio(name), half(name)):
        theirs = reference(last_window(audio), do_normalize=True)
        ours = log_mel_features(audio)
        assert theirs.shape == ours.shape == (80, 800)
        assert np.abs(ours - theirs).max() < 1e-6
        (p_theirs,) = detector._session.run(["logits"], {"input_features": theirs[np.newaxis]})[0][0]
        assert detector.probability_complete(audio) == pytest.approx(float(p_theirs), abs=1e-6)
