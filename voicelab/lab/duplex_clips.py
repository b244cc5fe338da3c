"""Clip names for the duplex scenarios: corpus items and background mixes, made into files.

An experiment YAML names its clips without absolute paths; the lab resolves these two
schemes before a session (:func:`resolve_clip_name`, called by
:mod:`voicelab.lab.runner`), everything else is left to
:func:`voicelab.audio.clips.resolve_clip` (bundled names and file paths):

- ``corpus:<item id>``: the corpus item as it is (:func:`voicelab.corpus.load_corpus`,
  ``CorpusItem.audio``), e.g. ``corpus:asterisk/vm-goodbye``;
- ``mix:<user id>|<background id>|<level>dB|<offset>ms``: the user's corpus item with
  another corpus item added ``<level>`` dB (RMS over each one's reference speech) relative
  to the user's, its speech starting ``<offset>`` ms after the user's speech ends
  (:func:`mix_background`), e.g. ``mix:pocketsphinx/cards/001|asterisk/vm-intro|-10dB|800ms``.
  The clip is long enough for the whole background item (which ends in the corpus' 2 s of
  digital silence).

Each is written once, reproducibly (same corpus -> same samples), to
``<home>/duplex/<stem>.wav`` (16 kHz 16-bit PCM, ``<home>`` =
:func:`voicelab.assets.voicelab_home`) with ``<stem>.txt`` (the user's transcript: the
background is not what the user said) and the ``<stem>.json`` speech-boundary sidecar
that :func:`voicelab.audio.clips.resolve_clip` reads. The sidecar holds the *clean
source's* reference (the corpus' ``speech_ms`` of the user's item), so a background
mixed into the clip does not move the reference, and the fields the duplex scorer needs:
``segments`` (clip-relative ``[start_ms, end_ms, role]`` with the roles of
:data:`voicelab.measure.duplex_bench.ROLES`), ``kind``, ``group`` (source recording),
``spec`` (the clip name) and ``corpus_index_sha256`` (the corpus it was made from; a
clip made from another build is made again).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicelab.assets import voicelab_home
from voicelab.audio.load import AudioError, write_wav
from voicelab.units import INPUT_RATE

SR_MS = INPUT_RATE // 1000
"""Samples per ms (16 kHz, the corpus' and the microphone's rate)."""
CORPUS_PREFIX = "corpus:"
MIX_PREFIX = "mix:"
_MIX = re.compile(r"^mix:(?P<user>[^|]+)\|(?P<bg>[^|]+)\|(?P<db>-?\d+(?:\.\d+)?)dB\|(?P<off>\d+(?:\.\d+)?)ms$")


class DuplexClipError(ValueError):
    """A duplex clip name that does not parse or names no corpus item."""


@dataclass(frozen=True)
class ClipSpec:
    """A parsed clip name: ``user`` item id, and for a mix the ``background`` id, ``level_db``
    and ``offset_ms`` (see the module docstring)."""

    name: str
    user: str
    background: str | None = None
    level_db: float = 0.0
    offset_ms: float = 0.0


def is_duplex_clip(name: str) -> bool:
    """True for a ``corpus:`` or ``mix:`` clip name."""
    return str(name).startswith((CORPUS_PREFIX, MIX_PREFIX))


def corpus_name(item_id: str) -> str:
    """The clip name of a corpus item."""
    return f"{CORPUS_PREFIX}{item_id}"


def mix_name(user: str, background: str, level_db: float, offset_ms: float) -> str:
    """The clip name of a background mix (level and offset written as ``%g``)."""
    return f"{MIX_PREFIX}{user}|{background}|{level_db:g}dB|{offset_ms:g}ms"


def parse_clip_name(name: str) -> ClipSpec:
    """Parse a ``corpus:`` / ``mix:`` clip name.

    Raises:
        DuplexClipError: neither scheme, an empty id, or a mix name not of the form
            ``mix:<id>|<id>|<level>dB|<offset>ms``.
    """
    if name.startswith(CORPUS_PREFIX):
        item = name[len(CORPUS_PREFIX):]
        if not item:
            raise DuplexClipError(f"{name!r}: no corpus item id after 'corpus:'")
        return ClipSpec(name, item)
    m = _MIX.match(name)
    if not m:
        raise DuplexClipError(f"{name!r}: not a duplex clip name; expected 'corpus:<item id>' or "
                              "'mix:<user id>|<background id>|<level>dB|<offset>ms'")
    return ClipSpec(name, m["user"], m["bg"], float(m["db"]), float(m["off"]))


def clip_stem(name: str) -> str:
    """The file stem of a clip (its name in the trace): the name's letters, digits, ``-``
    ``_`` ``.`` (other characters become ``_``), cut to 80, then 8 hex digits of its sha256."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.split(":", 1)[1])[:80]
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def speech_rms_db(audio: np.ndarray, speech_ms: tuple[float, float]) -> float:
    """RMS level (dB re full scale 1.0) of ``audio`` (16 kHz) over ``[start_ms, end_ms)``.

    Raises:
        ValueError: the span holds no samples or only digital silence.
    """
    x = np.asarray(audio, dtype=np.float64)[int(speech_ms[0] * SR_MS):int(speech_ms[1] * SR_MS)]
    if x.size == 0 or not np.any(x):
        raise ValueError(f"no signal in the speech span {speech_ms} ms")
    return float(10.0 * np.log10(np.mean(x * x)))


def mix_background(user: np.ndarray, user_speech: tuple[float, float], background: np.ndarray,
                   background_speech: tuple[float, float], level_db: float,
                   offset_ms: float) -> tuple[np.ndarray, float]:
    """The user's audio with a background added.

    Args:
        user, background: float32 mono 16 kHz, shape ``(n,)``.
        user_speech, background_speech: reference speech ``(start_ms, end_ms)`` of each.
        level_db: the background's RMS over its speech, relative to the user's RMS over theirs.
        offset_ms: the background's speech starts this long after the user's speech ends.

    Returns:
        ``(mix, onset_ms)``: float32, as long as both need (the user's samples and the whole
        background), and where the background's speech starts in it. Gains are exact in
        float64; if the sum would clip (|x| > 1), the whole mix is scaled down, which keeps
        the relative level.

    Raises:
        ValueError: ``offset_ms`` negative; no signal in either speech span.
    """
    if offset_ms < 0:
        raise ValueError(f"offset_ms must be >= 0, got {offset_ms}")
    gain = 10.0 ** ((speech_rms_db(user, user_speech) + level_db - speech_rms_db(background, background_speech)) / 20)
    onset_ms = user_speech[1] + offset_ms
    at = int(round(onset_ms * SR_MS)) - int(round(background_speech[0] * SR_MS))
    bg = np.asarray(background, dtype=np.float64)
    if at < 0:  # the background's lead-in would start before the clip: drop that part
        bg, at = bg[-at:], 0
    out = np.zeros(max(len(user), at + len(bg)), dtype=np.float64)
    out[:len(user)] += user
    out[at:at + len(bg)] += gain * bg
    peak = float(np.max(np.abs(out)))
    if peak > 1.0:
        out /= peak
    return out.astype(np.float32), onset_ms


def role_segments(item: Any) -> list[tuple[float, float, str]]:
    """A corpus item's user segments, ms from its first sample: an eot item's reference speech
    is one ``turn``; a hold item's is split by the labelled hold silence holding the inserted
    pause (``cut_ms`` to ``cut_ms + pause_ms``; that silence also holds the natural gap the cut
    was made in) into ``turn``, ``hold_pause``, ``turn``."""
    s0, s1 = item.speech_ms
    if item.kind != "hold":
        return [(s0, s1, "turn")]
    a, b = item.cut_ms, item.cut_ms + item.pause_ms
    pause = next(((x, y) for x, y, lab in item.silences if lab == "hold" and x <= a and b <= y), (a, b))
    return [(s0, pause[0], "turn"), (pause[0], pause[1], "hold_pause"), (pause[1], s1, "turn")]


@functools.lru_cache(maxsize=2)
def _corpus(root: str | None) -> tuple[dict[str, Any], str]:
    from voicelab.corpus import corpus_dir, load_corpus

    path = Path(root) if root else corpus_dir()
    items = load_corpus(path)
    return {it.id: it for it in items}, hashlib.sha256((path / "index.json").read_bytes()).hexdigest()


def corpus_items(root: Path | None = None) -> tuple[dict[str, Any], str]:
    """The built corpus by item id and its ``index.json`` sha256 (loaded once per process).

    Raises:
        voicelab.corpus.CorpusError: not built or not intact.
    """
    return _corpus(str(root) if root else None)


def _group(item: Any) -> str:
    """The source recording of an item (the clusters of the bootstrap): its file's path from
    the corpus' ``sources/`` folder on, or the path as it is."""
    rec = str(item.recording)
    return rec.split("/sources/", 1)[1] if "/sources/" in rec else rec


def build_clip(spec: ClipSpec, items: Mapping[str, Any]) -> tuple[np.ndarray, dict]:
    """The samples (float32 16 kHz) and sidecar dict of a duplex clip (module docstring).

    Raises:
        DuplexClipError: an id not in ``items``; a hold item as a mix's user or background.
    """
    for iid in (spec.user, spec.background):
        if iid is not None and iid not in items:
            raise DuplexClipError(f"{spec.name!r}: no corpus item {iid!r}")
    user = items[spec.user]
    s0, s1 = user.speech_ms
    meta = {"speech_start_ms": s0, "speech_end_ms": s1, "spec": spec.name, "kind": user.kind,
            "group": _group(user), "transcript": user.transcript}
    if spec.background is None:
        meta["segments"] = [list(s) for s in role_segments(user)]
        return np.asarray(user.audio, dtype=np.float32), meta
    bg = items[spec.background]
    if "hold" in (user.kind, bg.kind):
        raise DuplexClipError(f"{spec.name!r}: a mix takes eot items (as recorded), not hold items")
    audio, onset = mix_background(user.audio, user.speech_ms, bg.audio, bg.speech_ms, spec.level_db, spec.offset_ms)
    span = bg.speech_ms[1] - bg.speech_ms[0]
    meta.update(kind="mix", segments=[[s0, s1, "turn"], [onset, onset + span, "background"]],
                background_group=_group(bg), level_db=spec.level_db, offset_ms=spec.offset_ms)
    return audio, meta


def clip_dir() -> Path:
    """``<home>/duplex``: where the clips are written."""
    return voicelab_home() / "duplex"


def materialise(name: str, items: Mapping[str, Any] | None = None, index_sha: str | None = None,
                out_dir: Path | None = None) -> Path:
    """Write the clip ``name`` (if not there yet from the same corpus) and return its wav path.

    ``items`` / ``index_sha`` default to the built corpus and its index hash
    (:func:`corpus_items`; pass both or neither); ``out_dir`` to :func:`clip_dir`. Files are
    written to temporaries and renamed, the sidecar last, so a clip is complete once its
    ``.json`` exists.

    Raises:
        DuplexClipError: see :func:`parse_clip_name`, :func:`build_clip`.
        voicelab.corpus.CorpusError: the corpus is needed and not built.
    """
    spec = parse_clip_name(name)
    if items is None:
        items, index_sha = corpus_items()
    out_dir = out_dir or clip_dir()
    wav, side = out_dir / f"{clip_stem(name)}.wav", out_dir / f"{clip_stem(name)}.json"
    if side.is_file() and wav.is_file():
        try:
            old = json.loads(side.read_text())
        except ValueError:
            old = {}
        if old.get("spec") == name and old.get("corpus_index_sha256") == index_sha:
            return wav
    audio, meta = build_clip(spec, items)
    meta["corpus_index_sha256"] = index_sha
    out_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    for path, write in ((wav, lambda p: write_wav(p, audio, INPUT_RATE)),
                        (wav.with_suffix(".txt"), lambda p: p.write_text(meta["transcript"] + "\n")),
                        (side, lambda p: p.write_text(json.dumps(meta, indent=1) + "\n"))):
        tmp = path.with_name(f".{path.name}.{pid}.tmp{path.suffix}")
        write(tmp)
        os.replace(tmp, path)
    return wav


def clip_meta(name: str, **kw) -> dict:
    """The sidecar dict of a duplex clip (materialised first if needed; ``kw`` as
    :func:`materialise`)."""
    return json.loads(materialise(name, **kw).with_suffix(".json").read_text())


def resolve_clip_name(name: str) -> str:
    """The lab's clip-name hook: a ``corpus:`` / ``mix:`` name -> its materialised wav path
    (a string for :func:`voicelab.audio.clips.resolve_clip`); any other name unchanged.

    Raises:
        voicelab.audio.load.AudioError: the name does not parse, names no corpus item, or the
            corpus is not built (the message says which).
    """
    if not is_duplex_clip(name):
        return name
    from voicelab.corpus import CorpusError

    try:
        return str(materialise(name))
    except (DuplexClipError, CorpusError) as err:
        raise AudioError(f"clip {name!r}: {err}") from None
