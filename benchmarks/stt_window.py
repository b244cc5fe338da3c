"""The default STT (``stt.window: fit``) against Whisper's 30 s window: completeness and WER on
the bundled clips and on concatenations of 2-4 of them, under several CTranslate2 numeric
back ends, and the time each takes on the bundled clips.

Usage::

    .venv/bin/python benchmarks/stt_window.py --repeats 10 --out docs/results/stt_window

Quality. Inputs: the six bundled clips, every ordered pair of them, 20 seeded triples and 15
seeded quadruples, with seeded pauses of 300-800 ms of digital silence between the clips
(71 inputs, 3-25 s). Each is transcribed once by ``STTConfig(window="fit")`` (the default)
and by ``STTConfig(window="full")``. Per input: WER (:func:`voicelab.measure.metrics.wer`),
words lost at the end (:func:`voicelab.measure.metrics.truncated_words`), pieces, decodes,
seeks and retries. int8 kernels differ from CPU to CPU, which is what made the default
truncate on some CPUs and not others, so the quality pass is repeated in a child process for
each ``--env`` setting: CTranslate2's ``CT2_FORCE_CPU_ISA`` (``AVX``, ``GENERIC``) and
oneDNN's ``ONEDNN_MAX_CPU_ISA`` (``SSE41``) select other kernels of the same model on this
CPU, i.e. other int8 arithmetic, as another CPU would.

Timing (native back end only). Per round, every bundled clip is transcribed by each variant,
the variant order rotating by one per round, after one warm-up pass:

* ``fit``        - the default: pause finder + pieces + seek/retry;
* ``fit-1pass``  - one fit-window decode of the whole clip (the default's model work alone,
  no pause finder, no checks: the floor of the fit window);
* ``full``       - faster-whisper's 30 s window (``window: full``);
* ``vad``        - the pause finder alone (faster-whisper's Silero VAD).

Reported per variant: p50 and p95 over clips x rounds with 95 % bootstrap intervals
(:func:`voicelab.measure.stats.bootstrap_percentile_ci`), and the paired ratio fit / fit-1pass
per clip and round (median). Writes ``results.json``, ``quality.csv``, ``quality.png`` and
``timing.csv`` into ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from voicelab.audio.clips import Clip, bundled_clip_names, concatenate, resolve_clip
from voicelab.config import STTConfig
from voicelab.lab.node import node_info
from voicelab.measure.metrics import truncated_words, wer
from voicelab.measure.stats import bootstrap_percentile_ci
from voicelab.stt.piece_decode import DecodeOptions
from voicelab.stt.whisper import WhisperSTT, speech_regions

DEFAULT_ENVS = ["", "CT2_FORCE_CPU_ISA=AVX", "CT2_FORCE_CPU_ISA=GENERIC", "ONEDNN_MAX_CPU_ISA=SSE41"]
VARIANTS = ["fit", "fit-1pass", "full", "vad"]


def inputs(seed: int = 25) -> list[Clip]:
    """The bundled clips, every ordered pair, 20 triples and 15 quadruples (seeded), joined by
    300-800 ms pauses."""
    names = bundled_clip_names()
    clips = {n: resolve_clip(n) for n in names}
    rng = random.Random(seed)
    combos = [(n,) for n in names] + list(itertools.permutations(names, 2))
    combos += [tuple(rng.sample(names, k)) for k, count in ((3, 20), (4, 15)) for _ in range(count)]
    return [concatenate([clips[n] for n in combo], [rng.randint(300, 800) for _ in combo[1:]])
            for combo in combos]


def short(name: str) -> str:
    return "+".join(p.replace("librivox_sense_and_sensibility_", "").replace("cmu_arctic_", "")
                    for p in name.split("+"))


def quality_rows() -> list[dict]:
    """One row per input: the default and the 30 s window (run in the child process)."""
    fit, full = WhisperSTT(STTConfig(window="fit")), WhisperSTT(STTConfig(window="full"))
    fit.warmup()
    full.warmup()
    rows = []
    for clip in inputs():
        row = {"input": short(clip.name), "clips": clip.name.count("+") + 1,
               "seconds": round(clip.audio.size / 16_000, 2), "reference": clip.reference_text}
        for label, stt in (("fit", fit), ("full", full)):
            text, _detail = stt.transcribe_sync_detail(clip.audio)
            row |= {f"{label}_text": text, f"{label}_wer": round(wer(clip.reference_text, text), 4),
                    f"{label}_truncated_words": truncated_words(clip.reference_text, text)}
        row |= {"fit_pieces": len(fit.last_detail.pieces),
                "fit_decodes": sum(p.decodes for p in fit.last_detail.pieces),
                "fit_seeks": sum(p.seeks for p in fit.last_detail.pieces),
                "fit_retries": ",".join(p.retried for p in fit.last_detail.pieces if p.retried),
                "fit_problems": ",".join(p.problem for p in fit.last_detail.pieces if p.problem)}
        rows.append(row)
        print(f"  {row['input']:28s} fit {row['fit_wer']:.3f} full {row['full_wer']:.3f}", file=sys.stderr)
    return rows


def timing_rows(repeats: int) -> list[dict]:
    """Wall ms per (round, clip, variant) on the native back end, interleaved."""
    fit = WhisperSTT(STTConfig(window="fit"))
    full = WhisperSTT(STTConfig(window="full"))
    fit.warmup()
    full.warmup()
    clips = [resolve_clip(n) for n in bundled_clip_names()]
    calls = {
        "fit": fit.transcribe_sync,
        "fit-1pass": lambda a: fit._fit_decode(a, a.size / 16_000, DecodeOptions(fit.config.beam_size)),
        "full": full.transcribe_sync,
        "vad": speech_regions,
    }
    for clip in clips:  # warm-up pass, not recorded
        for call in calls.values():
            call(clip.audio)
    rows = []
    for r in range(repeats):
        order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
        for clip in clips:
            for variant in order:
                t0 = time.perf_counter()
                calls[variant](clip.audio)
                rows.append({"round": r, "clip": short(clip.name), "variant": variant,
                             "ms": (time.perf_counter() - t0) * 1000.0})
                time.sleep(0.02)
        print(f"  round {r + 1}/{repeats}", file=sys.stderr)
    return rows


def quality_summary(df: pd.DataFrame) -> dict:
    out = {}
    for label in ("fit", "full"):
        out[label] = {
            "inputs": int(len(df)),
            "truncated_inputs": int((df[f"{label}_truncated_words"] > 0).sum()),
            "words_lost": int(df[f"{label}_truncated_words"].sum()),
            "mean_wer": round(float(df[f"{label}_wer"].mean()), 4),
            "max_wer": round(float(df[f"{label}_wer"].max()), 4),
            "over_0.15": int((df[f"{label}_wer"] > 0.15).sum()),
        }
    return out


def timing_summary(df: pd.DataFrame) -> dict:
    out = {}
    for variant, g in df.groupby("variant"):
        p50 = bootstrap_percentile_ci(g["ms"], 50)
        p95 = bootstrap_percentile_ci(g["ms"], 95)
        out[variant] = {"n": int(len(g)), "p50": [round(v, 1) for v in p50], "p95": [round(v, 1) for v in p95]}
    wide = df.pivot_table(index=["round", "clip"], columns="variant", values="ms")
    ratio = wide["fit"] / wide["fit-1pass"]
    out["fit_over_fit-1pass"] = {"n": int(len(ratio)),
                                 "median": [round(v, 3) for v in bootstrap_percentile_ci(ratio, 50)]}
    out["full_over_fit"] = {"n": int(len(ratio)),
                            "median": [round(v, 3) for v in bootstrap_percentile_ci(wide["full"] / wide["fit"], 50)]}
    return out


def figure(qdf: pd.DataFrame, path: Path) -> None:
    """Per back end: inputs with words lost at the end, and per-input WER, fit vs 30 s window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(dict.fromkeys(qdf["backend"]))
    labels = [b.replace("CT2_FORCE_CPU_ISA=", "CT2 ").replace("ONEDNN_MAX_CPU_ISA=", "oneDNN ") for b in backends]
    x = np.arange(len(backends))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for k, (label, color) in enumerate((("fit", "tab:blue"), ("full", "tab:orange"))):
        counts = [int((qdf[qdf.backend == b][f"{label}_truncated_words"] > 0).sum()) for b in backends]
        bars = ax1.bar(x + (k - 0.5) * 0.38, counts, 0.38, color=color,
                       label="default (fit pieces)" if label == "fit" else "30 s window")
        ax1.bar_label(bars, fontsize=8)
        for b_i, b in enumerate(backends):
            w = qdf[qdf.backend == b][f"{label}_wer"].to_numpy()
            jitter = np.linspace(-0.12, 0.12, len(w))
            ax2.scatter(b_i + (k - 0.5) * 0.38 + jitter, w, s=6, color=color, alpha=0.6)
    n = int((qdf.backend == backends[0]).sum())
    ax1.set(xticks=x, xticklabels=labels, ylabel=f"inputs truncated (of {n})",
            title="inputs that lost words at the end", ylim=(0, max(1, ax1.get_ylim()[1]) * 1.25))
    ax1.legend(frameon=False, loc="upper left")
    ax2.axhline(0.15, color="grey", lw=0.8, ls="--")
    ax2.set(xticks=x, xticklabels=labels, ylabel="WER per input", title="WER per input (dashed: 0.15)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/stt_window"))
    ap.add_argument("--repeats", type=int, default=10, help="timing rounds over the six clips")
    ap.add_argument("--env", action="append", default=None,
                    help="a back end for the quality pass, as VAR=VALUE ('' = native); repeatable")
    ap.add_argument("--quality-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--reuse-quality", action="store_true",
                    help="take the quality pass from OUT/quality.csv and run the timing only")
    args = ap.parse_args()
    if args.quality_only:  # child process: one back end
        json.dump(quality_rows(), sys.stdout)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    envs = DEFAULT_ENVS if args.env is None else args.env
    frames, quality = [], {}
    if args.reuse_quality:
        envs = []
        frames = [g for _, g in pd.read_csv(args.out / "quality.csv").groupby("backend", sort=False)]
        quality = {g["backend"].iloc[0]: quality_summary(g) for g in frames}
    for setting in envs:
        name = setting or "native"
        print(f"quality pass, back end {name}", file=sys.stderr)
        env = dict(os.environ)
        if setting:
            key, _, value = setting.partition("=")
            env[key] = value
        out = subprocess.run([sys.executable, __file__, "--quality-only"], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        df = pd.DataFrame(json.loads(out)).assign(backend=name)
        frames.append(df)
        quality[name] = quality_summary(df)
    qdf = pd.concat(frames, ignore_index=True)
    qdf.to_csv(args.out / "quality.csv", index=False)
    figure(qdf, args.out / "quality.png")
    print("timing", file=sys.stderr)
    tdf = pd.DataFrame(timing_rows(args.repeats))
    tdf.to_csv(args.out / "timing.csv", index=False)
    result = {"machine": node_info(), "repeats": args.repeats, "quality": quality,
              "timing": timing_summary(tdf), "command": " ".join(["benchmarks/stt_window.py", *sys.argv[1:]])}
    (args.out / "results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("quality", "timing")}, indent=2))


if __name__ == "__main__":
    main()
