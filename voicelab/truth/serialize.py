"""JSON form of a :class:`~voicelab.truth.consensus.SpeechReference` (sidecars, cache, summaries)."""

from __future__ import annotations

from typing import Any

from voicelab.stt.whisper import WordTiming
from voicelab.truth.consensus import SourceBounds, SpeechReference


def reference_to_dict(ref: SpeechReference) -> dict[str, Any]:
    """A JSON-ready dict: ``speech_start_ms``/``speech_end_ms`` (the sidecar keys of the
    bundled clips) plus how they were found."""
    return {
        "speech_start_ms": round(ref.start_ms, 3),
        "speech_end_ms": round(ref.end_ms, 3),
        "method": ref.method,
        "onset_by": ref.onset_by,
        "offset_by": ref.offset_by,
        "agreed": ref.agreed,
        "sources": {name: {"start_ms": s.start_ms, "end_ms": s.end_ms,
                           "start_dev_ms": s.start_dev_ms, "end_dev_ms": s.end_dev_ms,
                           "agrees": s.agrees, "segments_ms": [list(x) for x in s.segments_ms]}
                    for name, s in ref.sources.items()},
        "words": [{"text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
                   "probability": w.probability} for w in ref.words],
        "warnings": list(ref.warnings),
    }


def reference_from_dict(d: dict[str, Any], method: str | None = None) -> SpeechReference:
    """Inverse of :func:`reference_to_dict`. A minimal sidecar (only ``speech_start_ms``
    and ``speech_end_ms``, e.g. a human annotation) is accepted too.

    Raises:
        KeyError: a boundary key is missing; ValueError: a boundary is not a number or
            the end is not after the start.
    """
    start, end = float(d["speech_start_ms"]), float(d["speech_end_ms"])
    if not end > start >= 0:
        raise ValueError(f"speech_end_ms ({end}) must be after speech_start_ms ({start}) >= 0")
    sources = {name: SourceBounds(s["start_ms"], s["end_ms"], [tuple(x) for x in s["segments_ms"]],
                                  s["start_dev_ms"], s["end_dev_ms"], bool(s["agrees"]))
               for name, s in d.get("sources", {}).items()}
    words = [WordTiming(w["text"], float(w["start_ms"]), float(w["end_ms"]), float(w["probability"]))
             for w in d.get("words", [])]
    return SpeechReference(start, end, method or d.get("method", "sidecar"), d.get("onset_by", ""),
                           d.get("offset_by", ""), sources, words, list(d.get("warnings", [])))
