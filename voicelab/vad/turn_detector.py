"""Smart Turn v3.2 end-of-turn detection: is the utterance so far a finished turn?

A VAD says *whether* someone is speaking; Smart Turn says whether what they said so
far sounds *finished* (prosody, not words). Intended use (as Pipecat uses it):
after a short VAD silence (~200 ms instead of 500 ms), ask :meth:`SmartTurnDetector.is_complete`
on the whole utterance; if it says incomplete, keep listening and fall back to the
longer silence timeout.

Model and pre-processing follow pipecat's ``LocalSmartTurnAnalyzerV3``
(``pipecat/audio/turn/smart_turn/local_smart_turn_v3.py``, pipecat-ai 1.14.0, BSD-2-Clause),
the code that ships the model:

1. the utterance, float32 mono at 16 kHz, is cut to its **last 8 s** (128,000 samples)
   or, if shorter, **left**-padded with zeros to 8 s, so the end of speech is always at
   the end of the window. (Right padding would put up to 8 s of silence after the
   speech, and the model then answers "complete" almost always: half-cut clips scored
   0.40-0.98 with right padding against 0.01-0.83 with left padding, measured on the bundled clips.)
2. Whisper log-mel features of that window, with the numpy functions transformers'
   ``WhisperFeatureExtractor`` is built from (``transformers.audio_utils``:
   ``mel_filter_bank``, ``window_function``, ``spectrogram``) and its parameters for
   ``chunk_length=8``: zero mean and unit variance over the whole 8 s window (zeros
   included, ``do_normalize=True``), periodic Hann STFT (n_fft 400, hop 160, centered,
   reflect padding), power spectrum, 80 Slaney mel bins 0-8 kHz, log10 of max(1e-10, .),
   the last of the 801 frames dropped, clamped to (max - 8), then ``(x + 4) / 4``:
   80 bins x 800 frames of 10 ms. This is transformers' numpy path and what pipecat's
   vendored extractor (``_whisper_features.compute_whisper_log_mel_features``)
   computes: max difference ~1e-7, identical probabilities on the bundled clips
   (``tests/test_turn_detector.py``). ``WhisperFeatureExtractor.__call__`` itself is
   not used: with torch installed it takes a float32 ``torch.stft`` path (differences
   ~2e-5, which the int8-quantized model turned into P(complete) 0.792 instead of 0.834
   on one clip) and importing it imports torch (+2.4 s), whose thread pool this
   module would then share with the LLM. This module never imports torch.
3. ONNX model (:mod:`voicelab.assets.smart_turn`): input ``input_features`` float32
   ``(1, 80, 800)``, output ``logits`` float32 ``(1, 1)``, which is already a sigmoid
   probability that the turn is complete.

Cost on a 2-core CPU: features ~10-15 ms, ONNX ~40-70 ms per call, whatever the
utterance length (the window is always 8 s).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

from voicelab.assets.paths import resolve_model_path
from voicelab.units import INPUT_RATE

WINDOW_SECONDS = 8
"""Smart Turn looks at the last 8 s of the utterance."""

WINDOW_SAMPLES = WINDOW_SECONDS * INPUT_RATE
"""128,000 samples: the model's audio window."""

N_MELS = 80
N_FRAMES = 800
"""Feature shape ``(80, 800)``: 80 mel bins x 800 frames of 10 ms (the STFT's 801st is dropped)."""

N_FFT = 400
"""STFT window: 25 ms (Whisper's)."""

HOP = 160
"""STFT hop: 10 ms (Whisper's)."""

THRESHOLD = 0.5
"""Default decision threshold on P(complete), as in pipecat (``probability > 0.5``)."""

_INPUT = "input_features"
_OUTPUT = "logits"


def last_window(audio: np.ndarray) -> np.ndarray:
    """The model's audio window: the last 8 s of ``audio``, left-padded with zeros.

    Args:
        audio: float32, shape ``(n,)``, 16 kHz mono (not validated here).

    Returns:
        float32, shape ``(128000,)``: ``audio[-128000:]`` if ``n >= 128000``, else
        ``128000 - n`` zeros followed by ``audio``.
    """
    if audio.shape[0] >= WINDOW_SAMPLES:
        return np.ascontiguousarray(audio[-WINDOW_SAMPLES:], dtype=np.float32)
    out = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    out[WINDOW_SAMPLES - audio.shape[0]:] = audio
    return out


def check_audio(audio: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``audio`` is a non-empty finite float32 array of shape ``(n,)``."""
    if not isinstance(audio, np.ndarray) or audio.dtype != np.float32:
        got = audio.dtype if isinstance(audio, np.ndarray) else type(audio).__name__
        raise ValueError(f"Smart Turn expects float32 numpy audio in [-1, 1], got {got}; "
                         "convert int16 PCM with x.astype(np.float32) / 32768")
    if audio.ndim != 1:
        raise ValueError(f"Smart Turn expects mono audio of shape (n,) at {INPUT_RATE} Hz, got shape "
                         f"{audio.shape}; mix down to mono and resample to {INPUT_RATE} Hz")
    if audio.size == 0:
        raise ValueError("Smart Turn needs at least one sample of the utterance, got an empty array")
    if not np.all(np.isfinite(audio)):
        raise ValueError("Smart Turn audio contains NaN or infinite samples")


def whisper_mel_filters() -> np.ndarray:
    """The 80-bin mel filter bank of ``WhisperFeatureExtractor`` (same call, same arguments).

    Returns:
        float64, shape ``(201, 80)``: Slaney-scale, Slaney-normalized triangles over
        0-8000 Hz, applied to the 201 bins of a 400-point power spectrum.
    """
    return mel_filter_bank(num_frequency_bins=1 + N_FFT // 2, num_mel_filters=N_MELS,
                           min_frequency=0.0, max_frequency=INPUT_RATE / 2, sampling_rate=INPUT_RATE,
                           norm="slaney", mel_scale="slaney")


_HANN = window_function(N_FFT, "hann")  # periodic, as torch.hann_window
_MEL_FILTERS = whisper_mel_filters()


def log_mel_features(audio: np.ndarray) -> np.ndarray:
    """The model input for ``audio``: Whisper log-mel of its left-padded last 8 s.

    Args:
        audio: the utterance so far, float32, shape ``(n,)``, 16 kHz mono, samples in
            [-1, 1] (the level does not matter: the window is normalized).

    Returns:
        float32, shape ``(80, 800)``: 80 mel bins x 800 frames of 10 ms covering the
        8 s window (:func:`last_window`); values roughly in [-1, 1.5].

    Raises:
        ValueError: not float32, not 1-D, empty, or NaN/inf samples (:func:`check_audio`).
    """
    check_audio(audio)
    x = last_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)  # float32, as zero_mean_unit_var_norm
    log_mel = spectrogram(x, _HANN, frame_length=N_FFT, hop_length=HOP, power=2.0,
                          mel_filters=_MEL_FILTERS, log_mel="log10")[:, :-1]
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)


class SmartTurnDetector:
    """Smart Turn v3.2: P(the turn is complete) from the utterance so far.

    Stateless: every call looks only at the audio it is given (its last 8 s), so one
    detector can serve any number of streams.

    Args:
        model: asset name or path of the ONNX file (default: the ``smart-turn-v3.2``
            asset, see :mod:`voicelab.assets.smart_turn`).
        threads: onnxruntime ``intra_op_num_threads`` (``inter_op_num_threads`` is 1,
            sequential execution, as pipecat sets them). Set explicitly so the detector
            never grabs every core (1 and 2 threads ran about equally fast on 2 cores).

    Raises:
        ValueError: ``threads < 1``.
        voicelab.assets.AssetError: the asset is missing or corrupt (the message names
            the command that rebuilds it).
        RuntimeError: the ONNX file does not have input ``input_features`` (B, 80, 800)
            and output ``logits``.
    """

    def __init__(self, model: str = "smart-turn-v3.2", threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self.model_path = resolve_model_path(model)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(self.model_path), sess_options=opts,
                                             providers=["CPUExecutionProvider"])
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if ([i.name for i in inputs] != [_INPUT] or list(inputs[0].shape[1:]) != [N_MELS, N_FRAMES]
                or [o.name for o in outputs] != [_OUTPUT]):
            raise RuntimeError(
                f"{self.model_path} is not a Smart Turn v3 model: inputs "
                f"{[(i.name, i.shape) for i in inputs]}, outputs {[o.name for o in outputs]}; "
                f"expected input {_INPUT!r} (B, {N_MELS}, {N_FRAMES}) and output {_OUTPUT!r}")

    def probability_complete(self, audio: np.ndarray) -> float:
        """P(the speaker has finished the turn), judged at the end of ``audio``.

        Args:
            audio: the utterance so far, float32, shape ``(n,)``, 16 kHz mono, samples in
                [-1, 1]. Only the last 8 s count; shorter audio is left-padded with zeros
                (see :func:`last_window`), so leading silence changes nothing.

        Returns:
            Probability in [0, 1] (the model's sigmoid output).

        Raises:
            ValueError: not float32, not 1-D, empty, or NaN/inf samples.
        """
        x = log_mel_features(audio)[np.newaxis]
        (logits,) = self._session.run([_OUTPUT], {_INPUT: x})
        return float(logits[0, 0])

    def is_complete(self, audio: np.ndarray, threshold: float = THRESHOLD) -> bool:
        """``probability_complete(audio) > threshold`` (strictly greater, as pipecat decides).

        Raises:
            ValueError: bad ``audio`` (see :meth:`probability_complete`) or a threshold
                outside [0, 1].
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
        return self.probability_complete(audio) > threshold


class ThreadedTurnDetector:
    """A detector for the session's event loop: :meth:`judge` runs
    :meth:`SmartTurnDetector.probability_complete` in a worker thread (40-90 ms of
    features and ONNX on a 2-core EPYC), so microphone and speaker pacing go on."""

    def __init__(self, detector: SmartTurnDetector) -> None:
        self.detector = detector
        self.model_path = detector.model_path

    async def judge(self, audio: np.ndarray) -> float:
        """P(complete) of the utterance so far (float32 mono 16 kHz, shape ``(n,)``)."""
        import asyncio

        return await asyncio.to_thread(self.detector.probability_complete, audio)

    def warmup(self) -> None:
        self.detector.probability_complete(np.zeros(INPUT_RATE, dtype=np.float32))
