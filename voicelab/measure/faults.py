"""How a turn degraded under failures: failed, text only, and how long until recovery."""

from __future__ import annotations

import math

from voicelab.events import StateChanged, Trace, TTSFailed, TTSRestarted, TurnFailed, TurnPlanned

FAULT_COLUMNS = ["failed", "degraded", "recovery_ms"]
"""``failed``: a stage failed the turn (STT: dropped; LLM: an apology instead of the reply,
:class:`~voicelab.events.TurnFailed`); ``degraded``: its reply lost its audio part-way and went
on as text only (:class:`~voicelab.events.TTSFailed`); ``recovery_ms``: from the turn's first
failure until the agent works again: the first successful TTS restart after a TTS failure,
else the turn's return to idle (ms; NaN without a failure, or if TTS never came back)."""


def fault_metrics(trace: Trace) -> dict[int, dict]:
    """:data:`FAULT_COLUMNS` for every planned turn."""
    restarts = [r.t_ms for r in trace.of(TTSRestarted) if r.ok]
    out = {}
    for p in trace.of(TurnPlanned):
        failed, tts = trace.of(TurnFailed, p.turn), trace.of(TTSFailed, p.turn)
        row = {"failed": bool(failed), "degraded": bool(tts), "recovery_ms": math.nan}
        if tts:
            back = next((t for t in restarts if t >= tts[0].t_ms), None)
            if back is not None:
                row["recovery_ms"] = back - tts[0].t_ms
        elif failed:
            idle = [s.t_ms for s in trace.of(StateChanged, p.turn) if s.new == "idle" and s.t_ms >= failed[0].t_ms]
            if idle:
                row["recovery_ms"] = idle[0] - failed[0].t_ms
        out[p.turn] = row
    return out


FAULT_TABLE_COLUMNS = ["turns", "failed", "text_only", "no_audio", "recovery_p50_ms", "recovery_max_ms"]
"""Per group of :func:`fault_table`: non-warm-up turns; turns a stage failed; replies that
went on as text only; turns whose user heard no reply audio at all; recovery time (ms)."""


def has_faults(turns) -> bool:
    """True when some turn failed or degraded (the turns table has the fault columns set)."""
    return any(c in turns and turns[c].fillna(False).astype(bool).any() for c in ("failed", "degraded"))


def fault_table(turns, by: str = "point"):
    """What users would hear, per ``by`` group (non-warm-up turns): see :data:`FAULT_TABLE_COLUMNS`."""
    import pandas as pd

    live = turns[~turns["warmup"].astype(bool)]
    rows = {}
    for key, g in live.groupby(by, sort=False):
        rec = pd.to_numeric(g["recovery_ms"], errors="coerce").dropna()
        rows[key] = {"turns": len(g), "failed": int(g["failed"].astype(bool).sum()),
                     "text_only": int(g["degraded"].astype(bool).sum()),
                     "no_audio": int(pd.to_numeric(g["first_audio_played_ms"], errors="coerce").isna().sum()),
                     "recovery_p50_ms": float(rec.median()) if len(rec) else math.nan,
                     "recovery_max_ms": float(rec.max()) if len(rec) else math.nan}
    return pd.DataFrame.from_dict(rows, orient="index", columns=FAULT_TABLE_COLUMNS)
