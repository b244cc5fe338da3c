"""OpenVINO on the CPU behind the onnxruntime-session interface kokoro-onnx reads.

kokoro-onnx's ``Kokoro.from_session(session, voices)`` keeps its phonemizer, voices,
batching and trim and only calls ``session.run(None, feed)`` plus four introspection
members (``get_inputs``, ``get_outputs``, ``get_modelmeta``, ``_model_path``).
:class:`OpenVINOSession` provides those over an OpenVINO compiled model, so the same
Kokoro code runs on either runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PRECISION_HINT = "bf16"
"""Requested inference precision: bf16. On a Zen 5 with avx512_bf16 (no AMX) it took Kokoro's RTF
from 0.27 to 0.20 on a 20-word sentence (``docs/results/tts_first_chunk``); AMX gains more.
A CPU without bf16 support compiles in f32 instead; :attr:`OpenVINOSession.precision`
tells which."""

_ORT_TYPES = {"i64": "tensor(int64)", "i32": "tensor(int32)", "f32": "tensor(float)",
              "f16": "tensor(float16)", "f64": "tensor(double)"}


@dataclass(frozen=True)
class _Arg:
    name: str
    type: str


@dataclass(frozen=True)
class _Meta:
    custom_metadata_map: dict[str, str] = field(default_factory=dict)


class OpenVINOSession:
    """An ONNX model compiled by OpenVINO for the CPU, shaped like ``onnxruntime.InferenceSession``.

    Compiled with ``INFERENCE_PRECISION_HINT`` :data:`PRECISION_HINT`,
    ``INFERENCE_NUM_THREADS`` ``threads``, ``PERFORMANCE_HINT`` LATENCY and one stream.
    One infer request, so calls must not overlap (the TTS stage runs one at a time).

    Args:
        model: path of an ``.onnx`` file, or the serialized ONNX bytes of an edited graph.
        model_path: the file the model came from (what ``_model_path`` reports).
        threads: CPU inference threads.

    Attributes:
        precision: the precision OpenVINO actually compiled with, ``"bf16"`` or ``"f32"``
            (``compiled.get_property("INFERENCE_PRECISION_HINT")``).

    Raises:
        RuntimeError: OpenVINO cannot read or compile the model.
    """

    def __init__(self, model: Path | str | bytes, model_path: Path | str, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        read = core.read_model(model if isinstance(model, bytes) else str(model))
        self.compiled = core.compile_model(read, "CPU", {
            "INFERENCE_PRECISION_HINT": PRECISION_HINT, "INFERENCE_NUM_THREADS": int(threads),
            "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
        self.precision: str = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self._request = self.compiled.create_infer_request()
        self._model_path = str(model_path)
        self._inputs = [_Arg(p.get_any_name(), _ORT_TYPES.get(p.get_element_type().get_type_name(), "tensor(float)"))
                        for p in self.compiled.inputs]
        self._outputs = [_Arg(p.get_any_name(), _ORT_TYPES.get(p.get_element_type().get_type_name(), "tensor(float)"))
                         for p in self.compiled.outputs]

    def get_inputs(self) -> list[_Arg]:
        """Input names and onnxruntime type strings (``tensor(int64)``, ...)."""
        return list(self._inputs)

    def get_outputs(self) -> list[_Arg]:
        return list(self._outputs)

    def get_modelmeta(self) -> _Meta:
        """No custom metadata (kokoro-onnx then uses its bundled vocabulary)."""
        return _Meta()

    def run(self, output_names: list[str] | None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs (all, or ``output_names``) as numpy copies, for inputs ``feed`` by name."""
        self._request.infer(feed)
        names = output_names or [o.name for o in self._outputs]
        index = {o.name: i for i, o in enumerate(self._outputs)}
        return [self._request.get_output_tensor(index[n]).data.copy() for n in names]
