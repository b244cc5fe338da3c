"""How good is the reference? Its error on annotated and degraded real clips.

Targets: the five LibriVox clips' human annotations (pocketsphinx .lab files) and, for
a clip without one, the reference of its clean version. Each bundled clip is
evaluated clean and in :data:`DEGRADATIONS` (telephone band at 8 kHz, white and babble
noise at 20 and 10 dB SNR, level -20 dB, a leading non-speech sound cut from a real
recording), against the target of the clean clip. Extra items (:class:`Item`, e.g. the
fricative-final and fricative-initial studio prompts of :mod:`voicelab.truth.prompts`,
8 kHz recordings, so ``telephone-8k`` only band-limits them to 300-3400 Hz) are
evaluated the same way against their own targets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from voicelab.audio import degrade
from voicelab.audio.clips import Clip, bundled_clip_names, resolve_clip
from voicelab.truth.reference import ReferenceFinder
from voicelab.units import ms_to_samples

LEADING_SOUND = ("librivox_sense_and_sensibility_0930", 0.0, 90.0)
"""(clip, start_ms, end_ms) of the real non-speech sound used by the ``leading-sound``
degradation: the 90 ms that open LibriVox 0930 before its annotated speech start at
269 ms (about -42 dB, tonal: a breath or the tail of the previous phrase)."""

LEADING_GAP_MS = 100.0
"""The leading sound ends this long before the clip's speech onset."""

Degrade = Callable[[Clip, tuple[float, float]], np.ndarray]


def _babble(clip: Clip, bounds: tuple[float, float], snr_db: float) -> np.ndarray:
    talkers = [resolve_clip(n).audio for n in bundled_clip_names() if n != clip.name]
    noise = degrade.babble(talkers, len(clip.audio), seed=1)
    return degrade.add_noise(clip.audio, noise, snr_db, bounds)


def _white(clip: Clip, bounds: tuple[float, float], snr_db: float) -> np.ndarray:
    return degrade.add_noise(clip.audio, degrade.white_noise(len(clip.audio), seed=1), snr_db, bounds)


def _leading_sound(clip: Clip, bounds: tuple[float, float]) -> np.ndarray:
    name, a, b = LEADING_SOUND
    sound = resolve_clip(name).audio[ms_to_samples(a):ms_to_samples(b)]
    at = max(bounds[0] - LEADING_GAP_MS - (b - a), 0.0)
    return degrade.insert(clip.audio, sound, at)


DEGRADATIONS: dict[str, Degrade] = {
    "clean": lambda c, b: c.audio,
    "telephone-8k": lambda c, b: degrade.telephone(c.audio),
    "white-20dB": lambda c, b: _white(c, b, 20.0),
    "white-10dB": lambda c, b: _white(c, b, 10.0),
    "babble-20dB": lambda c, b: _babble(c, b, 20.0),
    "babble-10dB": lambda c, b: _babble(c, b, 10.0),
    "level-20dB": lambda c, b: degrade.gain(c.audio, -20.0),
    "leading-sound": _leading_sound,
}
"""Degradations by name: (clip, target bounds ms) -> 16 kHz float32 audio."""


@dataclass(frozen=True)
class Case:
    clip: str
    degradation: str
    target: str           # "annotation", "clean reference" or "studio floor"
    target_ms: tuple[float, float]
    group: str = "bundled"


@dataclass(frozen=True)
class Item:
    """An extra evaluation item: 16 kHz float32 ``audio`` (shape ``(n,)``), its target
    bounds (ms), how the target was found and its ``group`` (e.g. ``"fricative-final"``)."""

    name: str
    audio: np.ndarray
    target_ms: tuple[float, float]
    target: str
    group: str


def evaluate(clips: Iterable[str] | None = None, degradations: Iterable[str] | None = None,
             finder: ReferenceFinder | None = None, progress: bool = False,
             items: Iterable[Item] = ()) -> pd.DataFrame:
    """One row per (clip, degradation): the reference found, its target and the errors.

    ``items`` (e.g. :func:`voicelab.truth.prompts.load_prompt` studio prompts) are
    evaluated clean and in every degradation against their own targets, beside the
    bundled ``clips`` (an empty list: none).

    Columns: ``clip``, ``group`` (``"bundled"`` or the item's group), ``degradation``,
    ``target``, ``start_ms``, ``end_ms``, ``onset_error_ms``/``offset_error_ms``
    (reference minus target), ``onset_by``, ``offset_by``, ``agreed``, ``warnings``.
    """
    finder = finder or ReferenceFinder(cache=False)
    names = list(bundled_clip_names() if clips is None else clips)
    degs = list(degradations or DEGRADATIONS)
    cases = []
    items = list(items)
    extra = {it.name: Clip(it.name, Path(f"<memory:{it.name}>"), "", it.target_ms) for it in items}
    for it in items:
        extra[it.name].__dict__["audio"] = it.audio
        cases += [Case(it.name, d, it.target, it.target_ms, it.group) for d in degs]
    for name in names:
        clip = resolve_clip(name)
        if clip.speech_bounds_ms:
            cases += [Case(name, d, "annotation", clip.speech_bounds_ms) for d in degs]
        else:
            clean = finder.find(clip.audio).bounds_ms
            cases += [Case(name, d, "clean reference", clean) for d in degs if d != "clean"]
    rows = []
    it = cases
    if progress:
        from tqdm import tqdm
        it = tqdm(cases, desc="reference evaluation", unit="clip")
    for case in it:
        clip = extra[case.clip] if case.clip in extra else resolve_clip(case.clip)
        ref = finder.find(DEGRADATIONS[case.degradation](clip, case.target_ms))
        rows.append({"clip": case.clip, "group": case.group, "degradation": case.degradation,
                     "target": case.target,
                     "start_ms": ref.start_ms, "end_ms": ref.end_ms,
                     "onset_error_ms": ref.start_ms - case.target_ms[0],
                     "offset_error_ms": ref.end_ms - case.target_ms[1],
                     "onset_by": ref.onset_by, "offset_by": ref.offset_by,
                     "agreed": ",".join(ref.agreed), "warnings": " | ".join(ref.warnings)})
    return pd.DataFrame(rows)


def error_table(results: pd.DataFrame, by: str | list[str] = "degradation") -> pd.DataFrame:
    """Median and max absolute onset/offset error (ms) per degradation (or per ``by``)."""
    g = results.assign(onset=results["onset_error_ms"].abs(), offset=results["offset_error_ms"].abs())
    return g.groupby(by, sort=False).agg(
        n=("clip", "size"), onset_median_ms=("onset", "median"), onset_max_ms=("onset", "max"),
        offset_median_ms=("offset", "median"), offset_max_ms=("offset", "max"))
