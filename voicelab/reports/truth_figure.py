"""A clip's reference speech boundaries drawn so a user can check them by eye.

Three panels on one time axis (seconds from the clip's first sample): the waveform with
the reference span shaded (and a sidecar's span, if one differs, dashed); the
300-3400 Hz band level with the energy source's noise floor and thresholds; and one lane
per source (Silero segments, energy runs, Whisper's words) above the reference.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from voicelab.reports.style import FONT, STAGE_COLORS, truncate
from voicelab.truth.consensus import SpeechReference
from voicelab.truth.energy import WINDOW_MS, energy_runs
from voicelab.units import INPUT_RATE

__all__ = ["truth_figure"]

SOURCE_COLORS = {"silero": "#4C78A8", "energy": "#F28E2B", "whisper": "#8E6CC9",
                 "reference": STAGE_COLORS["playback"]}


def truth_figure(audio: np.ndarray, ref: SpeechReference, title: str = "",
                 sidecar: tuple[float, float] | None = None, sidecar_label: str = "sidecar",
                 width: float = 11.0) -> Figure:
    """The figure described in the module docstring.

    Args:
        audio: the clip, float32 mono at 16 kHz, shape ``(n,)``.
        ref: its computed reference (with sources and words).
        title: shown above the panels (e.g. the clip name).
        sidecar: ``(start_ms, end_ms)`` of the clip's sidecar (or another target), drawn
            dashed for comparison and named ``sidecar_label`` in the legend.
    """
    import matplotlib

    with matplotlib.rc_context(FONT):
        fig = Figure(figsize=(width, 5.6))
        ax_w, ax_e, ax_s = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1.2, 1.2, 1.4]})
        t = np.arange(len(audio)) / INPUT_RATE
        ax_w.plot(t, audio, lw=0.4, color="#555")
        ax_w.axvspan(ref.start_ms / 1000, ref.end_ms / 1000, color=SOURCE_COLORS["reference"], alpha=0.18,
                     label=f"reference {ref.start_ms:.0f}-{ref.end_ms:.0f} ms")
        if sidecar is not None:
            for x in sidecar:
                ax_w.axvline(x / 1000, color="#D62728", ls="--", lw=1)
            ax_w.plot([], [], color="#D62728", ls="--", label=f"{sidecar_label} {sidecar[0]:.0f}-{sidecar[1]:.0f} ms")
        ax_w.set_ylabel("waveform")
        ax_w.legend(loc="upper right", fontsize=8, frameon=False)

        silero = ref.sources.get("silero")
        e = energy_runs(audio, silero.segments_ms if silero else None)
        te = (np.arange(len(e.levels_db)) + 0.5) * WINDOW_MS / 1000
        ax_e.plot(te, e.levels_db, lw=0.8, color=SOURCE_COLORS["energy"])
        for y, name, ls in ((e.floor_db, "noise floor", ":"), (e.threshold_db, "activity", "--"),
                            (e.extend_db, "edge extension", "-.")):
            if np.isfinite(y):
                ax_e.axhline(y, color="#666", ls=ls, lw=0.8, label=f"{name} {y:.0f} dB")
        ax_e.set_ylim(max(np.nanmin(e.levels_db), -100) - 3, np.nanmax(e.levels_db) + 3)
        ax_e.set_ylabel("band level (dB)")
        ax_e.legend(loc="upper right", fontsize=8, frameon=False, ncol=3)

        lanes = [("silero", [s for s in (silero.segments_ms if silero else [])]),
                 ("energy", e.runs_ms),
                 ("whisper", [(w.start_ms, w.end_ms) for w in ref.words]),
                 ("reference", [ref.bounds_ms])]
        for y, (name, spans) in enumerate(reversed(lanes)):
            for a, b in spans:
                ax_s.broken_barh([(a / 1000, (b - a) / 1000)], (y - 0.35, 0.7),
                                 facecolor=SOURCE_COLORS[name], alpha=0.75, edgecolor="white")
        wy = [n for n, _ in reversed(lanes)].index("whisper")
        for w in ref.words:
            ax_s.text((w.start_ms + w.end_ms) / 2000, wy, truncate(w.text, 12), ha="center", va="center",
                      fontsize=7, color="white", clip_on=True)
        ax_s.set_yticks(range(len(lanes)), [n for n, _ in reversed(lanes)])
        ax_s.set_xlabel("time in the clip (s)")
        ax_s.set_xlim(0, len(audio) / INPUT_RATE)
        head = f"{title}: " if title else ""
        status = f"{len(ref.warnings)} warning(s)" if ref.warnings else "sources agree"
        fig.suptitle(f"{head}speech {ref.start_ms:.0f}-{ref.end_ms:.0f} ms "
                     f"(onset: {ref.onset_by}; offset: {ref.offset_by}); {status}", fontsize=10)
        fig.tight_layout()
    return fig
