"""`voicelab truth`: compute, show and save a clip's reference speech boundaries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voicelab.audio.clips import Clip, resolve_clip
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


def write_evaluation(out_dir: Path, worst_ms: float = 100.0, prompts: Path | None = None,
                     per_kind: int = 12) -> pd.DataFrame:
    """Run :func:`voicelab.truth.evaluate.evaluate` (with a progress bar) and write
    ``evaluation.csv`` (one row per clip and degradation), ``evaluation.md`` (median and
    max absolute error per degradation, then every row) and, for each degradation whose
    worst error reaches ``worst_ms``, the figure of its worst clip (``worst-<degradation>.png``)
    into ``out_dir``; return the per-degradation table (bundled clips only).

    With ``prompts`` (the directory the Asterisk prompt packages were extracted into, see
    :func:`voicelab.truth.prompts.find_prompt_files`), ``per_kind`` fricative-final and
    fricative-initial studio prompts are evaluated too and the page gives the table
    without and with them.

    Raises:
        FileNotFoundError: ``prompts`` holds no Asterisk prompts.
    """
    from voicelab.reports.html import md_table
    from voicelab.truth.evaluate import DEGRADATIONS, Item, error_table, evaluate
    from voicelab.truth.prompts import evaluation_prompts

    items = [Item(p.name, audio, target, "studio floor", p.kind)
             for p, audio, target in (evaluation_prompts(prompts, per_kind) if prompts else [])]
    rows = evaluate(progress=True, items=items)
    bundled = rows[rows["group"] == "bundled"]
    table = error_table(bundled)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    for deg, g in rows.groupby("degradation", sort=False):
        err = g[["onset_error_ms", "offset_error_ms"]].abs().max(axis=1)
        if err.max() >= worst_ms:
            worst = g.loc[err.idxmax()]
            clip = resolve_clip(worst["clip"]) if worst["group"] == "bundled" else Clip.from_array(
                worst["clip"], next(it.audio for it in items if it.name == worst["clip"]))
            target = (worst["start_ms"] - worst["onset_error_ms"], worst["end_ms"] - worst["offset_error_ms"])
            audio = DEGRADATIONS[deg](clip, target)
            ref = ReferenceFinder(cache=False).find(audio)
            fig = truth_figure(audio, ref, title=f"{clip.name}, {deg}", sidecar=target, sidecar_label="target")
            name = f"worst-{deg}.png"
            (out_dir / name).write_bytes(figure_to_png(fig, dpi=80))
            figures.append(f"![{clip.name}, {deg}]({name})")
    rows.to_csv(out_dir / "evaluation.csv", index=False)
    summary = _summary(table)
    if items:
        by_group = error_table(rows[rows["group"] != "bundled"], ["degradation", "group"])
        by_group.index = [f"{d}, {g}" for d, g in by_group.index]
        summary = ("### Without the fricative prompts (bundled clips)\n\n" + summary
                   + "\n\n### With them (all rows)\n\n" + _summary(error_table(rows))
                   + "\n\n### The fricative prompts alone, by group\n\n" + _summary(by_group)
                   + "\n\nFricative prompts: Asterisk core sounds (en, Allison voice, 8 kHz, CC-BY-SA-3.0), "
                   "chosen by the spelling of their last/first word and scored against the first/last 10 ms "
                   "frame 30 dB above the recording's own floor (`voicelab.truth.prompts`).")
    detail = md_table(["clip", "degradation", "target", "onset error (ms)", "offset error (ms)", "onset by",
                       "offset by", "warnings"],
                      [[r.clip, r.degradation, r.target, f"{r.onset_error_ms:+.0f}", f"{r.offset_error_ms:+.0f}",
                        r.onset_by, r.offset_by, str(r.warnings.count(" | ") + 1 if r.warnings else 0)]
                       for r in rows.itertuples()], numeric=False)
    import platform
    import subprocess

    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout if platform.system() == "Linux" else ""
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")), "unknown")
    command = "voicelab truth --evaluate --out DIR" if not items else (
        f"python -m voicelab.lab.truth_command --out DIR --prompts PROMPTS_DIR --per-kind {per_kind}")
    (out_dir / "evaluation.md").write_text(
        "# Reference speech boundaries: error against annotations and clean references\n\n"
        "Absolute error of the computed reference (ms). Targets: the LibriVox clips' annotations; "
        "for cmu_arctic_a0007 (no annotation) the reference of its clean version. Reproduce with "
        f"`{command}` (CPU: {cpu}).\n\n" + summary + "\n\n## Every clip\n\n" + detail + "\n"
        + ("\n## The worst case of each degradation that misses 100 ms\n\nThe dashed lines are the target "
           "(the annotation, or the clean clip's reference).\n\n" + "\n\n".join(figures) + "\n" if figures else ""))
    return table


def _summary(table: pd.DataFrame) -> str:
    from voicelab.reports.html import md_table

    fmt = lambda v: f"{v:.0f}"  # noqa: E731
    return md_table(["degradation", "clips", "onset median (ms)", "onset max (ms)", "offset median (ms)",
                     "offset max (ms)"],
                    [[d, str(int(r["n"])), fmt(r["onset_median_ms"]), fmt(r["onset_max_ms"]),
                      fmt(r["offset_median_ms"]), fmt(r["offset_max_ms"])] for d, r in table.iterrows()])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="the reference evaluation, with fricative studio prompts")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prompts", type=Path, help="where asterisk-core-sounds-en(-wav) were extracted")
    ap.add_argument("--per-kind", type=int, default=12)
    args = ap.parse_args()
    print(write_evaluation(args.out, prompts=args.prompts, per_kind=args.per_kind).round(1).to_string())
