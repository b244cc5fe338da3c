"""Degraded versions of a clip: what a clean studio recording becomes on a real line.

Used to evaluate the reference speech boundaries (:mod:`voicelab.truth.evaluate`)
and handy for robustness experiments. Every function takes and returns 16 kHz mono
float32 audio of the same length (a telephone clip is band-limited at 8 kHz and
returned at 16 kHz, as voicelab would load an 8 kHz file); random ones are seeded.
"""

from __future__ import annotations

import numpy as np
import soxr
from scipy import signal

from voicelab.units import INPUT_RATE

TELEPHONE_BAND_HZ = (300.0, 3400.0)
"""The narrow-band telephone channel (ITU-T G.712 pass band)."""

TELEPHONE_RATE = 8_000


def telephone(audio: np.ndarray, rate: int = INPUT_RATE) -> np.ndarray:
    """Band-limit to 300-3400 Hz (4th-order Butterworth band-pass, forward only, as a
    line would) and pass through 8 kHz (soxr), returned at ``rate``."""
    sos = signal.butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=rate, output="sos")
    narrow = signal.sosfilt(sos, np.asarray(audio, dtype=np.float64))
    at_8k = soxr.resample(narrow, rate, TELEPHONE_RATE, quality="HQ")
    back = soxr.resample(at_8k, TELEPHONE_RATE, rate, quality="HQ")
    return _fit(back, len(audio))


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    """``audio`` scaled by ``db`` decibels."""
    return (np.asarray(audio, dtype=np.float64) * 10 ** (db / 20)).astype(np.float32)


def speech_rms(audio: np.ndarray, bounds_ms: tuple[float, float], rate: int = INPUT_RATE) -> float:
    """RMS of ``audio`` between the speech bounds (ms): the signal level of an SNR."""
    s0, s1 = (int(b * rate / 1000) for b in bounds_ms)
    seg = np.asarray(audio[s0:s1], dtype=np.float64)
    if not len(seg):
        raise ValueError(f"empty speech region {bounds_ms} ms")
    return float(np.sqrt(np.mean(seg ** 2)))


def add_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float,
              bounds_ms: tuple[float, float], rate: int = INPUT_RATE) -> np.ndarray:
    """Mix ``noise`` (looped or cut to length) at ``snr_db`` below the speech RMS within
    ``bounds_ms``; the sum is clipped to [-1, 1]."""
    noise = np.resize(np.asarray(noise, dtype=np.float64), len(audio))
    n_rms = float(np.sqrt(np.mean(noise ** 2)))
    if n_rms == 0:
        raise ValueError("the noise is silent")
    scale = speech_rms(audio, bounds_ms, rate) * 10 ** (-snr_db / 20) / n_rms
    return np.clip(np.asarray(audio, dtype=np.float64) + scale * noise, -1, 1).astype(np.float32)


def white_noise(n: int, seed: int = 0) -> np.ndarray:
    """Gaussian white noise, unit variance, float32, shape ``(n,)``."""
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def babble(talkers: list[np.ndarray], n: int, seed: int = 0) -> np.ndarray:
    """Babble noise: ``talkers`` (real speech, each looped from a random offset and
    normalised to unit RMS) summed, shape ``(n,)`` float32."""
    if not talkers:
        raise ValueError("babble needs at least one talker")
    rng = np.random.default_rng(seed)
    out = np.zeros(n, dtype=np.float64)
    for t in talkers:
        t = np.asarray(t, dtype=np.float64)
        looped = np.resize(np.roll(t, -int(rng.integers(len(t)))), n)
        out += looped / max(float(np.sqrt(np.mean(looped ** 2))), 1e-12)
    return out.astype(np.float32)


def insert(audio: np.ndarray, sound: np.ndarray, at_ms: float, rate: int = INPUT_RATE) -> np.ndarray:
    """``sound`` mixed into ``audio`` starting at ``at_ms`` (cut at the clip's end)."""
    out = np.asarray(audio, dtype=np.float64).copy()
    i = int(at_ms * rate / 1000)
    if not 0 <= i < len(out):
        raise ValueError(f"at_ms={at_ms} is outside the clip")
    seg = np.asarray(sound, dtype=np.float64)[: len(out) - i]
    out[i:i + len(seg)] += seg
    return np.clip(out, -1, 1).astype(np.float32)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x[:n] if len(x) >= n else np.concatenate([x, np.zeros(n - len(x), np.float32)])
