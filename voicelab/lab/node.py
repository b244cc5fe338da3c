"""Which machine a run ran on: hostname, CPU model, cores and the CPU flags that change the numbers."""

from __future__ import annotations

import os
import platform
import socket
from functools import lru_cache

SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")
"""CPU flags that change inference speed here (oneDNN/ONNX Runtime/CTranslate2 kernels): the
vector width, int8 dot products (VNNI; without them onnxruntime's int8 kernels also round
differently: tests/test_tts_fast.py), bf16 and AMX tiles."""


@lru_cache(maxsize=1)
def node_info() -> dict:
    """``{"hostname", "cpu_model", "cores", "flags"}`` of this machine.

    The CPU model and flags come from ``/proc/cpuinfo`` (``platform.processor()`` is empty
    on Linux); elsewhere the model falls back to ``platform.processor()`` and ``flags`` is
    empty. ``cores``: ``os.cpu_count()`` (logical CPUs). ``flags``: the :data:`SPEED_FLAGS`
    present.
    """
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"hostname": socket.gethostname(), "cpu_model": model or platform.processor(),
            "cores": os.cpu_count(), "flags": [f for f in SPEED_FLAGS if f in flags]}


def node_kind(info: dict) -> str:
    """What makes two nodes comparable: ``"<cpu_model> x<cores>"``."""
    return f"{info.get('cpu_model') or '?'} x{info.get('cores') or '?'}"
