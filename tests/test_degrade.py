"""Degraded clips: exact levels and SNRs, and what the telephone band lets through."""

import numpy as np
import pytest

from voicelab.audio import degrade

RATE = 16_000


def tone(hz: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def rms(x) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def test_add_noise_hits_the_snr_against_the_speech_region_exactly():
    x = np.zeros(RATE, np.float32)
    x[4000:12000] = tone(440, 0.5, 0.2)
    noisy = degrade.add_noise(x, degrade.white_noise(RATE, seed=3), 20.0, (250.0, 750.0))
    noise = noisy.astype(np.float64) - x
    assert 20 * np.log10(degrade.speech_rms(x, (250.0, 750.0)) / rms(noise)) == pytest.approx(20.0, abs=1e-3)
    # seeded: the same noise every time; silent noise is an error
    np.testing.assert_array_equal(degrade.white_noise(100, seed=3), degrade.white_noise(100, seed=3))
    with pytest.raises(ValueError, match="silent"):
        degrade.add_noise(x, np.zeros(10), 10.0, (250.0, 750.0))
    with pytest.raises(ValueError, match="empty speech region"):
        degrade.speech_rms(x, (500.0, 500.0))


def test_gain_and_insert():
    x = tone(440)
    assert rms(degrade.gain(x, -20.0)) == pytest.approx(rms(x) / 10, rel=1e-6)
    y = degrade.insert(np.zeros(RATE, np.float32), np.ones(160, np.float32) * 0.25, at_ms=100.0)
    assert np.flatnonzero(y).tolist() == list(range(1600, 1760)) and y[1600] == 0.25
    with pytest.raises(ValueError, match="outside"):
        degrade.insert(np.zeros(10, np.float32), np.ones(2, np.float32), at_ms=10.0)


def test_telephone_band_passes_speech_band_and_cuts_outside_it():
    for hz, lo, hi in ((1000, 0.8, 1.1), (100, 0.0, 0.1), (6000, 0.0, 0.01)):
        out = degrade.telephone(tone(hz))
        assert out.shape == (RATE,) and out.dtype == np.float32
        ratio = rms(out[2000:]) / rms(tone(hz)[2000:])
        assert lo <= ratio <= hi, (hz, ratio)


def test_babble_is_unit_rms_per_talker_and_seeded():
    talkers = [tone(200, 0.3), tone(310, 0.7)]
    b = degrade.babble(talkers, RATE, seed=1)
    np.testing.assert_array_equal(b, degrade.babble(talkers, RATE, seed=1))
    assert b.shape == (RATE,) and rms(b) == pytest.approx(np.sqrt(2), rel=0.05)  # two uncorrelated unit-RMS talkers
    with pytest.raises(ValueError, match="talker"):
        degrade.babble([], 10)
