"""`voicelab truth`: compute, show and save a clip's reference speech boundaries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

from voicelab.audio.clips import resolve_clip
from voicelab.reports.style import figure_to_png
from voicelab.reports.truth_figure import truth_figure
from voicelab.truth import ReferenceFinder, SpeechReference
from voicelab.truth.serialize import reference_to_dict

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class TruthCheck:
    """What `voicelab truth` found for one clip."""

    clip: str
    reference: SpeechReference
    figure: Path
    sidecar: tuple[float, float] | None
    written: Path | None

    def describe(self) -> str:
        """A few lines for the terminal: the reference, its sources, the warnings."""
        r = self.reference
        lines = [f"{self.clip}: speech {r.start_ms:.0f}-{r.end_ms:.0f} ms "
                 f"(onset: {r.onset_by}; offset: {r.offset_by})"]
        for name, s in r.sources.items():
            if s.start_ms is None:
                lines.append(f"  {name:8s} found nothing")
            else:
                lines.append(f"  {name:8s} {s.start_ms:7.0f} {s.end_ms:7.0f} ms  "
                             f"({s.start_dev_ms:+.0f} / {s.end_dev_ms:+.0f} ms; "
                             f"{'agrees' if s.agrees else 'disagrees'})")
        if r.words:
            lines.append("  words: " + " ".join(w.text for w in r.words))
        if self.sidecar is not None:
            lines.append(f"  sidecar {self.sidecar[0]:.0f}-{self.sidecar[1]:.0f} ms "
                         "(runs use the sidecar)")
        lines += [f"  warning: {w}" for w in r.warnings]
        lines.append(f"  figure: {self.figure}")
        if self.written is not None:
            lines.append(f"  sidecar written: {self.written}")
        return "\n".join(lines)


def check_clip(name_or_path: str | Path, out_dir: Path, *, write: bool = False, force: bool = False,
               finder: ReferenceFinder | None = None) -> TruthCheck:
    """Compute the consensus reference of a clip, draw it into ``out_dir/<clip>.png`` and,
    with ``write``, save it as the clip's sidecar ``<clip>.json``.

    Raises:
        voicelab.audio.load.AudioError: no such clip or unusable audio.
        ValueError: no speech found.
        FileExistsError: ``write`` without ``force`` and a sidecar exists.
    """
    clip = resolve_clip(name_or_path)
    ref = (finder or ReferenceFinder()).find(clip.audio)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / f"{clip.name}.png"
    fig = truth_figure(clip.audio, ref, title=clip.name, sidecar=clip.speech_bounds_ms)
    figure.write_bytes(figure_to_png(fig))
    written = None
    if write:
        sidecar = clip.path.with_suffix(".json")
        if sidecar.exists() and not force:
            raise FileExistsError(f"{sidecar} exists (it overrides the computed reference); "
                                  "pass --force to replace it")
        sidecar.write_text(json.dumps(reference_to_dict(ref), indent=1) + "\n")
        written = sidecar
    return TruthCheck(clip.name, ref, figure, clip.speech_bounds_ms, written)


def write_evaluation(out_dir: Path, worst_ms: float = 100.0) -> "pd.DataFrame":
    """Run :func:`voicelab.truth.evaluate.evaluate` (with a progress bar) and write
    ``evaluation.csv`` (one row per clip and degradation), ``evaluation.md`` (median and
    max absolute error per degradation, then every row) and, for each degradation whose
    worst error reaches ``worst_ms``, the figure of its worst clip (``worst-<degradation>.png``)
    into ``out_dir``; return the per-degradation table."""
    from voicelab.reports.html import md_table
    from voicelab.truth.evaluate import DEGRADATIONS, error_table, evaluate

    rows = evaluate(progress=True)
    table = error_table(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    for deg, g in rows.groupby("degradation", sort=False):
        err = g[["onset_error_ms", "offset_error_ms"]].abs().max(axis=1)
        if err.max() >= worst_ms:
            worst = g.loc[err.idxmax()]
            clip = resolve_clip(worst["clip"])
            target = (worst["start_ms"] - worst["onset_error_ms"], worst["end_ms"] - worst["offset_error_ms"])
            audio = DEGRADATIONS[deg](clip, target)
            ref = ReferenceFinder(cache=False).find(audio)
            fig = truth_figure(audio, ref, title=f"{clip.name}, {deg}", sidecar=target, sidecar_label="target")
            name = f"worst-{deg}.png"
            (out_dir / name).write_bytes(figure_to_png(fig, dpi=80))
            figures.append(f"![{clip.name}, {deg}]({name})")
    rows.to_csv(out_dir / "evaluation.csv", index=False)
    fmt = lambda v: f"{v:.0f}"  # noqa: E731
    summary = md_table(["degradation", "clips", "onset median (ms)", "onset max (ms)", "offset median (ms)",
                        "offset max (ms)"],
                       [[d, str(int(r["n"])), fmt(r["onset_median_ms"]), fmt(r["onset_max_ms"]),
                         fmt(r["offset_median_ms"]), fmt(r["offset_max_ms"])] for d, r in table.iterrows()])
    detail = md_table(["clip", "degradation", "target", "onset error (ms)", "offset error (ms)", "onset by",
                       "offset by", "warnings"],
                      [[r.clip, r.degradation, r.target, f"{r.onset_error_ms:+.0f}", f"{r.offset_error_ms:+.0f}",
                        r.onset_by, r.offset_by, str(r.warnings.count(" | ") + 1 if r.warnings else 0)]
                       for r in rows.itertuples()], numeric=False)
    (out_dir / "evaluation.md").write_text(
        "# Reference speech boundaries: error against annotations and clean references\n\n"
        "Absolute error of the computed reference (ms). Targets: the LibriVox clips' annotations; "
        "for cmu_arctic_a0007 (no annotation) the reference of its clean version. Reproduce with "
        "`voicelab truth --evaluate --out DIR`.\n\n" + summary + "\n\n## Every clip\n\n" + detail + "\n"
        + ("\n## The worst case of each degradation that misses 100 ms\n\nThe dashed lines are the target "
           "(the annotation, or the clean clip's reference).\n\n" + "\n\n".join(figures) + "\n" if figures else ""))
    return table
