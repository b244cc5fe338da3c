"""N concurrent bench clients against one server; each writes what ``voicelab run`` writes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from voicelab.audio.clips import resolve_clip
from voicelab.audio.load import write_wav
from voicelab.bench.client import BenchClient, WireResult, WireTurn, first_sound_ms
from voicelab.config import BargeInConfig
from voicelab.events import PeerReported, PlaybackStopped
from voicelab.lab.node import node_info
from voicelab.lab.outputs import check_output_dir
from voicelab.lab.runner import clip_references
from voicelab.measure.metrics import summarize, turns_table
from voicelab.units import INPUT_RATE

WIRE_COLUMNS = ["received_audio_ms", "received_check_ms", "received_audio_end_ms", "wire_delay_ms"]
"""Per turn (ms on the client's clock, from the first sent sample's capture): where the first
received reply sample lies by the recorded audio itself (first sample of at least one LSB
after the clip's speech end and after every earlier turn's received audio: under load a late
reply can still arrive after the next clip); that minus the trace's playback start (0 when
the trace and the audio agree); where the turn's received audio ends (played on arrival:
a clip whose speech ends before the previous turn's end was said over that reply, which a
half-duplex agent does not hear); and the client's playback start minus where the server
says its speaker played it (``response_audio``'s ``start_sample``; both clocks start at the
first sent sample's capture, so this is the wire's delay plus any offset)."""

UNSEEN_COLUMNS = ["playback_stall_ms", "tts_requests", "response_words", "mean_chunk_words", "llm_tokens",
                  "turn_predictions", "false_pauses", "speculation", "speculations_discarded",
                  "speculation_wasted_ms", "speculation_wasted_tokens", "speculation_wasted_tts_ms"]
"""Columns of ``turns.csv`` that count events the protocol does not carry (LLM tokens and
words, TTS requests, turn-detector calls, barge-in pauses, speculative replies, playback
stalls on the server's speaker): empty in a bench table, not a measured 0."""


def barge_in_threshold_ms(config: dict | None) -> float:
    """The ``min_barge_in_ms`` the bench judges missed interruptions by: the session's, as the
    overrides it sent make it (``barge_in.min_barge_in_ms``, else the config default). The
    protocol does not carry the server's own YAML, so a server started with another value
    needs that value in the overrides for the ``missed_interruption`` flag to match it.

    Raises:
        pydantic.ValidationError: the overrides' ``barge_in`` section is invalid.
    """
    return BargeInConfig.model_validate((config or {}).get("barge_in", {})).min_barge_in_ms


def _turn_rows(result: WireResult, min_barge_in_ms: float) -> pd.DataFrame:
    turns = turns_table(result.trace, min_barge_in_ms)
    turns[[c for c in UNSEEN_COLUMNS if c in turns]] = np.nan
    audio_end = {e.turn: e.t_ms for e in result.trace.of(PlaybackStopped)}
    heard, check = [], []
    for _, row in turns.iterrows():
        after = max([row["speech_end_ms"], *(end for turn, end in audio_end.items() if turn < row["turn"])])
        t = first_sound_ms(result.agent_audio, result.agent_rate, after)
        heard.append(t)
        check.append(t - row["first_audio_played_ms"])
    turns["received_audio_ms"], turns["received_check_ms"] = heard, check
    turns["received_audio_end_ms"] = [audio_end.get(t, np.nan) for t in turns["turn"]]
    server = {r.turn: r.value_ms for r in reversed(result.trace.of(PeerReported)) if r.metric == "playback_start_ms"}
    turns["wire_delay_ms"] = [row["first_audio_played_ms"] - server.get(row["turn"], np.nan)
                              for _, row in turns.iterrows()]
    return turns


def _write(out: Path, result: WireResult, turns: pd.DataFrame, meta: dict, report: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    turns.to_csv(out / "turns.csv", index=False)
    result.trace.save_jsonl(out / "events.jsonl")
    write_wav(out / "agent.wav", result.agent_audio, result.agent_rate)
    write_wav(out / "input.wav", result.input_audio, INPUT_RATE)
    summary = {**meta, "turns": int(len(turns)), "metrics": summarize(turns), "errors": result.errors}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if report:
        from voicelab.reports.run_report import write_report

        write_report(out / "report.html", result.trace, turns, summary)
    return summary


def run_bench(url: str, clips: list[str], out_dir: Path, **kwargs) -> pd.DataFrame:
    """:func:`bench` on a fresh event loop (the CLI's entry point)."""
    return asyncio.run(bench(url, clips, out_dir, **kwargs))


async def bench(url: str, clips: list[str], out_dir: Path, clients: int = 1, config: dict | None = None,
                lead_in_ms: float = 500.0, turn_gap_ms: float = 1000.0, warmup_turns: int = 0, report: bool = True,
                log: Callable[[str], None] = print, progress: bool = False) -> pd.DataFrame:
    """Run ``clients`` concurrent clients, each saying every clip once, and write ``out_dir``:
    ``client-<k>/`` (turns.csv, events.jsonl, agent.wav, input.wav, summary.json, report.html)
    and ``summary.json`` (voice-to-voice p50/p95 over all clients, client-measured and
    server-reported). Returns every client's measured turns (``client`` column). ``progress``:
    a tqdm bar over every client's turns on stderr, with how many got a reply.

    Warm-up: each client first says the first clip ``warmup_turns`` times in a session of its
    own, then closes it and opens the measured one. So the warm-up warms the server's models
    but neither enters the measured conversation's history nor shifts its sampling seeds, as
    ``voicelab run``'s warm-up turns do not (one session would answer every measured turn from
    another context than the run's). Warm-up turns are counted in ``summary.json``, not written.

    Raises:
        voicelab.audio.load.AudioError: a clip cannot be read.
        OSError: the server is unreachable.
        RuntimeError: the server refused a session.
        ValueError: no clips.
        voicelab.lab.outputs.OutputError: ``out_dir`` cannot be written or its disk is full.
    """
    if not clips:
        raise ValueError("no clips to send")
    resolved = [resolve_clip(c) for c in clips]
    check_output_dir(out_dir)  # before connecting
    refs = clip_references(resolved, log)
    warm = [WireTurn(c, refs[c.name].bounds_ms, warmup=True) for c in resolved[:1] for _ in range(warmup_turns)]
    turns = [WireTurn(c, refs[c.name].bounds_ms) for c in resolved]
    log(f"bench: {clients} client(s) x {len(turns)} clip(s) (+{len(warm)} warm-up) against {url} ...")

    bar = tqdm(total=clients * (len(warm) + len(turns)), desc="bench", unit="turn", disable=not progress)
    replied = 0

    def on_turn(_turn: int, ok: bool) -> None:
        nonlocal replied
        replied += ok
        bar.set_postfix_str(f"replied {replied}/{bar.n + 1}", refresh=False)
        bar.update(1)
    async def client(k: int) -> WireResult:
        if warm:
            await BenchClient(url, warm, f"client-{k}-warmup", lead_in_ms, turn_gap_ms, config=config,
                              on_turn=on_turn).run()
        return await BenchClient(url, turns, f"client-{k}", lead_in_ms, turn_gap_ms, config=config,
                                 on_turn=on_turn).run()
    try:
        results: list[WireResult] = await asyncio.gather(*(client(k) for k in range(clients)))
    finally:
        bar.close()
    meta = {"url": url, "clients": clients, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "node": node_info(), "config_overrides": config or {}}
    tables = []
    for k, result in enumerate(results):
        table = _turn_rows(result, barge_in_threshold_ms(config))
        _write(out_dir / f"client-{k}", result, table, {**meta, "client": k}, report)
        tables.append(table.assign(client=k))
    every = pd.concat(tables, ignore_index=True)
    live = every[~every["warmup"].astype(bool)]
    v2v = live["voice_to_voice_latency_ms"].dropna()
    reported = live["peer_reported_v2v_ms"].dropna()
    overall = {**meta, "turns": int(len(live)), "warmup_turns": clients * len(warm),
               "replied": int(v2v.count()),
               "v2v_p50_ms": float(np.percentile(v2v, 50)) if len(v2v) else None,
               "v2v_p95_ms": float(np.percentile(v2v, 95)) if len(v2v) else None,
               "server_reported_v2v_p50_ms": float(np.percentile(reported, 50)) if len(reported) else None,
               "server_error_p50_ms": float(live["peer_v2v_error_ms"].median()) if len(reported) else None,
               "received_check_max_abs_ms": float(live["received_check_ms"].abs().max()) if len(v2v) else None,
               "wire_delay_p50_ms": float(live["wire_delay_ms"].median()) if live["wire_delay_ms"].notna().any()
               else None}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(overall, indent=2, default=str) + "\n")
    every.to_csv(out_dir / "turns.csv", index=False)
    return every
