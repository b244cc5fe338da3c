"""Fricative edges: keep a word's unvoiced tail (or onset) that Silero drops.

Silero's speech probability falls on unvoiced fricatives (/s/, /f/, /sh/, /th/, /h/),
and a consensus edge placed from it (or from the telephone-band energy, in which a
wide-band /s/ is faint) can end a final "...bus" 200 ms before its /s/ does. A
fricative is noise-like, high in frequency and contiguous with its word, so after the
consensus (:func:`extend_edges`) each edge is moved outwards over the 10 ms frames
that are *fricative-like*:

- their :data:`FRICATIVE_BAND_HZ` level is at least :data:`MARGIN_DB` above the
  noise's own level in that band (its median over the frames outside the speech
  segments given, plus twice its 50th-minus-10th percentile spread, as in
  :mod:`voicelab.truth.energy`; the lower half, which a missed speech frame does not move),
  and within :data:`RANGE_DB` of the clip's loud
  speech in that band (its 99th percentile), so a digitally silent floor does not
  make dither speech; and
- at least :data:`MIN_HIGH_FRACTION` of their power lies in that band (a vowel,
  nasal, hum or babble frame holds most of its power below 2 kHz; white noise holds
  75 % there, so on hiss only the level test tells frication from noise);

starting at most :data:`MAX_GAP_MS` from the edge (a stop closure before a final
/s/, as in "its") and for at most :data:`MAX_EXTEND_MS`.

In a **steady noise** (``steady``, :func:`voicelab.truth.energy.steady_noise`: white
hiss, hum) the level test is made in each of the :data:`STEADY_SUB_BANDS_HZ` against
the noise's own level in that sub-band, and a frame passes if any sub-band does: a flat
noise spreads over the whole 6 kHz band while a fricative concentrates in part of it
(in white noise at 20 dB SNR the end of the /z/ closing LibriVox 0920 stands 10-11 dB
above the noise's median in 4-5.6 kHz, where the threshold is 9.5 dB, but only 6-7 dB
in 2-8 kHz, threshold 7.5 dB). In babble, whose sub-band levels swing like speech, the
whole band is used.
"""

from __future__ import annotations

import numpy as np

from voicelab.units import INPUT_RATE

WINDOW_MS = 10.0
_WIN = int(INPUT_RATE * WINDOW_MS / 1000)
FRICATIVE_BAND_HZ = (2000.0, 8000.0)
"""Sibilant and non-sibilant frication lies above 2 kHz (/s/ peaks at 4-8 kHz in wide
band, /sh/ at 2.5-4 kHz; an 8 kHz telephone recording keeps 2-4 kHz of either)."""
STEADY_SUB_BANDS_HZ = ((2000.0, 2800.0), (2800.0, 4000.0), (4000.0, 5600.0), (5600.0, 8000.0))
""":data:`FRICATIVE_BAND_HZ` in half octaves (as ``energy.SUB_BANDS_HZ``), for steady noise.
On the white-noise evaluation clips octave bands (2-4-8 kHz) lose 20 ms of 0920's /z/."""
MIN_HIGH_FRACTION = 0.25
"""Fraction of a frame's power in :data:`FRICATIVE_BAND_HZ` for it to be frication: on
the studio prompts a final /s/ holds 60-95 % there, vowels and nasals 0.3-5 %."""
MARGIN_DB = 6.0
"""Above the noise median plus twice its spread: a frame of steady noise passes with
probability well under 1 % (its level varies by about 1 dB per 10 ms)."""
RANGE_DB = 60.0
"""Frames more than this below the loud speech level in the band are not speech."""
MAX_GAP_MS = 60.0
"""A fricative run may start this far from the edge (``energy.BRIDGE_MS``: a closure)."""
MAX_EXTEND_MS = 300.0
"""The longest extension: a phrase-final /s/ lasts up to about 250 ms (the issue's
"bus" /s/ about 200 ms; Klatt 1976, JASA 59(5), reports fricative durations lengthening
by up to 50-100 % phrase-finally from about 100-150 ms)."""


def fricative_frames(audio: np.ndarray, speech_ms: list[tuple[float, float]] | None = None,
                     steady: bool = False) -> np.ndarray:
    """Which 10 ms frames are fricative-like (see the module docstring).

    Args:
        audio: float32 mono at 16 kHz, shape ``(n,)``.
        speech_ms: speech segments (ms) left out of the noise estimate; None or fewer than
            10 frames left = the quietest 10 % of the frames are the noise.
        steady: the noise is steady (:attr:`voicelab.truth.energy.EnergyAnalysis.steady`):
            test each of the :data:`STEADY_SUB_BANDS_HZ` on its own.

    Returns:
        bool, shape ``(n // 160,)``; element i covers samples ``[160 i, 160 (i + 1))``.
    """
    m = len(audio) // _WIN
    if m == 0:
        return np.zeros(0, dtype=bool)
    frames = np.asarray(audio[: m * _WIN], dtype=np.float64).reshape(m, _WIN)
    power = np.abs(np.fft.rfft(frames * np.hanning(_WIN), axis=1)) ** 2
    f = np.fft.rfftfreq(_WIN, 1 / INPUT_RATE)
    band = (f >= FRICATIVE_BAND_HZ[0]) & (f <= FRICATIVE_BAND_HZ[1])
    high = power[:, band].sum(axis=1)
    total = power.sum(axis=1)
    audible = 10 * np.log10(np.maximum(high, 1e-20)) > -190.0
    if not audible.any():
        return np.zeros(m, dtype=bool)
    noise_mask = audible.copy()
    for s0, s1 in speech_ms or []:
        noise_mask[max(int(s0 / WINDOW_MS) - 5, 0):int(s1 / WINDOW_MS) + 5] = False
    few = speech_ms is None or noise_mask.sum() < 10
    loud_enough = np.zeros(m, dtype=bool)
    for lo, hi in STEADY_SUB_BANDS_HZ if steady else (FRICATIVE_BAND_HZ,):
        level = 10 * np.log10(np.maximum(power[:, (f >= lo) & (f <= hi)].sum(axis=1), 1e-20))
        if few:
            lv = level[audible]
            noise = lv[lv <= np.percentile(lv, 10)]
        else:
            noise = level[noise_mask]
        p10, p50 = np.percentile(noise, [10, 50])
        loud = float(np.percentile(level[audible], 99))
        loud_enough |= level >= max(float(p50 + MARGIN_DB + 2 * (p50 - p10)), loud - RANGE_DB)
    return loud_enough & (high >= MIN_HIGH_FRACTION * np.maximum(total, 1e-30))


def extend_edges(start_ms: float, end_ms: float, fricative: np.ndarray,
                 lower_ms: float = 0.0) -> tuple[float, float]:
    """``(start_ms, end_ms)`` moved outwards over nearby fricative-like frames.

    The offset moves to the end of the last ``fricative`` frame among the
    :data:`MAX_GAP_MS` of frames after it, again and again (so a closure
    inside "...sts" is bridged), but never more than :data:`MAX_EXTEND_MS` past the
    original offset; the onset likewise backwards, never before ``lower_ms``. Frames are
    :data:`WINDOW_MS` long: element i covers ``[10 i, 10 (i + 1))`` ms.

    Raises:
        ValueError: ``end_ms`` is not after ``start_ms``.
    """
    if not end_ms > start_ms:
        raise ValueError(f"end_ms ({end_ms}) must be after start_ms ({start_ms})")
    n = len(fricative)
    gap, most = int(MAX_GAP_MS / WINDOW_MS), int(MAX_EXTEND_MS / WINDOW_MS)
    e0 = e = int(np.ceil(end_ms / WINDOW_MS - 1e-9))   # frames [.., e) are speech
    while True:
        hits = np.flatnonzero(fricative[e:min(e + gap, n, e0 + most)])
        if not len(hits):
            break
        e += int(hits[-1]) + 1
    s0 = s = int(np.floor(start_ms / WINDOW_MS + 1e-9))  # frames [s, ..) are speech
    lo = max(int(np.ceil(lower_ms / WINDOW_MS - 1e-9)), 0)
    while True:
        a = max(s - gap, lo, s0 - most)
        hits = np.flatnonzero(fricative[a:s]) if a < s else []
        if not len(hits):
            break
        s = a + int(hits[0])
    # no fricative frame taken: the edge stays where it was (not rounded to the frame grid)
    return (start_ms if s == s0 else min(start_ms, s * WINDOW_MS),
            end_ms if e == e0 else max(end_ms, e * WINDOW_MS))
