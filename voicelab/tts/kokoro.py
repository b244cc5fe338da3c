"""Kokoro-82M v1.0 through kokoro-onnx, on onnxruntime or OpenVINO, optionally with capped edge pads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from voicelab.assets.paths import resolve_model_path
from voicelab.config import TTSConfig
from voicelab.tts.base import CLAUSE_PAUSE_S, SENTENCE_PAUSE_S, ThreadedTTS, trailing_pause_s, with_trailing_pause

__all__ = ["CLAUSE_PAUSE_S", "KokoroTTS", "SENTENCE_PAUSE_S", "trailing_pause_s"]



class _OnnxSession:
    """An onnxruntime session made from bytes, with the ``_model_path`` kokoro-onnx reads."""

    def __init__(self, session: ort.InferenceSession, model_path: Path) -> None:
        self._session, self._model_path = session, str(model_path)

    def __getattr__(self, name: str):
        return getattr(self._session, name)


def _ort_session(model: Path | bytes, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def capped_model_bytes(model_path: Path, lead: int, trail: int) -> bytes:
    """The ONNX file at ``model_path`` with its edge pads capped (in memory, serialized).

    See :func:`voicelab.assets.kokoro_graph.cap_edge_pads`; ``lead`` / ``trail`` in 25 ms frames.

    Raises:
        voicelab.assets.kokoro_graph.GraphEditError: not a Kokoro v1.0 graph.
    """
    import onnx

    from voicelab.assets.kokoro_graph import cap_edge_pads

    return cap_edge_pads(onnx.load(str(model_path)), lead, trail).SerializeToString()


class KokoroTTS(ThreadedTTS):
    """Kokoro-82M through kokoro-onnx, 24 kHz mono float32, espeak-ng G2P.

    One :meth:`synthesize` call per triggered chunk, run in a dedicated worker
    thread so synthesis overlaps LLM generation. kokoro-onnx trims the leading and
    trailing silence of each request, so the pause a chunk's final punctuation calls
    for is appended here (``SENTENCE_PAUSE_S`` / ``CLAUSE_PAUSE_S``).

    ``config.runtime``: ``onnxruntime`` (``config.threads`` intra-op threads, one
    inter-op) or ``openvino`` (:class:`~voicelab.tts.openvino_runtime.OpenVINOSession`,
    bf16 where the CPU has it; give it the float32 model, the default for that runtime).
    ``config.edge_pad_cap`` edits the graph in memory at load time (about 1 s more for
    the float32 model).

    Attributes:
        model_path: the ONNX file loaded.
        precision: OpenVINO's compiled inference precision (``"bf16"`` / ``"f32"``),
            ``None`` on onnxruntime (which runs the graph's own dtypes).
        info: engine, runtime, model, precision, edge pad cap and threads, for summaries.

    Raises:
        ValueError: unknown voice (lists the available ones).
        voicelab.assets.AssetError: the model or voices asset is missing or corrupt.
    """

    name = "kokoro-onnx"
    sample_rate = 24_000

    def __init__(self, config: TTSConfig) -> None:
        from kokoro_onnx import Kokoro

        self.config = config
        self.model_path = resolve_model_path(config.resolved_model())
        self.voices_path = resolve_model_path(config.voices)
        if self.model_path.is_dir():
            self.model_path = next(self.model_path.glob("*.onnx"))
        if self.voices_path.is_dir():
            self.voices_path = next(self.voices_path.glob("*.npz"))
        model: Path | bytes = self.model_path
        if config.edge_pad_cap is not None:
            model = capped_model_bytes(self.model_path, *config.edge_pad_cap)
        self.precision: str | None = None
        if config.runtime == "openvino":
            from voicelab.tts.openvino_runtime import OpenVINOSession

            session = OpenVINOSession(model, self.model_path, config.threads)
            self.precision = session.precision
        else:
            session = _OnnxSession(_ort_session(model, config.threads), self.model_path)
        del model
        self._kokoro = Kokoro.from_session(session, str(self.voices_path))
        if config.voice not in self._kokoro.voices:
            raise ValueError(f"unknown Kokoro voice {config.voice!r}; available: "
                             f"{', '.join(self._kokoro.get_voices())}")
        self.info = {"engine": "kokoro", "runtime": config.runtime, "model": str(self.model_path),
                     "precision": self.precision, "threads": config.threads,
                     "edge_pad_cap": list(config.edge_pad_cap) if config.edge_pad_cap else None}
        super().__init__("kokoro")

    def synthesize_sync(self, text: str) -> np.ndarray:
        """Blocking synthesis of ``text`` (float32, 24 kHz), with the trailing pause."""
        audio, rate = self._kokoro.create(text, voice=self.config.voice, speed=self.config.speed,
                                          lang=self.config.lang)
        assert rate == self.sample_rate, rate
        return with_trailing_pause(audio, text, rate)
