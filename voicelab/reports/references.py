"""The reference speech boundaries a run measured from, as a report table.

Both reports show, per clip, where its true speech starts and ends, how that was found
(a sidecar, or the consensus of Silero, band energy and Whisper words) and every
disagreement between the sources (:mod:`voicelab.truth.consensus`), so a reader can tell
which latencies stand on a reference worth checking.
"""

from __future__ import annotations

from typing import Any

from voicelab.reports.style import format_ms

__all__ = ["REFERENCE_HEADER", "reference_rows", "reference_warnings"]

REFERENCE_HEADER = ["clip", "speech start (ms)", "speech end (ms)", "from", "sources agreeing", "warnings"]


def reference_rows(references: dict[str, dict[str, Any]]) -> list[list[str]]:
    """One row per clip from a run summary's ``references`` (clip -> reference dict)."""
    rows = []
    for clip, r in references.items():
        how = "sidecar" if r.get("method") == "sidecar" else \
            f"consensus (onset: {r.get('onset_by', '?')}; offset: {r.get('offset_by', '?')})"
        agreed = ", ".join(r.get("agreed", [])) if r.get("method") != "sidecar" else "–"
        rows.append([clip, format_ms(r.get("speech_start_ms")), format_ms(r.get("speech_end_ms")), how,
                     agreed or "none", str(len(r.get("warnings", [])))])
    return rows


def reference_warnings(references: dict[str, dict[str, Any]]) -> list[str]:
    """Every source disagreement, as ``clip: warning`` lines."""
    return [f"{clip}: {w}" for clip, r in references.items() for w in r.get("warnings", [])]
