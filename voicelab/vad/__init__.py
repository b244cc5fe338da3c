"""Voice activity detection and endpointing, on 512-sample (32 ms) float32 frames at 16 kHz.

- :func:`make_vad` builds a detector by kind: ``"silero"`` (Silero VAD v6, ONNX),
  ``"energy"`` (speech-band RMS threshold) or ``"webrtc"`` (WebRTC GMM VAD).
- :class:`~voicelab.vad.endpointing.Endpointer` turns per-frame probabilities into
  :class:`~voicelab.vad.endpointing.SpeechStart` / :class:`~voicelab.vad.endpointing.SpeechEnd`.

The true speech boundaries latencies are measured from are not a VAD's business: see
:mod:`voicelab.truth`.
"""

from __future__ import annotations

from typing import Any

from voicelab.vad.base import VAD
from voicelab.vad.endpointing import Endpointer, EndpointEvent, SpeechEnd, SpeechStart
from voicelab.vad.energy import EnergyVAD
from voicelab.vad.silero import SileroVAD
from voicelab.vad.webrtc import WebRTCVAD

VADS: dict[str, type[VAD]] = {cls.name: cls for cls in (SileroVAD, EnergyVAD, WebRTCVAD)}
"""VAD classes by kind."""


def make_vad(kind: str, **params: Any) -> VAD:
    """Build a VAD by kind, passing ``params`` to its constructor.

    Raises:
        ValueError: unknown kind (the message lists the kinds) or a bad parameter value.
        TypeError: a parameter the kind does not take.
    """
    try:
        cls = VADS[kind]
    except KeyError:
        raise ValueError(f"unknown VAD kind {kind!r}; choose one of: {', '.join(VADS)}") from None
    return cls(**params)


__all__ = ["VAD", "VADS", "make_vad", "SileroVAD", "EnergyVAD", "WebRTCVAD",
           "Endpointer", "EndpointEvent", "SpeechStart", "SpeechEnd"]
