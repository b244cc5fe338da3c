"""The audio format every stage agrees on, and conversions between milliseconds and samples.

Everything the agent hears runs at :data:`INPUT_RATE`: the microphone, echo cancellation, the
VADs (Silero's ONNX model takes 8 or 16 kHz), endpointing, Smart Turn (trained on 16 kHz),
Whisper (its feature extractor expects 16 kHz), the reference boundaries, the corpus and the
wire protocol's ``input_audio``. The agent's own output keeps its TTS engine's rate (24 kHz for
Kokoro, 22.05 kHz for Piper) and says so wherever it is carried.

Conversions keep the arithmetic the code has always used, so results do not shift by a sample:
``ms * (rate / 1000)`` truncated toward zero, and ``samples / (rate / 1000)`` (for 16 kHz these
are ``ms * 16`` and ``n / 16``, exact in binary floating point).
"""

from __future__ import annotations

INPUT_RATE = 16_000
"""Hz: the sample rate of everything the agent hears (see the module docstring)."""


def per_ms(rate: int = INPUT_RATE) -> float:
    """Samples per millisecond at ``rate`` Hz (16.0 at :data:`INPUT_RATE`).

    Raises:
        ValueError: ``rate`` not positive.
    """
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    return rate / 1000


def ms_to_samples(ms: float, rate: int = INPUT_RATE) -> int:
    """Whole samples in ``ms`` milliseconds at ``rate`` Hz, truncated toward zero
    (``int(ms * 16)`` at 16 kHz)."""
    return int(ms * per_ms(rate))


def samples_to_ms(n: float, rate: int = INPUT_RATE) -> float:
    """Milliseconds spanned by ``n`` samples at ``rate`` Hz (``n / 16`` at 16 kHz)."""
    return n / per_ms(rate)
