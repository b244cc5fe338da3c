"""Sweeps on a Ray cluster: each run is a Ray task on a node that has a free voicelab session slot.

A latency sweep must not run two sessions on the same cores at once, so every node offers
the custom resource :data:`SESSION_RESOURCE` (1 by default, set when the node joins:
``ray start ... --resources='{"voicelab_session": 1}'``) and every run asks for one unit of
it (and no CPU, so Ray's CPU accounting does not limit or over-commit it). Ray keeps its
worker processes between tasks: the models a worker loaded stay loaded
(:class:`~voicelab.lab.sweep.ModelCache`, one per worker process) for its next runs.

A run's outputs (``turns.csv``, ``events.jsonl``, ``summary.json`` and any WAV) come back
to the driver as bytes and are written there through the same atomic rename as in-process
runs, as each run finishes. Ray retries a run whose worker or node died, or that raised,
up to ``max_retries`` times; after that it is listed as failed (``sweep.json``) and the
sweep goes on. A killed driver loses no finished run: the same command resumes.

Ray is an optional extra (``pip install 'voicelab[ray]'``; ``make setup`` installs it).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voicelab.config import ExperimentConfig
from voicelab.lab.node import node_info
from voicelab.lab.sweep import Job, ModelCache, SweepPoint, run_point

SESSION_RESOURCE = "voicelab_session"
"""The custom Ray resource a run needs one unit of: session slots per node."""


class ClusterError(RuntimeError):
    """Ray is missing, or the cluster cannot run voicelab sessions."""


_CACHE: dict[str, ModelCache] = {}  # per Ray worker process: the models it has loaded


def _unnice() -> int:
    """Ray starts its workers at niceness 15; a session measured there would lose the cores
    to anything else running. Reset the running thread (and so every thread it starts from
    now on: the models' workers, the event loop's) to 0 when allowed; return the niceness
    the run ran at."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, 0)
    except PermissionError:  # not root: lowering niceness needs CAP_SYS_NICE
        pass
    return os.getpriority(os.PRIO_PROCESS, tid)


def _remote_run(config_json: dict, keep_audio: bool, run_one: Callable | None, load: Callable | None) -> dict:
    """Body of the Ray task: one run in a worker-local temporary directory; returns every
    file it wrote (name -> bytes), its summary, the node and the worker's timings (ms)."""
    t0 = time.perf_counter()
    nice = _unnice()
    config = ExperimentConfig.model_validate(config_json)
    key = "fake" if load is not None else "real"
    if key not in _CACHE:
        _CACHE[key] = ModelCache(load)
    cache = _CACHE[key]
    with tempfile.TemporaryDirectory(prefix="voicelab-run-") as d:
        out = Path(d) / "run"
        summary = run_point(config, out, cache, run_one, keep_audio, log=lambda m: None)
        t1 = time.perf_counter()
        files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    return {"files": files, "summary": summary, "node": node_info(), "pid": os.getpid(), "nice": nice,
            "run_ms": (t1 - t0) * 1000.0, "pack_ms": (time.perf_counter() - t1) * 1000.0}


class RayExecutor:
    """Runs a sweep's jobs as Ray tasks (see the module docstring).

    Args:
        address: ``"local"`` starts a Ray instance in this process's machine (one node with
            ``sessions_per_node`` session slots); ``"auto"`` joins the cluster this machine
            belongs to; anything else is a Ray address (``host:port`` or ``ray://host:port``).
        sessions_per_node: slots of a local instance (1: one session at a time; more only to
            measure contention on purpose). A cluster's nodes declare their own.
        max_retries: how often Ray retries a run (worker or node died, or the run raised).
        run_one / load: fakes for tests (pickled to the workers), else the real ones.

    Raises:
        ClusterError: Ray is not installed, or the cluster offers no ``voicelab_session``
        resource (the message gives the ``ray start`` command).
    """

    def __init__(self, address: str = "local", sessions_per_node: int = 1, max_retries: int = 2,
                 run_one: Callable | None = None, load: Callable | None = None) -> None:
        self.address, self.sessions_per_node, self.max_retries = address, sessions_per_node, max_retries
        self._run_one, self._load = run_one, load
        self.timings: list[dict] = []
        """Per finished run: the worker's run and packing time (ms), and when the driver had
        written it (ms since the executor started): with one slot, the gap between two runs
        written minus the second one's ``worker_run_ms`` is Ray's overhead for it
        (scheduling, shipping the results, writing them)."""

    def _connect(self, log: Callable[[str], None]):
        try:
            import ray
        except ImportError:
            raise ClusterError("--ray needs Ray: pip install 'voicelab[ray]' (make setup installs it)") from None
        if not ray.is_initialized():
            if self.address == "local":
                ray.init(resources={SESSION_RESOURCE: self.sessions_per_node}, include_dashboard=False,
                         logging_level="WARNING", log_to_driver=False)
            else:
                try:
                    ray.init(address=self.address, logging_level="WARNING", log_to_driver=False)
                except (ConnectionError, RuntimeError, ValueError) as err:
                    raise ClusterError(f"cannot join the Ray cluster at {self.address!r}: {err}") from None
        slots = ray.cluster_resources().get(SESSION_RESOURCE, 0)
        if not slots:
            raise ClusterError(f"the Ray cluster at {self.address!r} offers no {SESSION_RESOURCE!r} resource; start "
                               f"each node with: ray start --head (or --address=HEAD:6379) "
                               f"--resources='{{\"{SESSION_RESOURCE}\": 1}}'")
        log(f"Ray: {len(ray.nodes())} node(s), {slots:g} session slot(s)")
        return ray

    def run(self, jobs: list[Job], tmp_dir: Callable[[SweepPoint, int], Path],
            finished: Callable[[SweepPoint, int, dict], None], failed: Callable[[SweepPoint, int, str], None],
            keep_audio: bool, log: Callable[[str], None], status: Callable[[str], None]) -> None:
        if not jobs:
            return
        ray = self._connect(log)
        task = ray.remote(_remote_run).options(
            resources={SESSION_RESOURCE: 1}, num_cpus=0, max_retries=self.max_retries, retry_exceptions=True)
        t0 = time.perf_counter()
        pending: dict[Any, tuple[SweepPoint, int]] = {}
        for point, rep in jobs:  # submitted in the sweep's fair order; Ray starts them as slots free up
            ref = task.remote(point.config.model_dump(mode="json"), keep_audio, self._run_one, self._load)
            pending[ref] = (point, rep)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            point, rep = pending.pop(done[0])
            try:
                out = ray.get(done[0])
            except Exception as err:  # noqa: BLE001 - retries exhausted: list it, go on
                cause = getattr(err, "cause", None) or err  # a RayTaskError wraps the run's own exception
                lines = [ln for ln in str(cause).splitlines() if ln.strip()]
                failed(point, rep, f"{type(cause).__name__}: {lines[-1] if lines else ''}")
                continue
            tmp = tmp_dir(point, rep)
            tmp.mkdir(parents=True)
            for name, data in out["files"].items():
                (tmp / name).write_bytes(data)
            finished(point, rep, out["summary"])
            self.timings.append({"run_id": f"{point.point_id}/rep-{rep}", "node": out["node"]["hostname"],
                                 "pid": out["pid"], "nice": out["nice"], "worker_run_ms": out["run_ms"],
                                 "pack_ms": out["pack_ms"],
                                 "written_ms": (time.perf_counter() - t0) * 1000.0})
            status(f"{point.label} rep {rep} on {out['node']['hostname']}")
