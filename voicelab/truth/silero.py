"""Reference source 1: an offline Silero pass over the whole clean clip.

It runs its own :class:`~voicelab.vad.silero.SileroVAD` instance and its own
segmentation code (not the :class:`~voicelab.vad.endpointing.Endpointer` under test):
a port of silero-vad's ``get_speech_timestamps_from_probs`` (silero_vad/utils_vad.py,
6.2.3) with its defaults threshold 0.5, neg_threshold 0.35, min_speech 250 ms,
min_silence 100 ms, except ``speech_pad_ms = 0`` (the true boundary, unpadded) and no
max-speech split. Silero's probability rises and decays late: on the five annotated
LibriVox clips its ends were 3-118 ms after the annotated ends, so the consensus
(:mod:`voicelab.truth.consensus`) takes its edges from band energy.

Segment resolution: one 32 ms frame. A segment starts at the first sample of its first
speech frame and ends at the first sample of its first silent frame (or the clip end).
With silero's rule (the silence run's start must be ``min_silence_ms`` behind the
*start* of the current frame) a pause splits segments only once 5 frames (160 ms)
are below ``neg_threshold``; 4 frames (128 ms) are bridged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicelab.units import INPUT_RATE
from voicelab.vad.base import FRAME_SAMPLES, VAD
from voicelab.vad.silero import SileroVAD

REFERENCE_THRESHOLD = 0.5
REFERENCE_NEG_THRESHOLD = 0.35  # max(0.5 - 0.15, 0.01), silero's rule
REFERENCE_MIN_SPEECH_MS = 250.0
REFERENCE_MIN_SILENCE_MS = 100.0


def frame_probabilities(audio: np.ndarray, vad: VAD) -> np.ndarray:
    """Run ``vad`` (after a reset) over ``audio`` in consecutive 512-sample frames.

    The last partial frame is zero-padded, as in silero's ``get_speech_timestamps``.

    Returns:
        float64, shape ``(ceil(len(audio) / 512),)``; element i covers samples
        ``[512 i, 512 (i + 1))``.
    """
    vad.reset()
    n = vad.frame_samples
    x = np.asarray(audio, dtype=np.float32)
    x = np.concatenate([x, np.zeros(-len(x) % n, dtype=np.float32)])
    return np.array([vad.speech_probability(x[i:i + n]) for i in range(0, len(x), n)], dtype=np.float64)


def segments_from_probabilities(probs: np.ndarray | list[float], audio_samples: int,
                                threshold: float = REFERENCE_THRESHOLD,
                                neg_threshold: float = REFERENCE_NEG_THRESHOLD,
                                min_speech_ms: float = REFERENCE_MIN_SPEECH_MS,
                                min_silence_ms: float = REFERENCE_MIN_SILENCE_MS,
                                ) -> list[tuple[int, int]]:
    """Offline segmentation of per-frame probabilities (512-sample frames at 16 kHz).

    Port of silero-vad 6.2.3 ``get_speech_timestamps_from_probs`` without padding and
    without the max-speech split: speech starts at a frame with ``p >= threshold``;
    it ends at the first frame of a run with ``p < neg_threshold`` once that run's
    start is ``min_silence_ms`` behind the current frame's start (frames between the
    thresholds do not reset the run); a segment is kept if longer than ``min_speech_ms``.

    Returns:
        ``[(start_sample, end_sample), ...]``, end exclusive.
    """
    min_speech = INPUT_RATE * min_speech_ms / 1000
    min_silence = INPUT_RATE * min_silence_ms / 1000
    segments: list[tuple[int, int]] = []
    start: int | None = None
    temp_end: int | None = None
    for i, p in enumerate(probs):
        cur = FRAME_SAMPLES * i
        if p >= threshold:
            temp_end = None
            if start is None:
                start = cur
                continue
        if start is not None and p < neg_threshold:
            if temp_end is None:
                temp_end = cur
            if cur - temp_end >= min_silence:
                if temp_end - start > min_speech:
                    segments.append((start, temp_end))
                start = temp_end = None
    if start is not None and audio_samples - start > min_speech:
        segments.append((start, audio_samples))
    return segments


@dataclass(frozen=True)
class SileroPass:
    """What the offline Silero pass found in a clip.

    ``probabilities``: one per 512-sample (32 ms) frame, float64; ``segments_ms``:
    ``[(start_ms, end_ms), ...]`` (see :func:`segments_from_probabilities`); ``audio_ms``:
    the clip's length (None: unknown).
    """

    probabilities: np.ndarray
    segments_ms: list[tuple[float, float]]
    audio_ms: float | None = None

    @property
    def closed(self) -> bool:
        """Whether the last segment ends before the clip does: Silero's probability stayed
        below ``neg_threshold`` for ``min_silence_ms`` after it. An *open* segment (one
        the clip's end closed, e.g. when babble of other voices follows the speech) has
        no measured end. True when ``audio_ms`` is unknown."""
        return not self.segments_ms or self.audio_ms is None or self.segments_ms[-1][1] < self.audio_ms

    @property
    def last_speech_frame_end_ms(self) -> float | None:
        """End (ms) of the last frame with ``p >= 0.5`` inside the last segment: where
        Silero's probability falls, without the segment rule's 100 ms of silence."""
        if not self.segments_ms:
            return None
        s0, s1 = self.segments_ms[-1]
        i0, i1 = int(s0 * INPUT_RATE / 1000) // FRAME_SAMPLES, -(-int(s1 * INPUT_RATE / 1000) // FRAME_SAMPLES)
        hi = np.flatnonzero(self.probabilities[i0:i1] >= REFERENCE_THRESHOLD)
        return None if not len(hi) else (i0 + int(hi[-1]) + 1) * FRAME_SAMPLES * 1000.0 / INPUT_RATE


def silero_pass(audio: np.ndarray, sample_rate: int = INPUT_RATE, vad: VAD | None = None) -> SileroPass:
    """The offline Silero pass over a clip (see the module docstring).

    Args:
        audio: float32 mono in [-1, 1], shape ``(n,)``, at ``sample_rate``.
        sample_rate: must be :data:`voicelab.units.INPUT_RATE` (16000) (resample first, e.g. with soxr).
        vad: the reference detector; default a fresh ``SileroVAD(threads=1)``. Never
            pass the instance used by the endpointer under test.

    Raises:
        ValueError: ``sample_rate`` is not 16000 (:data:`~voicelab.units.INPUT_RATE`), or ``audio`` is not 1-D.
    """
    if sample_rate != INPUT_RATE:
        raise ValueError(f"the reference VAD needs {INPUT_RATE} Hz audio, got {sample_rate} Hz; resample first")
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {audio.shape}")
    probs = frame_probabilities(audio, vad if vad is not None else SileroVAD(threads=1))
    to_ms = 1000.0 / INPUT_RATE
    return SileroPass(probs, [(s * to_ms, e * to_ms) for s, e in segments_from_probabilities(probs, len(audio))],
                      len(audio) * to_ms)


def silero_segments(audio: np.ndarray, sample_rate: int = INPUT_RATE,
                    vad: VAD | None = None) -> list[tuple[float, float]]:
    """Speech segments ``[(start_ms, end_ms), ...]`` of :func:`silero_pass`; possibly empty."""
    return silero_pass(audio, sample_rate, vad).segments_ms
