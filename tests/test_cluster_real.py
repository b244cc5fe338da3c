"""One real 2-point sweep on a Ray head started with ``ray start --head`` (the real default
models on a bundled clip, in a Ray worker)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from voicelab.config import parse_config
from voicelab.lab.node import node_info
from voicelab.lab.sweep import run_sweep
from voicelab.measure.metrics import wer

pytestmark = pytest.mark.integration
ray = pytest.importorskip("ray", reason="Ray is not installed: `make setup` installs voicelab[ray]")

from voicelab.lab.cluster import SESSION_RESOURCE, RayExecutor  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def ray_head():
    cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert cli, "the `ray` command is missing from the venv: `make setup` installs voicelab[ray]"
    port = _free_port()
    start = [cli, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
             "--disable-usage-stats", f"--resources={json.dumps({SESSION_RESOURCE: 1})}"]
    proc = subprocess.run(start, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([cli, "stop", "--force"], capture_output=True, timeout=120)


def test_real_two_point_sweep_on_a_ray_head(tmp_path, ray_head):
    cfg = parse_config({"name": "ray-real", "clips": ["cmu_arctic_a0007"], "warmup_turns": 0,
                        "sweep": {"grid": {"trigger.words": [1, 2]}, "repetitions": 1}})
    ex = RayExecutor(ray_head)
    table = run_sweep(cfg, tmp_path, log=lambda m: None, executor=ex)
    assert sorted(table["trigger.words"]) == [1, 2] and len(ex.timings) == 2
    assert set(table["node"]) == {node_info()["hostname"]}
    assert (table["voice_to_voice_latency_ms"] > 0).all()
    for _, row in table.iterrows():
        assert wer(row.reference_text, row.transcript) <= 0.15 and row.response_text
    assert len({t["pid"] for t in ex.timings}) == 1  # one worker, models loaded once
