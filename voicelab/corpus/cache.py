"""The built corpus on disk: where it is, whether it is intact, and loading its items.

``<home>/corpus/`` (``<home>`` = :func:`voicelab.assets.voicelab_home`) holds
``MANIFEST.sha256`` (``sha256sum -c`` format) and a ``.verified`` stamp with each file's
size and mtime, as the model assets do (:mod:`voicelab.assets.cache`): the fast check
re-hashes nothing while sizes and mtimes match.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from voicelab.assets.cache import (
    MANIFEST,
    STAMP,
    _read_manifest,
    _sha256_file,
    _stat_matches,
    _write_stamp,
    voicelab_home,
)
from voicelab.audio.load import load_audio
from voicelab.corpus.items import ItemPlan, render
from voicelab.corpus.sources import REBUILD, CorpusError, Package

INDEX = "index.json"
_BUILDER_SOURCES = ("items.py", "recordings.py", "build.py", "plan.py")
LABELS = ("hold", "eot")


def corpus_dir() -> Path:
    """``<home>/corpus``."""
    return voicelab_home() / "corpus"


def verify_corpus(root: Path | None = None, full: bool = False) -> dict[str, str]:
    """Check the built corpus against its manifest (fast path: the stamp's sizes and
    mtimes; ``full=True`` re-hashes every file). Returns relative path -> sha256.

    Raises:
        CorpusError: no corpus, no manifest or stamp, or a file missing or changed.
    """
    root = root or corpus_dir()
    if not (root / MANIFEST).is_file() or not (root / STAMP).is_file():
        raise CorpusError(f"no built corpus in {root} (no {MANIFEST} / {STAMP}). {REBUILD}")
    manifest = _read_manifest(root / MANIFEST)
    try:
        stamp = json.loads((root / STAMP).read_text())["files"]
    except (ValueError, KeyError, TypeError):
        stamp = {}
    if not full and set(stamp) == set(manifest) and all(
            _stat_matches(root / rel, stamp[rel], digest) for rel, digest in manifest.items()):
        return manifest
    for rel, digest in sorted(manifest.items()):
        path = root / rel
        if not path.is_file():
            raise CorpusError(f"the corpus is incomplete: {path} is missing. {REBUILD}")
        if (actual := _sha256_file(path)) != digest:
            raise CorpusError(f"the corpus is corrupt: {path} has sha256 {actual}, expected {digest}. {REBUILD}")
    _write_stamp(root, "corpus", manifest)
    return manifest


@functools.cache
def builder_version() -> str:
    """sha256 (12 hex digits) of the modules that make the items and of the committed plan: a
    change to any of them makes :func:`is_current` false, so ``make assets`` rebuilds the corpus."""
    h = hashlib.sha256()
    for name in _BUILDER_SOURCES:
        h.update((Path(__file__).parent / name).read_bytes())
    plan = Path(__file__).resolve().parent.parent / "data" / "corpus" / "plan.json.gz"
    if plan.is_file():
        h.update(plan.read_bytes())
    return h.hexdigest()[:12]


def is_current(root: Path, packages: Sequence[Package]) -> bool:
    """True when the corpus in ``root`` is intact and was built from exactly ``packages``
    by this :func:`builder_version`."""
    try:
        verify_corpus(root)
        index = json.loads((root / INDEX).read_text())
        pins = [(p["key"], p["sha256"]) for p in index["packages"]]
        version = index.get("builder_version")
    except (CorpusError, OSError, ValueError, KeyError, TypeError):
        return False
    return pins == [(p.key, p.sha256) for p in packages] and version == builder_version()


@functools.lru_cache(maxsize=8)
def _recording(path: str) -> np.ndarray:
    return load_audio(path)


@dataclass(frozen=True)
class CorpusItem:
    """One item of the corpus.

    Attributes:
        id: unique; a hold item's id is its recording's plus ``+<pause>ms@<cut>``.
        source: ``asterisk``, ``pocketsphinx`` or ``bundled``.
        licence: the recording's licence.
        transcript: the reference text of the utterance (as published).
        kind: ``"eot"`` (the utterance as recorded) or ``"hold"`` (split by a pause).
        flags: ``"short"`` (at most two words: short answer / backchannel material),
            ``"backchannel"`` (a backchannel word, e.g. "yes", "no", "thank you");
            eot items only.
        silences: ``(start_ms, end_ms, label)``, label ``"hold"`` (a silence of at least
            100 ms inside the utterance, natural or inserted) or ``"eot"`` (the last: speech
            end to the end of the item); ms from the first sample.
        speech_ms: reference speech ``(start_ms, end_ms)`` in the item.
        pause_ms: the inserted pause (0 for eot items); cut_ms: where (in the recording).
        duration_ms: length of :attr:`audio`, ms.
        recording: the recording's file (absolute path).
    """

    id: str
    source: str
    licence: str
    transcript: str
    kind: str
    flags: tuple[str, ...]
    silences: tuple[tuple[float, float, str], ...]
    speech_ms: tuple[float, float]
    pause_ms: float
    cut_ms: float | None
    duration_ms: float
    recording: str
    tone_ms: float

    @cached_property
    def audio(self) -> np.ndarray:
        """float32 mono 16 kHz samples, shape ``(duration_ms * 16,)`` (8 kHz recordings are
        resampled with soxr HQ, :func:`voicelab.audio.load.load_audio`)."""
        plan = ItemPlan(self.kind, self.cut_ms, self.pause_ms, self.tone_ms, self.speech_ms,
                        self.silences, self.duration_ms)
        return render(_recording(self.recording), plan)


def load_corpus(root: Path | None = None) -> list[CorpusItem]:
    """The items of the built corpus (audio loaded on first access of ``.audio``).

    Raises:
        CorpusError: the corpus is not built or not intact (see :func:`verify_corpus`).
    """
    root = root or corpus_dir()
    verify_corpus(root)
    index = json.loads((root / INDEX).read_text())
    return [CorpusItem(d["id"], d["source"], d["licence"], d["transcript"], d["kind"], tuple(d["flags"]),
                       tuple((float(a), float(b), str(lab)) for a, b, lab in d["silences"]),
                       (float(d["speech_ms"][0]), float(d["speech_ms"][1])), float(d["pause_ms"]),
                       d["cut_ms"], float(d["duration_ms"]), str(root / d["recording"]), float(d["tone_ms"]))
            for d in index["items"]]


def corpus_frame(items: Sequence[CorpusItem]) -> pd.DataFrame:
    """One row per item without audio: the fields of :class:`CorpusItem` plus ``holds``
    (number of hold silences) and ``short``."""
    return pd.DataFrame([{"id": it.id, "source": it.source, "licence": it.licence, "transcript": it.transcript,
                          "kind": it.kind, "flags": ",".join(it.flags), "short": "short" in it.flags,
                          "holds": sum(lab == "hold" for *_, lab in it.silences), "pause_ms": it.pause_ms,
                          "speech_start_ms": it.speech_ms[0], "speech_end_ms": it.speech_ms[1],
                          "duration_ms": it.duration_ms} for it in items])


def summary(items: Sequence[CorpusItem]) -> pd.DataFrame:
    """Items by source and kind, with the short ones and the labelled silences."""
    df = corpus_frame(items)
    g = df.groupby(["source", "kind"])
    out = pd.DataFrame({"items": g.size(), "short": g["short"].sum(), "hold_silences": g["holds"].sum(),
                        "hours": g["duration_ms"].sum() / 3.6e6})
    return out.reset_index()
