"""Echo cancellation metrics: ERLE per reply and the canceller's cost, from
:class:`~voicelab.events.AECWindow` records. Pure functions of a trace.

ERLE (echo return loss enhancement, ITU-T G.168) is ``10 log10(sum d^2 / sum e^2)`` over
echo-only frames, ``d`` the microphone signal and ``e`` the canceller's output. With
background noise in the microphone, ``d`` and ``e`` both hold it: a canceller alone
cannot exceed the echo-plus-noise to noise ratio, and a suppressor that also denoises
(Speex's) is credited with the noise it removes.
"""

from __future__ import annotations

import math

import numpy as np

from voicelab.events import AECWindow, PlaybackStarted, PlaybackStopped, Trace, TurnPlanned

AEC_COLUMNS = ["aec_erle_db"]
"""Per reply: the ERLE over the echo-only frames of the windows that overlap its playback
(first sample played to its stop); NaN without echo cancellation or echo-only frames."""


def erle_db(mic_energy: float, out_energy: float) -> float:
    """``10 log10(mic_energy / out_energy)``, dB; NaN if either is zero (nothing to compare)."""
    if mic_energy <= 0.0 or out_energy <= 0.0:
        return math.nan
    return 10.0 * math.log10(mic_energy / out_energy)


def _erle(windows: list[AECWindow]) -> float:
    return erle_db(sum(w.mic_energy for w in windows), sum(w.out_energy for w in windows))


def aec_metrics(trace: Trace) -> dict[int, dict]:
    """:data:`AEC_COLUMNS` for every planned turn (the reply to that turn)."""
    windows = trace.of(AECWindow)
    out = {}
    for p in trace.of(TurnPlanned):
        plays, stops = trace.of(PlaybackStarted, p.turn), trace.of(PlaybackStopped, p.turn)
        erle = math.nan
        if windows and plays and stops:
            a, b = plays[0].t_ms, stops[-1].t_ms
            erle = _erle([w for w in windows if w.start_ms < b and w.t_ms > a])
        out[p.turn] = {"aec_erle_db": erle}
    return out


def aec_summary(trace: Trace) -> dict:
    """The session's canceller: frames, CPU ms per 32 ms frame (mean and p95 over windows),
    ERLE over the whole session and per window (``t_ms``, ``erle_db``: how it converged);
    an empty dict without echo cancellation."""
    windows = trace.of(AECWindow)
    if not windows:
        return {}
    frames = sum(w.frames for w in windows)
    per_frame = np.array([w.cpu_ms / w.frames for w in windows if w.frames])
    return {
        "frames": frames,
        "cpu_ms_per_frame": sum(w.cpu_ms for w in windows) / frames,
        "cpu_ms_per_frame_p95": float(np.percentile(per_frame, 95)),
        "echo_only_frames": sum(w.echo_only_frames for w in windows),
        "erle_db": _erle(windows),
        "erle_over_time": [{"t_ms": w.t_ms, "erle_db": erle_db(w.mic_energy, w.out_energy)}
                           for w in windows if w.echo_only_frames],
    }
