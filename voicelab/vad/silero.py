"""Silero VAD v6 (ONNX) through onnxruntime + numpy; torch is never imported."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort

from voicelab.vad.base import VAD

CONTEXT_SAMPLES = 64
"""Samples of the previous window prepended to each 512-sample window at 16 kHz, as
silero-vad's own ``OnnxWrapper.__call__`` does (``silero_vad/utils_vad.py``, 6.2.3:
``context_size = 64 if sr == 16000 else 32``)."""

STATE_SHAPE = (2, 1, 128)
"""Recurrent state ``[2, batch, 128]`` (``OnnxWrapper.reset_states``), batch 1."""

_INPUTS = {"input", "state", "sr"}


def silero_model_path() -> Path:
    """Path of ``silero_vad.onnx`` shipped in the ``silero-vad`` wheel (installed ``--no-deps``)."""
    return Path(str(resources.files("silero_vad") / "data" / "silero_vad.onnx"))


@functools.cache
def _session(threads: int) -> ort.InferenceSession:
    """One onnxruntime session per thread count for the whole process. The network is
    stateless between calls (its recurrent state is an input and an output), and
    ``InferenceSession.run`` may be called from several threads, so every :class:`SileroVAD`
    shares it: a server opening an endpointer per session does not build (and leave behind
    the native memory of) a new session each time."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(silero_model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    if names != _INPUTS:
        raise RuntimeError(f"unexpected Silero ONNX inputs {sorted(names)}; expected {sorted(_INPUTS)}")
    return session


class SileroVAD(VAD):
    """Silero VAD: a small recurrent network; ~0.1-0.2 ms per frame on one CPU thread.

    Streaming, one call per consecutive 512-sample frame:

    1. model input = the last 64 samples of the previous frame followed by the frame,
       float32 ``[1, 576]``; ``state`` float32 ``[2, 1, 128]``; ``sr`` int64 scalar 16000;
    2. outputs: probability float32 ``[1, 1]`` and the new ``state``;
    3. :meth:`reset` zeroes the state and the 64-sample context.

    Instances share one onnxruntime session per ``threads`` (:func:`_session`); each keeps
    its own state and context.

    Args:
        threads: onnxruntime ``intra_op_num_threads`` (``inter_op_num_threads`` is 1).
            Set explicitly so the VAD never grabs every core (four stages share two).

    Raises:
        ValueError: ``threads < 1``.
        RuntimeError: the ONNX file's inputs are not ``input``, ``state``, ``sr``.
    """

    name = "silero"

    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self._session = _session(threads)  # shared; this instance's state is its own
        self._sr = np.array(self.sample_rate, dtype=np.int64)
        self._x = np.zeros((1, CONTEXT_SAMPLES + self.frame_samples), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._x[:] = 0.0  # context = zeros, as after OnnxWrapper.reset_states

    def speech_probability(self, frame: np.ndarray) -> float:
        self.check_frame(frame)
        x = self._x
        x[0, :CONTEXT_SAMPLES] = x[0, -CONTEXT_SAMPLES:]  # last 64 samples of the previous frame
        x[0, CONTEXT_SAMPLES:] = frame
        out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        return float(out[0, 0])
