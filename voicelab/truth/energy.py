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
*noise* by :data:`EXTEND_MARGIN_DB` plus twice the noise's own spread (its 90th minus
50th percentile), then trimmed back to the outermost windows whose own level passes
that threshold (smoothing smears edges by half its width):
the noise is measured on the windows outside the speech segments
given (Silero's), so a steady hiss gives a threshold just above itself and babble a
high one (never above the activity threshold).

Energy sees every audible sound, breaths and clicks included, and is exact to 10 ms
where Silero is late by up to a frame: the consensus takes its edges from here and
its idea of *which* sound is speech from Silero and Whisper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicelab.vad.base import SAMPLE_RATE

WINDOW_MS = 10.0
_WIN = int(SAMPLE_RATE * WINDOW_MS / 1000)
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


def band_levels_db(audio: np.ndarray) -> np.ndarray:
    """300-3400 Hz level (dB re full scale RMS) of consecutive 10 ms Hann windows.

    Args:
        audio: float32 mono at 16 kHz, shape ``(n,)``.

    Returns:
        float64, shape ``(n // 160,)``; element i covers samples ``[160 i, 160 (i + 1))``.
    """
    m = len(audio) // _WIN
    frames = np.asarray(audio[: m * _WIN], dtype=np.float64).reshape(m, _WIN)
    win = np.hanning(_WIN)
    spec = np.fft.rfft(frames * win, axis=1)
    f = np.fft.rfftfreq(_WIN, 1 / SAMPLE_RATE)
    band = (f >= BAND_HZ[0]) & (f <= BAND_HZ[1])
    rms = np.sqrt((np.abs(spec[:, band]) ** 2).sum(axis=1) * 2 / _WIN / (win ** 2).sum())
    return 20 * np.log10(np.maximum(rms, 1e-10))


@dataclass(frozen=True)
class EnergyAnalysis:
    """Band levels of a clip and the runs of activity found in them.

    ``levels_db``: one per 10 ms window; ``floor_db``/``threshold_db``: the noise floor
    and the activity threshold; ``extend_db``: the edge-extension threshold on smoothed
    levels (all dB); ``runs_ms``: ``[(start_ms, end_ms), ...]``.
    """

    levels_db: np.ndarray
    floor_db: float
    threshold_db: float
    extend_db: float
    runs_ms: list[tuple[float, float]]


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
    noise = _noise_windows(smooth, speech_ms)
    p10, p50 = np.percentile(noise, [10, 50])
    extend = min(max(float(p50 + EXTEND_MARGIN_DB + 2 * (p50 - p10)), loud - RANGE_DB), threshold)
    out: list[tuple[float, float]] = []
    for a_run, b_run in kept:
        a, b = a_run, b_run
        lo = out[-1][1] / WINDOW_MS if out else 0
        while a > lo and smooth[a - 1] >= extend:
            a -= 1
        while b < len(levels) and smooth[b] >= extend:
            b += 1
        # the smoothed level smears ~SMOOTH_MS/2 outwards: trim the extension to raw levels
        while a < a_run and levels[a] < extend:
            a += 1
        while b > b_run and levels[b - 1] < extend:
            b -= 1
        if out and a * WINDOW_MS <= out[-1][1]:
            out[-1] = (out[-1][0], b * WINDOW_MS)
        else:
            out.append((a * WINDOW_MS, b * WINDOW_MS))
    return EnergyAnalysis(levels, floor, threshold, extend, out)


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
