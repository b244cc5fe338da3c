"""Running one experiment end to end: load models once, run a session, write the results.

Output directory contract (``voicelab run``; other tools rely on it):

- ``turns.csv``: one row per user turn (``clip``, ``turn``, ``variant``, ``warmup``,
  ``transcript``, ``response_text`` and every ``*_ms`` metric);
- ``events.jsonl``: the session trace;
- ``agent.wav``: the played agent audio, 24 kHz mono, sample ``n`` at ``n / 24000`` s
  on the session clock (aligned with ``input.wav``, 16 kHz, the microphone timeline);
- ``summary.json``: config, versions, models, machine, threads, peak RSS, p50/p90 per metric;
- ``report.html``: self-contained latency report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from voicelab.assets.cache import display_path
from voicelab.audio.clips import Clip, resolve_clip
from voicelab.audio.load import write_wav
from voicelab.config import ConfigError, ExperimentConfig
from voicelab.events import Event, ModelLoaded, Trace
from voicelab.faults import with_faults
from voicelab.lab.duplex_clips import resolve_clip_name  # corpus: / mix: clip names -> files
from voicelab.lab.node import node_info
from voicelab.lab.outputs import check_output_dir
from voicelab.lab.progress import TurnProgress
from voicelab.measure.echo import aec_summary
from voicelab.measure.metrics import summarize, turns_table
from voicelab.measure.quality import roundtrip_wer
from voicelab.peers import make_peers, require_peers
from voicelab.reports.engines import summary_block as engines_summary
from voicelab.session import SessionResult, Stages, TurnSpec, VoiceAgent
from voicelab.stages import load_stages
from voicelab.truth import ReferenceFinder, SpeechReference
from voicelab.truth.reference import clip_reference
from voicelab.truth.serialize import reference_to_dict
from voicelab.units import INPUT_RATE

VERSIONED_PACKAGES = ["voicelab", "torch", "transformers", "faster-whisper", "ctranslate2",
                      "onnxruntime", "kokoro-onnx", "numpy", "webrtcvad-wheels", "silero-vad",
                      "piper-tts", "openvino", "onnx"]


def clip_references(clips: list[Clip], log: Callable[[str], None] = print) -> dict[str, SpeechReference]:
    """Each clip's reference speech boundaries (:func:`voicelab.truth.reference.clip_reference`:
    its sidecar, else the consensus of Silero, band energy and Whisper words, cached).
    Every disagreement between the sources is logged as a warning."""
    finder = ReferenceFinder()
    refs = {c.name: clip_reference(c, finder) for c in clips}
    for name, ref in refs.items():
        for w in ref.warnings:
            log(f"warning: reference speech boundaries of {name}: {w}")
    return refs


def plan_turns(config: ExperimentConfig, clips: list[Clip],
               references: dict[str, SpeechReference] | None = None) -> list[TurnSpec]:
    """Warm-up turns (``warmup_turns`` for voicelab's agent, as many for each peer variant),
    then every clip once per variant, variants interleaved per clip, ``repetitions`` times;
    or, if the config has a ``scenario``, its scripted turns (barge-ins included).

    True speech boundaries come from ``references`` (default: :func:`clip_references`).

    Interleaving (clip 1 with every variant, then clip 2, ...) keeps slow machine
    drift from favouring one variant.
    """
    references = references if references is not None else clip_references(clips)
    bounds = {c.name: references[c.name].bounds_ms for c in clips}
    variants = config.resolved_variants()
    # each engine instance warms up: voicelab's agent (all its variants share the stages) and
    # every peer variant (each loads its own models)
    own = [v for v in variants if v.engine == "voicelab"][:1]
    turns = [TurnSpec(clips[i % len(clips)], v, True, bounds[clips[i % len(clips)].name])
             for v in own + [v for v in variants if v.engine != "voicelab"] for i in range(config.warmup_turns)]
    if config.scenario:
        if len(variants) > 1:
            raise ConfigError("a scenario runs one trigger setting: use `trigger`, not `variants`")
        by_name = {c.name: c for c in clips}
        for st in [st for _ in range(config.repetitions) for st in config.scenario]:
            clip = by_name[resolve_clip(resolve_clip_name(st.clip)).name]
            turns.append(TurnSpec(clip, variants[0], False, bounds[clip.name], st.start, st.offset_ms,
                                  st.backchannel))
        return turns
    for _ in range(config.repetitions):
        for clip in clips:
            for v in variants:
                turns.append(TurnSpec(clip, v, False, bounds[clip.name]))
    return turns


def config_hash(config: ExperimentConfig) -> str:
    """First 12 hex digits of the sha256 of the config's canonical JSON."""
    canon = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:12]


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``getrusage`` ru_maxrss, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in VERSIONED_PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def streaming_vs_baseline(metrics: dict) -> dict | None:
    """p50 voice-to-voice of the ``whole`` baseline divided by each streaming variant's.

    ``metrics`` is :func:`voicelab.measure.metrics.summarize` output; the baseline is the
    variant whose name contains "baseline" or "whole". None when there is none.
    """
    base = next((v for v in metrics if "baseline" in v or "whole" in v), None)
    if base is None:
        return None
    b = metrics[base]["voice_to_voice_latency_ms"]["p50"]
    return {v: {"baseline": base, "baseline_v2v_p50_ms": b,
                "v2v_p50_ms": m["voice_to_voice_latency_ms"]["p50"],
                "speedup": b / m["voice_to_voice_latency_ms"]["p50"]}
            for v, m in metrics.items() if v != base}


def _shown_info(info: dict) -> dict:
    """A stage's ``info`` with its model path as :func:`~voicelab.assets.cache.display_path` shows it."""
    return {k: display_path(v) if k == "model" and v else v for k, v in info.items()}


@dataclass
class RunOutput:
    out_dir: Path
    turns: pd.DataFrame
    summary: dict
    session: SessionResult


async def _run_session(config: ExperimentConfig, stages: Stages, turns: list[TurnSpec],
                       listeners: Sequence[Callable] = ()) -> SessionResult:
    """One session: voicelab's agent, with the config's peer engines (``engine:`` of a variant)."""
    return await VoiceAgent(config, stages, make_peers(config, stages)).run(turns, listeners)


def run_experiment(config: ExperimentConfig, out_dir: Path, inputs: list[str] | None = None,
                   stages: tuple[Stages, list[ModelLoaded]] | None = None,
                   log: Callable[[str], None] = print, report: bool = True,
                   keep_audio: bool = True, progress: bool = False,
                   listeners: Sequence[Callable[[Event], None]] = ()) -> RunOutput:
    """Run ``config`` on ``inputs`` (default: the config's clips) and write ``out_dir``.

    ``stages`` lets callers (notebooks, sweeps) reuse loaded models. After the session,
    the played replies are transcribed by the STT stage (``tts_roundtrip_wer``, off the
    session clock). ``report=False`` skips report.html, ``keep_audio=False`` the WAVs.
    ``listeners`` see every trace event as it is logged, in the session's event loop (a
    resource sampler, for example: ``benchmarks/soak.py``).

    Raises:
        voicelab.audio.load.AudioError: an input cannot be read or is not usable audio.
        voicelab.assets.AssetError: a model asset is missing or corrupt.
        voicelab.peers.PeerUnavailable: a variant's peer engine is not installed.
        voicelab.lab.outputs.OutputError: ``out_dir`` cannot be written or its disk is full.
        ConfigError: no clips to run.
    """
    if inputs and config.scenario:
        raise ConfigError("--input cannot be combined with a `scenario` (it names its own clips)")
    names = [t.clip for t in config.scenario] if config.scenario else (inputs or config.clips)
    if not names:
        raise ConfigError("no clips to run: the scenario or the config's `clips` is empty and no --input was given")
    clips = list({c.name: c for c in (resolve_clip(resolve_clip_name(n)) for n in names)}.values())
    for c in clips:
        _ = c.audio  # fail on bad audio before loading any model
    require_peers(config)
    check_output_dir(out_dir)  # before any model loads
    stages_, loaded = stages or load_stages(config, log)
    stages_ = with_faults(stages_, config.faults)  # the run's own wrappers: shared stages stay as they are
    if config.faults.sink is not None:
        log("faults.sink is ignored here: it fails `voicelab serve`'s network sink")
    references = clip_references(clips, log)
    turns_plan = plan_turns(config, clips, references)
    log(f"running {len(turns_plan)} turns ({sum(t.warmup for t in turns_plan)} warm-up) ...")
    wall0 = time.perf_counter()
    bar = TurnProgress(len(turns_plan), config.name, config.barge_in.min_barge_in_ms, disable=not progress)
    try:
        session = asyncio.run(_run_session(config, stages_, turns_plan, [bar, *listeners]))
    finally:
        bar.close()
    wall = time.perf_counter() - wall0
    session.trace = trace = Trace([*loaded, *session.trace])

    turns = turns_table(trace, config.barge_in.min_barge_in_ms)
    log("transcribing the played replies (round-trip WER) ...")
    turns["tts_roundtrip_wer"] = roundtrip_wer(session, turns, stages_.stt)
    metrics = summarize(turns)
    summary = {
        "name": config.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": config.model_dump(mode="json"),
        "config_hash": config_hash(config),
        "versions": _versions(),
        "models": {e.stage: {"path": e.model, "load_ms": e.load_ms, "warmup_ms": e.warmup_ms}
                   for e in loaded},
        "node": node_info(),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or node_info()["cpu_model"],
                    "cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
        "threads": {"stt_ctranslate2_cpu_threads": config.stt.threads,
                    "llm_torch_threads": config.llm.threads,
                    "tts_threads": config.tts.threads,
                    "vad_onnxruntime_intra_op_threads": config.vad.threads},
        "tts": _shown_info(getattr(stages_.tts, "info", {"engine": type(stages_.tts).__name__})),
        "peak_rss_mib": peak_rss_mib(),
        "session_wall_s": wall,
        "turns": int(len(turns)),
        "warmup_turns": int(turns["warmup"].sum()) if len(turns) else 0,
        "metrics": metrics,
        "references": {name: reference_to_dict(r) for name, r in references.items()},
    }
    engines = engines_summary(turns)
    if engines:
        summary["engines"] = engines
    ratio = streaming_vs_baseline(metrics)
    if ratio:
        summary["streaming_vs_baseline"] = ratio
    aec = aec_summary(session.trace)
    if aec:  # NaN (no echo-only frames) is written as null
        summary["aec"] = {k: None if isinstance(v, float) and v != v else v for k, v in aec.items()}
    turns.to_csv(out_dir / "turns.csv", index=False)
    session.trace.save_jsonl(out_dir / "events.jsonl")
    if keep_audio:
        write_wav(out_dir / "agent.wav", session.agent_audio, session.agent_rate)
        write_wav(out_dir / "input.wav", session.input_audio, INPUT_RATE)
        if session.aec_audio is not None:
            write_wav(out_dir / "input_aec.wav", session.aec_audio, INPUT_RATE)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if report:
        from voicelab.reports.run_report import write_report

        write_report(out_dir / "report.html", session.trace, turns, summary)
    return RunOutput(out_dir, turns, summary, session)
