"""Loading and normalising audio (soundfile for I/O, soxr for resampling).

Everything voicelab feeds to its input stages is 16 kHz mono float32 in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from voicelab.units import INPUT_RATE


class AudioError(ValueError):
    """Audio that cannot be used: unreadable, empty, non-finite or of the wrong shape/range."""


def to_mono_float32(audio: np.ndarray, sample_rate: int, target_rate: int = INPUT_RATE,
                    source: str = "<array>") -> np.ndarray:
    """Convert an array to mono float32 at ``target_rate``.

    Args:
        audio: shape ``(frames,)`` or ``(frames, channels)`` (soundfile's layout);
            float in [-1, 1], or int16/int32 PCM (scaled by 2**15 / 2**31).
        sample_rate: rate of ``audio`` in Hz (required: never guessed).
        target_rate: output rate in Hz.
        source: name used in error messages.

    Returns:
        float32 array of shape ``(frames * target_rate / sample_rate,)``.

    Raises:
        AudioError: empty audio, NaN/inf samples, float samples outside [-1, 1]
            (e.g. int16 values stored as float), an unsupported dtype, a
            ``(channels, frames)`` layout, or a non-positive sample rate.
    """
    a = np.asarray(audio)
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"{source}: sample_rate must be a positive int in Hz, got {sample_rate!r}")
    if a.size == 0:
        raise AudioError(f"{source}: audio is empty")
    if a.ndim == 2:
        if a.shape[0] < a.shape[1] and a.shape[0] <= 8:
            raise AudioError(
                f"{source}: shape {a.shape} looks like (channels, frames); pass (frames, channels)"
            )
    elif a.ndim != 1:
        raise AudioError(f"{source}: expected shape (frames,) or (frames, channels), got {a.shape}")
    if a.dtype == np.int16:
        a = a.astype(np.float32) / 32768.0
    elif a.dtype == np.int32:
        a = a.astype(np.float32) / 2147483648.0
    elif a.dtype.kind == "f":
        a = a.astype(np.float32, copy=False)
        if not np.all(np.isfinite(a)):
            raise AudioError(f"{source}: audio contains NaN or infinite samples")
        peak = float(np.max(np.abs(a)))
        if peak > 1.0 + 1e-6:
            raise AudioError(
                f"{source}: float samples reach {peak:.1f}, outside [-1, 1]; "
                "int16 PCM must be passed as int16 (or divided by 32768)"
            )
    else:
        raise AudioError(f"{source}: unsupported dtype {a.dtype}; use float32/64, int16 or int32")
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32)
    if sample_rate != target_rate:
        a = soxr.resample(a, sample_rate, target_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(a, dtype=np.float32)


def load_audio(path: str | Path, target_rate: int = INPUT_RATE) -> np.ndarray:
    """Read an audio file (any format libsndfile reads) as mono float32 at ``target_rate``.

    Raises:
        AudioError: missing, unreadable/corrupt or empty file, or bad samples
            (see :func:`to_mono_float32`).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"cannot read audio file {path}: {err}") from None
    return to_mono_float32(data, rate, target_rate, source=str(path))


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float32 mono audio as 16-bit PCM WAV."""
    sf.write(str(path), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
