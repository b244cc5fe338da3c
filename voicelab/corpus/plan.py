"""The committed item plan: the corpus is the same on every machine.

The items (ids, cut points, inserted pauses, labelled silences, reference speech bounds) come
from each recording's reference (:class:`voicelab.truth.ReferenceFinder`: Silero, band energy,
Whisper tiny.en word timings), and int8 Whisper's timings differ slightly between CPUs. So the
plan is made once, by ``python -m voicelab.corpus plan`` on a maintainer's machine, and committed
as :data:`PLAN` (gzip JSON, about 50 KB): set-up then only fetches the pinned packages, checks
that every recording has the sha256 the plan was made from, and renders the items, the same
bytes everywhere and without running Whisper. Experiment files that name corpus items
(``corpus:<id>``) therefore work on any machine.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

from voicelab.assets.cache import _sha256_file
from voicelab.corpus.recordings import Recording
from voicelab.corpus.sources import CorpusError

__all__ = ["PLAN", "read_plan", "write_plan"]

PLAN = Path(__file__).resolve().parent.parent / "data" / "corpus" / "plan.json.gz"
"""The committed plan (package data)."""

REPLAN = "Re-plan with `python -m voicelab.corpus plan` and commit voicelab/data/corpus/plan.json.gz."


def _recording_hashes(recordings: Sequence[Recording], root: Path) -> dict[str, str]:
    return {r.path: _sha256_file(root / r.path) for r in sorted(recordings, key=lambda r: r.path)}


def write_plan(recordings: Sequence[Recording], root: Path, items: list[dict], skipped: list[dict],
               truth_version: str | None, path: Path = PLAN) -> Path:
    """Write the plan of ``items`` made from ``recordings`` (files under ``root``) to ``path``,
    deterministically (sorted keys, gzip mtime 0)."""
    data = {"truth_version": truth_version, "recordings": _recording_hashes(recordings, root),
            "skipped": skipped, "items": items}
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(data, indent=0, sort_keys=True).encode() + b"\n"
    path.write_bytes(gzip.compress(raw, mtime=0))
    return path


def read_plan(recordings: Sequence[Recording], root: Path,
              path: Path = PLAN) -> tuple[list[dict], list[dict], str | None]:
    """``(items, skipped, truth_version)`` of the committed plan, after checking that the
    recordings are exactly those it was made from.

    Raises:
        CorpusError: no plan, or a recording is missing, extra or has other bytes.
    """
    if not path.is_file():
        raise CorpusError(f"no committed corpus plan at {path}. {REPLAN}")
    data = json.loads(gzip.decompress(path.read_bytes()))
    have = _recording_hashes(recordings, root)
    want = data["recordings"]
    if have != want:
        diff = sorted(set(have.items()) ^ set(want.items()))[:3]
        raise CorpusError(f"the recordings differ from those the committed plan was made from "
                          f"(first differences: {diff}). {REPLAN}")
    return data["items"], data["skipped"], data["truth_version"]
