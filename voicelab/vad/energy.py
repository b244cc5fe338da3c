"""Energy VAD: RMS in the speech band against a fixed threshold."""

from __future__ import annotations

import numpy as np

from voicelab.units import INPUT_RATE
from voicelab.vad.base import VAD

FIR_TAPS = 257
"""Length of the band-pass FIR. A Hamming-windowed sinc of N taps has a transition
width of about 3.3 fs / N (= 205 Hz here) and ~53 dB stop-band attenuation
(S. W. Smith, *The Scientist and Engineer's Guide to DSP*, ch. 16, table 16-1), so
mains hum (50/60 Hz) and its low harmonics are rejected. Group delay: 128 samples (8 ms)."""


def bandpass_fir(low_hz: float, high_hz: float, sample_rate: int = INPUT_RATE,
                 taps: int = FIR_TAPS) -> np.ndarray:
    """Linear-phase band-pass FIR: difference of two Hamming-windowed sinc low-passes.

    Returns:
        float64 taps, shape ``(taps,)``, unity gain in the pass band.
    """
    n = np.arange(taps) - (taps - 1) / 2
    f1, f2 = low_hz / sample_rate, high_hz / sample_rate  # cycles per sample
    ideal = 2 * f2 * np.sinc(2 * f2 * n) - 2 * f1 * np.sinc(2 * f1 * n)
    return ideal * np.hamming(taps)


class EnergyVAD(VAD):
    """Speech when the frame's RMS in the speech band reaches ``threshold``.

    1. band-pass each frame with a 257-tap FIR (:func:`bandpass_fir`), streaming: the
       last 256 input samples are carried over, so consecutive frames are filtered as
       one continuous signal (the first frame after :meth:`reset` sees zeros before it);
    2. RMS of the 512 filtered samples (:attr:`last_rms`);
    3. probability 1.0 if ``rms >= threshold`` else 0.0, so an endpointer threshold of
       0.5 means exactly "band RMS >= ``threshold``".

    Args:
        threshold: linear RMS on float32 full scale (a full-scale sine has RMS 0.707);
            the default 0.003 is about -50 dBFS (20 log10 0.003 = -50.5).
        band_hz: speech band; the default 300-3400 Hz is the telephone band (ITU-T G.712).

    Raises:
        ValueError: ``threshold <= 0`` or a band outside 0 < low < high < 8000 Hz.
    """

    name = "energy"

    def __init__(self, threshold: float = 0.003,
                 band_hz: tuple[float, float] = (300.0, 3400.0)) -> None:
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0 (linear RMS, full scale 1.0), got {threshold}")
        low, high = band_hz
        if not 0 < low < high < self.sample_rate / 2:
            raise ValueError(f"band_hz must satisfy 0 < low < high < {self.sample_rate // 2} Hz, got {band_hz}")
        self.threshold = float(threshold)
        self.band_hz = (float(low), float(high))
        self._fir = bandpass_fir(low, high, self.sample_rate)
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros(FIR_TAPS - 1, dtype=np.float64)
        self.last_rms = 0.0

    def band_rms(self, frame: np.ndarray) -> float:
        """RMS of ``frame`` (float32 ``(512,)``, 16 kHz) after the band-pass; advances the filter state."""
        self.check_frame(frame)
        x = np.concatenate([self._history, frame.astype(np.float64)])
        self._history = x[-(FIR_TAPS - 1):]
        y = np.convolve(x, self._fir, mode="valid")  # 512 outputs
        return float(np.sqrt(np.mean(y * y)))

    def speech_probability(self, frame: np.ndarray) -> float:
        self.last_rms = self.band_rms(frame)
        return 1.0 if self.last_rms >= self.threshold else 0.0
