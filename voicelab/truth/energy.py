"""Reference source 2: speech-band energy against the clip's own noise floor.

Levels are the 300-3400 Hz RMS of consecutive 10 ms Hann windows (the telephone band,
so a narrow-band clip and its wide-band original give comparable levels). A window is
*active* when its level is at least :data:`MARGIN_DB` above the clip's noise floor
(the :data:`FLOOR_PERCENTILE` th percentile of its window levels) and within
:data:`RANGE_DB` of its loud speech (the 99th percentile), the second bound keeping a
digitally silent floor from turning faint hiss into speech. Active windows form runs;
gaps up to :data:`BRIDGE_MS` are bridged (stop closures inside a word) and runs shorter
than :data:`MIN_RUN_MS` dropped (clicks).

In noise, the quiet ends of words sink under that threshold. Each run's edges are then
extended outwards while the level, smoothed over :data:`SMOOTH_MS`, stays above the
*noise* by :data:`EXTEND_MARGIN_DB` plus twice the noise's own spread (its 50th minus
10th percentile), then trimmed back to the outermost windows whose own level passes
that threshold (smoothing smears edges by half its width):
the noise is measured on the windows outside the speech segments
given (Silero's), so a steady hiss gives a threshold just above itself and babble a
high one (never above the activity threshold).

**Steady noise** (:func:`steady_noise`: the noise, not the speech's dynamic range, sets
that threshold, by more than :data:`MIN_MASKING_DB`, and its smoothed level varies by
at most :data:`STEADY_SPREAD_DB`, e.g. hiss or hum): a flat noise buries the narrow-band
end of a word (the low first formant of a nasal or a decaying vowel, 300-600 Hz) that
still stands above the noise in its own part of the band. There a window also extends a run when the smoothed level
of any of the :data:`SUB_BANDS_HZ` stands above that sub-band's own noise by the same
rule, and the extension continues over gaps of up to :data:`BRIDGE_MS` (the quiet
glide between a word's voiced part and its final fricative). In babble each sub-band's
noise swings as much as speech does, so only the whole band is used.

Energy sees every audible sound, breaths and clicks included, and is exact to 10 ms
where Silero is late by up to a frame: the consensus takes its edges from here and
its idea of *which* sound is speech from Silero and Whisper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicelab.units import INPUT_RATE

WINDOW_MS = 10.0
_WIN = int(INPUT_RATE * WINDOW_MS / 1000)
BAND_HZ = (300.0, 3400.0)
FLOOR_PERCENTILE = 10.0
MARGIN_DB = 9.0
RANGE_DB = 45.0
BRIDGE_MS = 60.0
MIN_RUN_MS = 30.0
SMOOTH_MS = 50.0
DIGITAL_SILENCE_DB = -120.0
"""Windows at or below this level (digital zeros, padding) are left out of the floor."""
EXTEND_MARGIN_DB = 1.5
STEADY_SPREAD_DB = 1.0
"""The largest noise spread (50th minus 10th percentile of the smoothed band level of the
noise windows) that counts as steady: Gaussian noise gives about 0.45 dB (3.1 kHz times
50 ms); measured 0.5-0.9 dB on 59 of the 60 white-noise evaluation clips (LibriVox 0870
at 10 dB SNR: 1.4 dB) and 1.5-10.6 dB on all 60 babble ones (:mod:`voicelab.truth.evaluate`)."""
MIN_MASKING_DB = MARGIN_DB
"""How far above the speech's range (loud speech minus :data:`RANGE_DB`) the noise's
threshold must lie for the steady-noise rule: a recording's own floor lies a few dB
inside that range (LibriVox 0880 through the telephone band: 6 dB) and its annotation
was made hearing it; added white noise at 20 dB SNR lies 15-21 dB inside (10 dB SNR:
25-31 dB). The activity margin, :data:`MARGIN_DB`, lies between."""
SUB_BANDS_HZ = ((300.0, 450.0), (450.0, 650.0), (650.0, 900.0), (900.0, 1300.0),
                (1300.0, 1800.0), (1800.0, 2500.0), (2500.0, 3400.0))
""":data:`BAND_HZ` in seven sub-bands about half an octave wide (2 to 10 bins of the 10 ms
window's 100 Hz spectrum each), for the steady-noise extension."""


def band_levels_db(audio: np.ndarray) -> np.ndarray:
    """300-3400 Hz level (dB re full scale RMS) of consecutive 10 ms Hann windows.

    Args:
        audio: float32 mono at 16 kHz, shape ``(n,)``.

    Returns:
        float64, shape ``(n // 160,)``; element i covers samples ``[160 i, 160 (i + 1))``.
    """
    return sub_band_levels_db(audio, (BAND_HZ,))[:, 0]


def sub_band_levels_db(audio: np.ndarray, bands: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Level (dB re full scale RMS) in each of ``bands`` (``(lo_hz, hi_hz)``, both edges
    included) of consecutive 10 ms Hann windows.

    Returns:
        float64, shape ``(n // 160, len(bands))``; row i covers samples ``[160 i, 160 (i + 1))``.
    """
    m = len(audio) // _WIN
    frames = np.asarray(audio[: m * _WIN], dtype=np.float64).reshape(m, _WIN)
    win = np.hanning(_WIN)
    power = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2 * 2 / _WIN / (win ** 2).sum()
    f = np.fft.rfftfreq(_WIN, 1 / INPUT_RATE)
    out = np.stack([power[:, (f >= lo) & (f <= hi)].sum(axis=1) for lo, hi in bands], axis=1)
    return 10 * np.log10(np.maximum(out, 1e-20))


@dataclass(frozen=True)
class EnergyAnalysis:
    """Band levels of a clip and the runs of activity found in them.

    ``levels_db``: one per 10 ms window; ``floor_db``/``threshold_db``: the noise floor
    and the activity threshold; ``extend_db``: the edge-extension threshold on smoothed
    levels (all dB); ``runs_ms``: ``[(start_ms, end_ms), ...]``; ``steady``: whether a
    steady noise limited the extension (see the module docstring).
    """

    levels_db: np.ndarray
    floor_db: float
    threshold_db: float
    extend_db: float
    runs_ms: list[tuple[float, float]]
    steady: bool = False


def energy_runs(audio: np.ndarray, speech_ms: list[tuple[float, float]] | None = None) -> EnergyAnalysis:
    """Runs of speech-band activity (see the module docstring for the rule).

    Args:
        audio: float32 mono at 16 kHz, shape ``(n,)``.
        speech_ms: speech segments (ms) to leave out of the noise estimate; None or
            too little left (< 100 ms) = the quietest :data:`FLOOR_PERCENTILE` % windows.
    """
    levels = band_levels_db(audio)
    nan = float("nan")
    if not len(levels):
        return EnergyAnalysis(levels, nan, nan, nan, [])
    audible = levels[levels > DIGITAL_SILENCE_DB]
    if not len(audible):
        return EnergyAnalysis(levels, nan, nan, nan, [])
    floor = float(np.percentile(audible, FLOOR_PERCENTILE))
    loud = float(np.percentile(audible, 99))
    threshold = max(floor + MARGIN_DB, loud - RANGE_DB)
    runs = _runs(levels >= threshold)
    bridge, min_run = BRIDGE_MS / WINDOW_MS, MIN_RUN_MS / WINDOW_MS
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= bridge:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    kept = [(a, b) for a, b in merged if b - a >= min_run]
    smooth = _smooth_db(levels, int(SMOOTH_MS / WINDOW_MS))
    noise_db = _noise_threshold(smooth, speech_ms)
    extend = min(max(noise_db, loud - RANGE_DB), threshold)
    ok, ok_raw = smooth >= extend, levels >= extend
    steady = steady_noise(smooth, speech_ms, loud)
    if steady:
        subs = sub_band_levels_db(audio, SUB_BANDS_HZ)
        for sub in subs.T:
            sub_smooth = _smooth_db(sub, int(SMOOTH_MS / WINDOW_MS))
            sub_db = max(_noise_threshold(sub_smooth, speech_ms),
                         float(np.percentile(sub[levels > DIGITAL_SILENCE_DB], 99)) - RANGE_DB)
            ok |= sub_smooth >= sub_db
            ok_raw |= sub >= sub_db
    gap = int(BRIDGE_MS / WINDOW_MS) if steady else 0
    out: list[tuple[float, float]] = []
    for a_run, b_run in kept:
        a, b = a_run, b_run
        lo = int(round(out[-1][1] / WINDOW_MS)) if out else 0
        while True:   # outwards over windows passing `ok`, and over gaps of up to `gap` windows
            while a > lo and ok[a - 1]:
                a -= 1
            hits = np.flatnonzero(ok[max(a - 1 - gap, lo):max(a - 1, lo)])
            if not gap or not len(hits):
                break
            a = max(a - 1 - gap, lo) + int(hits[-1]) + 1
        while True:
            while b < len(levels) and ok[b]:
                b += 1
            hits = np.flatnonzero(ok[b + 1:b + 1 + gap])
            if not gap or not len(hits):
                break
            b = b + 1 + int(hits[0])
        # the smoothed level smears ~SMOOTH_MS/2 outwards: trim the extension to raw levels
        while a < a_run and not ok_raw[a]:
            a += 1
        while b > b_run and not ok_raw[b - 1]:
            b -= 1
        if out and a * WINDOW_MS <= out[-1][1]:
            out[-1] = (out[-1][0], b * WINDOW_MS)
        else:
            out.append((a * WINDOW_MS, b * WINDOW_MS))
    return EnergyAnalysis(levels, floor, threshold, extend, out, steady)


def steady_noise(smooth_db: np.ndarray, speech_ms: list[tuple[float, float]] | None, loud_db: float) -> bool:
    """Whether a steady noise limits the edge extension: its threshold
    (:func:`_noise_threshold` of the smoothed band levels ``smooth_db``) lies more than
    :data:`MIN_MASKING_DB` above the loud speech level ``loud_db`` minus :data:`RANGE_DB`
    (a clean recording's floor does not), and its spread is at most :data:`STEADY_SPREAD_DB`."""
    p10, p50 = np.percentile(_noise_windows(smooth_db, speech_ms), [10, 50])
    masking = _noise_threshold(smooth_db, speech_ms) - (loud_db - RANGE_DB)
    return masking > MIN_MASKING_DB and p50 - p10 <= STEADY_SPREAD_DB


def _noise_threshold(smooth_db: np.ndarray, speech_ms: list[tuple[float, float]] | None) -> float:
    """The noise's median plus :data:`EXTEND_MARGIN_DB` plus twice its spread (50th minus
    10th percentile) over the noise windows of ``smooth_db``."""
    p10, p50 = np.percentile(_noise_windows(smooth_db, speech_ms), [10, 50])
    return float(p50 + EXTEND_MARGIN_DB + 2 * (p50 - p10))


def _smooth_db(levels: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` windows, in the power domain, back in dB."""
    power = 10 ** (levels / 10)
    kernel = np.ones(n) / n
    return 10 * np.log10(np.maximum(np.convolve(power, kernel, mode="same"), 1e-20))


def _noise_windows(levels: np.ndarray, speech_ms: list[tuple[float, float]] | None) -> np.ndarray:
    mask = levels > DIGITAL_SILENCE_DB
    for s0, s1 in speech_ms or []:
        mask[max(int(s0 / WINDOW_MS) - 5, 0):int(s1 / WINDOW_MS) + 5] = False
    if speech_ms is None or mask.sum() < 10:
        audible = levels[levels > DIGITAL_SILENCE_DB]
        return audible[audible <= np.percentile(audible, FLOOR_PERCENTILE)]
    return levels[mask]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` (end exclusive) of the True runs of ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
