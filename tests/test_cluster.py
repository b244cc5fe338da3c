"""Sweeps on a local Ray instance (``voicelab sweep --ray``), with fake runs: the same rows as
in-process, workers killed mid-run, runs that keep failing. Ray is part of ``make setup``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from voicelab.config import parse_config
from voicelab.lab.node import node_info
from voicelab.lab.sweep import expand_grid, is_finished, run_dir, run_sweep

ray = pytest.importorskip("ray", reason="Ray is not installed: `make setup` installs voicelab[ray]")

from voicelab.lab.cluster import SESSION_RESOURCE, RayExecutor  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the fakes below go to the workers
    ray.init(num_cpus=2, resources={SESSION_RESOURCE: 1}, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    yield
    ray.shutdown()


def _config(**sweep):
    return parse_config({"name": "t", "clips": ["cmu_arctic_a0007"],
                         "sweep": {"grid": {"trigger.words": [1, 2]}, "repetitions": 2, **sweep}})


class FakeRun:
    """Writes a run's files as run_experiment does (two turns, V2V 100 ms x words + 10 ms x turn).

    ``die_once_at`` (words): the first attempt of those runs kills its worker process
    (``os._exit``) after writing half its files; ``fail_at`` (words): raises every time.
    Attempts are counted as files in ``marks``, shared by driver and workers."""

    def __init__(self, marks: Path, die_once_at=(), fail_at=()):
        self.marks, self.die_once_at, self.fail_at = str(marks), tuple(die_once_at), tuple(fail_at)

    def __call__(self, config, out_dir, stages, log, report, keep_audio):
        words = config.trigger.words
        marks = Path(self.marks)
        attempt = len(list(marks.glob(f"w{words}-*")))
        (marks / f"w{words}-{attempt}-{os.getpid()}").touch()
        out_dir.mkdir(parents=True)
        pd.DataFrame([{"turn": t, "clip": "c", "variant": "v", "warmup": False,
                       "voice_to_voice_latency_ms": 100.0 * words + 10.0 * t, "transcript": "t",
                       "response_text": "r"} for t in (0, 1)]).to_csv(out_dir / "turns.csv", index=False)
        if words in self.die_once_at and attempt == 0:
            os._exit(3)  # the worker dies mid-run
        if words in self.fail_at:
            raise RuntimeError(f"run with words={words} broke")
        (out_dir / "events.jsonl").write_text("")
        summary = {"created": "now", "node": node_info(), "stages": stages}
        (out_dir / "summary.json").write_text(json.dumps(summary))
        return type("R", (), {"summary": summary})()


def _load(config, log):
    return f"stages-{os.getpid()}"  # loaded once per worker process


ROW_KEYS = ["point", "point_id", "repetition", "run_id", "trigger.words", "turn", "voice_to_voice_latency_ms", "node"]


def test_ray_sweep_gives_the_rows_of_the_in_process_sweep(tmp_path):
    """2 points x 2 repetitions: the same rows, values and run directories either way; every
    run records the node; one worker process loads the fake models once and runs all four."""
    marks = tmp_path / "marks"
    marks.mkdir()
    local = run_sweep(_config(), tmp_path / "local", log=lambda m: None, run_one=FakeRun(marks), load=_load)
    ex = RayExecutor(run_one=FakeRun(marks), load=_load)
    on_ray = run_sweep(_config(), tmp_path / "ray", log=lambda m: None, executor=ex)
    pd.testing.assert_frame_equal(local[ROW_KEYS], on_ray[ROW_KEYS])
    assert len(on_ray) == 8 and set(on_ray["node"]) == {node_info()["hostname"]}
    assert set(on_ray["node_kind"]) == {f"{node_info()['cpu_model']} x{node_info()['cores']}"}
    stages = {json.loads((tmp_path / "ray" / "runs" / r / "summary.json").read_text())["stages"]
              for r in on_ray["run_id"].unique()}
    assert len(stages) == 1 and stages != {f"stages-{os.getpid()}"}  # loaded in a worker, reused
    assert len(ex.timings) == 4 and all(t["worker_run_ms"] > 0 for t in ex.timings)
    meta = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert meta["executor"] == "RayExecutor" and "failed" not in meta


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_lost(tmp_path):
    """The first attempt of each words=2 run kills its worker after writing turns.csv: Ray
    retries it on a fresh worker; all four runs finish, each words=2 run in two attempts."""
    marks = tmp_path / "marks"
    marks.mkdir()
    table = run_sweep(_config(), tmp_path / "s", log=lambda m: None,
                      executor=RayExecutor(max_retries=2, run_one=FakeRun(marks, die_once_at=(2,)), load=_load))
    assert len(table) == 8 and sorted(set(zip(table["trigger.words"], table["repetition"]))) == [
        (1, 0), (1, 1), (2, 0), (2, 1)]
    assert len(list(marks.glob("w1-*"))) == 2 and len(list(marks.glob("w2-*"))) == 3
    assert not list((tmp_path / "s" / "runs").glob(".tmp-*"))


def test_runs_that_keep_failing_are_listed_and_the_rerun_does_only_them(tmp_path):
    """words=2 always raises: after 1 retry each of its runs is listed in sweep.json and the
    sweep finishes with the words=1 runs kept; run again (in process, fixed), only the two
    missing runs run."""
    marks = tmp_path / "marks"
    marks.mkdir()
    cfg = _config()
    table = run_sweep(cfg, tmp_path / "s", log=lambda m: None,
                      executor=RayExecutor(max_retries=1, run_one=FakeRun(marks, fail_at=(2,)), load=_load))
    assert sorted(set(table["trigger.words"])) == [1]
    meta = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert sorted((f["label"], f["repetition"]) for f in meta["failed"]) == [
        ("trigger.words=2", 0), ("trigger.words=2", 1)]
    assert all("words=2 broke" in f["error"] for f in meta["failed"])
    assert len(list(marks.glob("w2-*"))) == 4  # 2 runs x (1 + 1 retry)
    points = expand_grid(cfg)
    assert [is_finished(run_dir(tmp_path / "s", p, r)) for p in points for r in (0, 1)] == [True, True, False, False]
    again = FakeRun(marks)
    table = run_sweep(cfg, tmp_path / "s", log=lambda m: None, run_one=again, load=_load)
    assert len(table) == 8 and len(list(marks.glob("w1-*"))) == 2  # the finished runs were not redone
    assert "failed" not in json.loads((tmp_path / "s" / "sweep.json").read_text())
