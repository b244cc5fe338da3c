"""Acoustic echo cancellation (AEC): the agent's own voice taken out of the microphone.

A stage between the microphone and every consumer (endpointer, barge-in detector, STT),
fed the audio the agent actually played as its reference. :func:`make_echo_canceller`
builds the one ``aec.kind`` names: :mod:`voicelab.aec.speex` (Speex MDF + residual echo
suppressor), or none.
"""

from __future__ import annotations

from voicelab.aec.base import EchoCanceller
from voicelab.config import AECConfig
from voicelab.units import INPUT_RATE


def make_echo_canceller(cfg: AECConfig, rate: int = INPUT_RATE) -> EchoCanceller | None:
    """A fresh canceller for one session (its filter adapts to that session's echo path),
    or None for ``kind: none``.

    Raises:
        RuntimeError: ``speex`` without ``libspeexdsp.so.1`` (Debian ``libspeexdsp1``;
        ``make setup`` installs it, ``SPEEXDSP_LIB`` may point at another copy).
    """
    if cfg.kind == "none":
        return None
    from voicelab.aec.speex import SpeexEchoCanceller

    return SpeexEchoCanceller(tail_ms=cfg.tail_ms, suppressor=cfg.suppressor, rate=rate)


__all__ = ["EchoCanceller", "make_echo_canceller"]
