"""One real 2-point sweep on a Ray head started with ``ray start --head``: the CLI
(``voicelab sweep --ray HOST:PORT``) runs the real default models on a bundled clip in a
Ray worker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from voicelab.lab.node import node_info
from voicelab.measure.metrics import wer

pytestmark = pytest.mark.integration
pytest.importorskip("ray", reason="Ray is not installed: `make setup` installs voicelab[ray]")

BIN = Path(sys.executable).parent


@pytest.fixture()
def ray_head(free_port):
    """A head on loopback with one session slot. Ray 2.60 turns token authentication on by
    default; this throw-away loopback cluster turns it off (RAY_AUTH_MODE=disabled) for the
    head and the driver alike."""
    cli = shutil.which("ray", path=str(BIN))
    assert cli, "the `ray` command is missing from the venv: `make setup` installs voicelab[ray]"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    port = free_port
    start = [cli, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
             "--disable-usage-stats", f"--resources={json.dumps({'voicelab_session': 1})}"]
    proc = subprocess.run(start, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([cli, "stop", "--force"], capture_output=True, timeout=120, env=env)


def test_real_two_point_sweep_on_a_ray_head(tmp_path, ray_head):
    address, env = ray_head
    cfg = tmp_path / "ray_real.yaml"
    cfg.write_text(yaml.safe_dump({"name": "ray-real", "clips": ["cmu_arctic_a0007"], "warmup_turns": 0,
                                   "sweep": {"grid": {"trigger.words": [1, 2]}, "repetitions": 1}}))
    out = tmp_path / "sweep"
    proc = subprocess.run([str(BIN / "voicelab"), "sweep", str(cfg), "--ray", address, "--out", str(out)],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = pd.read_parquet(out / "results.parquet")
    assert sorted(table["trigger.words"]) == [1, 2]
    assert set(table["node"]) == {node_info()["hostname"]} and (table["voice_to_voice_latency_ms"] > 0).all()
    for _, row in table.iterrows():
        assert wer(row.reference_text, row.transcript) <= 0.15 and row.response_text
    last = json.loads((out / "sweep.json").read_text())["last_invocation"]
    assert last["executor"] == "RayExecutor" and len(last["timings"]) == 2
    assert (out / "report.html").is_file()
