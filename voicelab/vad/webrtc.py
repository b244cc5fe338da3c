"""WebRTC VAD (the GMM detector from the WebRTC project) via ``webrtcvad-wheels``."""

from __future__ import annotations

import numpy as np
import webrtcvad

from voicelab.vad.base import VAD

SUBFRAME_SAMPLES = 160
"""10 ms at 16 kHz; WebRTC VAD accepts only 10, 20 or 30 ms frames of 16-bit PCM."""


class WebRTCVAD(VAD):
    """Fraction of 10 ms sub-frames that WebRTC VAD judges voiced.

    1. convert the float32 frame to int16 PCM (``x * 32768``, clipped);
    2. prepend the samples left over from the previous frame and judge every full
       160-sample sub-frame (3 or 4 of them: 512 = 3 * 160 + 32, so the remainder
       grows by 32 samples per frame and every fifth frame holds 4 sub-frames);
    3. carry the remainder (< 160 samples) to the next frame, so every sample is
       judged exactly once and sub-frames stay on a continuous 10 ms grid.

    The probability is therefore one of 0, 1/4, 1/3, 1/2, 2/3, 3/4, 1.

    Args:
        aggressiveness: WebRTC mode 0 (least aggressive about filtering out
            non-speech) .. 3 (most aggressive).

    Raises:
        ValueError: ``aggressiveness`` not in 0..3.
    """

    name = "webrtc"

    def __init__(self, aggressiveness: int = 2) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {aggressiveness}")
        self.aggressiveness = aggressiveness
        self._vad = webrtcvad.Vad(aggressiveness)
        self.reset()

    def reset(self) -> None:
        self._carry = np.zeros(0, dtype=np.int16)

    def speech_probability(self, frame: np.ndarray) -> float:
        self.check_frame(frame)
        pcm16 = np.clip(np.round(frame * 32768.0), -32768, 32767).astype(np.int16)
        pcm = np.concatenate([self._carry, pcm16])
        n = len(pcm) // SUBFRAME_SAMPLES  # >= 3 because len(pcm) >= 512
        voiced = sum(self._vad.is_speech(pcm[i * SUBFRAME_SAMPLES:(i + 1) * SUBFRAME_SAMPLES].tobytes(),
                                         self.sample_rate) for i in range(n))
        self._carry = pcm[n * SUBFRAME_SAMPLES:].copy()
        return voiced / n
