"""Speex echo cancellation: the MDF adaptive filter of libspeexdsp, plus its residual echo suppressor.

``speexdsp-aec`` (a ctypes wheel over Debian's ``libspeexdsp.so.1``) runs
``speex_echo_cancellation``; the suppressor is ``speex_preprocess_run`` on each output
block with the canceller's state attached (``SPEEX_PREPROCESS_SET_ECHO_STATE``), reached
through the wheel's library handle, as speexdsp's own ``testecho.c`` pairs them.
"""

from __future__ import annotations

import ctypes

import numpy as np

from voicelab.aec.base import EchoCanceller
from voicelab.units import INPUT_RATE

SPEEX_PREPROCESS_SET_ECHO_STATE = 24
"""``speex/speex_preprocess.h``: attach an echo canceller's state to the preprocessor."""

FRAME_MS = 16
"""Block length: 256 samples at 16 kHz, a power of two (the MDF filter's FFT size is twice
the block) that divides the 32 ms microphone frame, so no sample waits for a block."""

_INT16_P = ctypes.POINTER(ctypes.c_int16)


class SpeexEchoCanceller(EchoCanceller):
    """Speex MDF echo canceller with ``tail_ms`` of echo path (the filter length), on
    :data:`FRAME_MS` blocks, optionally followed by Speex's residual echo suppressor (its
    preprocessor also denoises: the echo suppression is applied in its noise-gain stage and
    does nothing with denoising off).

    Audio crosses as int16 (the library's format): samples are scaled by 32767 and clipped.
    The suppressor delays its output by one block (256 samples, 16 ms; measured by
    cross-correlation in tests/test_echo_aec.py): :attr:`latency_samples`.

    Raises:
        RuntimeError: ``libspeexdsp.so.1`` cannot be loaded (``apt install libspeexdsp1`` or
        set ``SPEEXDSP_LIB``), or the library refuses the settings.
    """

    name = "speex"

    def __init__(self, tail_ms: float = 300.0, suppressor: bool = True, rate: int = INPUT_RATE) -> None:
        from speexdsp_aec import SpeexAec

        try:
            self._aec = SpeexAec(sample_rate=rate, frame_ms=FRAME_MS, filter_tail_ms=int(tail_ms))
        except RuntimeError as err:
            raise RuntimeError(f"aec.kind=speex: {err} (make setup installs Debian's libspeexdsp1)") from None
        self.frame_samples = self._aec.frame_size
        self._lib = self._aec._lib  # the wheel's handle on libspeexdsp (no public accessor in 0.1.0)
        self._pre = None
        if suppressor:
            lib = self._lib
            lib.speex_preprocess_state_init.restype = ctypes.c_void_p
            lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.speex_preprocess_ctl.restype = ctypes.c_int
            lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            lib.speex_preprocess_run.restype = ctypes.c_int
            lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, _INT16_P]
            lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
            self._pre = lib.speex_preprocess_state_init(self.frame_samples, rate)
            if not self._pre or lib.speex_preprocess_ctl(self._pre, SPEEX_PREPROCESS_SET_ECHO_STATE,
                                                         ctypes.c_void_p(self._aec._state)) != 0:
                raise RuntimeError("aec.kind=speex: speex_preprocess refused the echo state")
        self.latency_samples = self.frame_samples if suppressor else 0
        self.info = {"kind": "speex", "tail_ms": float(tail_ms), "suppressor": suppressor,
                     "frame_ms": FRAME_MS, "rate": rate, "latency_ms": self.latency_samples * 1000.0 / rate}

    def process(self, near: np.ndarray, reference: np.ndarray) -> np.ndarray:
        self._check(near, reference)
        n16 = _to_int16(near)
        r16 = _to_int16(reference)
        out = np.frombuffer(self._aec.process(n16, r16), dtype=np.int16).copy()
        if self._pre is not None:
            for k in range(0, len(out), self.frame_samples):
                block = out[k: k + self.frame_samples]  # a view: processed in place
                self._lib.speex_preprocess_run(self._pre, block.ctypes.data_as(_INT16_P))
        return out.astype(np.float32) / 32767.0

    def close(self) -> None:
        if self._pre is not None:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._pre = None
        self._aec.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the library may be gone
            pass


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(np.round(np.asarray(x, dtype=np.float64) * 32767.0), -32768, 32767)
                                .astype(np.int16))
