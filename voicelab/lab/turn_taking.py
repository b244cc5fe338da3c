"""Premature endpoints on real speech with pauses: does endpointing cut a speaker off?

The pause set (:func:`pause_set`): the six bundled clips as they are (their own
reading pauses), and each of them split mid-sentence, at the widest gap between words
(band-energy runs, :func:`voicelab.corpus.items.mid_sentence_gap_ms`, shared with the
speech corpus :mod:`voicelab.corpus`) in the middle third of its speech, by
a 300, 400, 500, 600 or 700 ms pause filled with the clip's own quietest room tone: a
speaker hesitating in mid-sentence, 36 items in all. Joining two whole clips instead
would not do: each bundled clip ends a sentence, so a pause after it is a real end of
turn. Each item's true end is the end of its last speech (annotation, else the reference).

:func:`evaluate_endpointing` streams each item through a fresh endpointer (32 ms frames,
as the session does) and, with a turn detector, asks it at every pause exactly as the
session's listener does. An endpoint decided before the true end is **premature**;
``endpoint_delay_ms`` is decided time (plus the detector's own time) minus the true end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from voicelab.audio.clips import bundled_clip_names, resolve_clip
from voicelab.config import VADConfig
from voicelab.corpus.items import (
    TAIL_MS,  # noqa: F401  (re-exported: the silence after every item)
    insert_pause,
    mid_sentence_gap_ms,
    room_tone,
    with_tail,
)
from voicelab.stages import endpointer_factory
from voicelab.truth.reference import clip_reference
from voicelab.vad.base import FRAME_SAMPLES
from voicelab.vad.endpointing import Endpointer, SpeechEnd, SpeechPause

PAUSES_MS = (300, 400, 500, 600, 700)


@dataclass(frozen=True)
class PauseItem:
    """One utterance: ``audio`` float32 16 kHz; ``speech_end_ms``: its true end;
    ``pause_ms``: the inserted pause (0: a bundled clip as recorded)."""

    name: str
    audio: np.ndarray
    speech_end_ms: float
    pause_ms: float


def pause_set() -> list[PauseItem]:
    """The evaluation set described in the module docstring (36 items)."""
    items = []
    for name in bundled_clip_names():
        clip = resolve_clip(name)
        ref = clip_reference(clip)
        items.append(PauseItem(name, with_tail(clip.audio), ref.end_ms, 0.0))
        cut = mid_sentence_gap_ms(clip.audio, ref.bounds_ms)
        tone = room_tone(clip.audio, ref.bounds_ms, anywhere=False)
        for pause in PAUSES_MS:
            audio = insert_pause(clip.audio, cut, tone, pause)
            items.append(PauseItem(f"{name}+{pause}ms@{cut:.0f}", with_tail(audio), ref.end_ms + pause,
                                   float(pause)))
    return items


def evaluate_endpointing(items: Sequence[PauseItem], vad: VADConfig,
                         detector: Callable[[np.ndarray], float] | None = None,
                         make_endpointer: Callable[[], Endpointer] | None = None) -> pd.DataFrame:
    """One row per item: ``premature``, ``endpoint_delay_ms``, ``pauses`` (pauses judged),
    ``detector_ms`` (its mean time per question, measured and added to the decision time).

    Args:
        items: the utterances (e.g. :func:`pause_set`).
        vad: endpointing settings (``min_silence_ms``, ``turn_detector``, ``max_silence_ms``,
            ``turn_threshold``).
        detector: P(complete) of the utterance so far (e.g.
            :meth:`voicelab.vad.turn_detector.SmartTurnDetector.probability_complete`).
        make_endpointer: default :func:`voicelab.stages.endpointer_factory` of ``vad``.

    Raises:
        ValueError: ``vad.turn_detector`` is set but no ``detector`` is given.
    """
    if vad.turn_detector != "none" and detector is None:
        raise ValueError(f"vad.turn_detector={vad.turn_detector!r} needs a detector")
    make = make_endpointer or endpointer_factory(vad)
    rows = []
    for item in items:
        ep = make()
        end_ms, judged, spent = None, 0, []
        for i in range(0, len(item.audio), FRAME_SAMPLES):
            for ev in ep.process(item.audio[i:i + FRAME_SAMPLES]):
                if isinstance(ev, SpeechEnd):
                    end_ms = ev.decided_ms
                elif isinstance(ev, SpeechPause) and detector is not None:
                    t0 = time.perf_counter()
                    p = detector(ep.pending_audio())
                    spent.append((time.perf_counter() - t0) * 1000)
                    judged += 1
                    if p > vad.turn_threshold:
                        end_ms = ep.confirm_end().decided_ms + spent[-1]
            if end_ms is not None:
                break
        rows.append({"item": item.name, "pause_ms": item.pause_ms, "speech_end_ms": item.speech_end_ms,
                     "endpoint_ms": end_ms if end_ms is not None else np.nan,
                     "premature": end_ms is not None and end_ms < item.speech_end_ms,
                     "endpoint_delay_ms": (end_ms - item.speech_end_ms) if end_ms is not None else np.nan,
                     "pauses": judged, "detector_ms": float(np.mean(spent)) if spent else np.nan})
    return pd.DataFrame(rows)


ENDPOINTING_SETTINGS: dict[str, VADConfig] = {
    "silence 500 ms (the old default)": VADConfig(min_silence_ms=500, turn_detector="none"),
    "silence 200 ms": VADConfig(min_silence_ms=200, turn_detector="none"),
    "Smart Turn at 200 ms, 1500 ms max": VADConfig(min_silence_ms=200, turn_detector="smart-turn",
                                                   max_silence_ms=1500),
    "Smart Turn at 300 ms, 1000 ms max": VADConfig(min_silence_ms=300, turn_detector="smart-turn",
                                                   max_silence_ms=1000),
    "Smart Turn at 400 ms, 1000 ms max": VADConfig(min_silence_ms=400, turn_detector="smart-turn",
                                                   max_silence_ms=1000),
    "Smart Turn at 500 ms, 1000 ms max (default)": VADConfig(min_silence_ms=500, turn_detector="smart-turn",
                                                             max_silence_ms=1000),
    "Smart Turn at 600 ms, 1000 ms max": VADConfig(min_silence_ms=600, turn_detector="smart-turn",
                                                   max_silence_ms=1000),
}
"""The endpointing settings :func:`write_endpointing_table` compares."""


def write_endpointing_table(out_dir, settings: dict[str, VADConfig] | None = None) -> pd.DataFrame:
    """Evaluate each setting on :func:`pause_set` (Smart Turn where asked) and write
    ``endpointing.csv`` (every item) and ``endpointing.md`` (per setting: premature
    endpoints, endpoint delay p50/p90 of the rest) into ``out_dir``; return the summary."""
    from pathlib import Path

    from voicelab.reports.html import md_table
    from voicelab.vad.turn_detector import SmartTurnDetector

    out_dir = Path(out_dir)
    settings = settings or ENDPOINTING_SETTINGS
    items = pause_set()
    detector = None
    frames, rows = [], []
    for name, vad in settings.items():
        if vad.turn_detector != "none" and detector is None:
            detector = SmartTurnDetector()
        r = evaluate_endpointing(items, vad, detector.probability_complete if vad.turn_detector != "none" else None)
        r.insert(0, "setting", name)
        frames.append(r)
        ok = r[~r["premature"]]["endpoint_delay_ms"]
        mid = r[r["pause_ms"] > 0]
        rows.append({"setting": name, "items": len(r), "premature": int(r["premature"].sum()),
                     "premature_rate": float(r["premature"].mean()),
                     "premature_mid_sentence": int(mid["premature"].sum()),
                     "delay_p50_ms": float(ok.median()), "delay_p90_ms": float(ok.quantile(0.9))})
    summary = pd.DataFrame(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.concat(frames, ignore_index=True).to_csv(out_dir / "endpointing.csv", index=False)
    table = md_table(["setting", "items", "premature endpoints", "of them mid-sentence pauses",
                      "endpoint delay p50 (ms)", "p90 (ms)"],
                     [[r["setting"], str(r["items"]), f"{r['premature']} ({100 * r['premature_rate']:.0f}%)",
                       str(r["premature_mid_sentence"]), f"{r['delay_p50_ms']:.0f}", f"{r['delay_p90_ms']:.0f}"]
                      for r in rows])
    (out_dir / "endpointing.md").write_text(
        "# Premature endpoints on the pause set\n\n" + (__doc__ or "").strip() + "\n\n" + table + "\n\n"
        "Delay: decided time (plus the detector's own time) minus the true end, over the items "
        "not ended prematurely. Reproduce with `voicelab endpoints --pause-set --out DIR`.\n")
    return summary
