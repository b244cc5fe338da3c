"""What peer engines say about their own latency, beside what the played audio says; and
the replies a peer restarted.

Pure functions of a trace. A framework's self-reported voice-to-voice (Pipecat's
``UserBotLatencyObserver``: its VAD's estimate of the speech end to the moment its output
transport *starts writing* the first reply chunk) is compared with voicelab's measured
one (the clip's true speech end to the first sample the speaker *played*).

A peer may *restart* a reply: Pipecat ends the user turn, starts answering, then a late
transcript of the same turn arrives and it interrupts the reply and answers again (seen with
``text_aggregation: token``: "I" handed to TTS, then "The term ..."). A turn is then several
replies (each an ``LLMStarted``; voicelab's own engine has one per turn), all but the last
abandoned. What a listener may hear of an abandoned reply is a *false start*
(:data:`RESTART_COLUMNS`); :func:`said_text` is everything the agent said in the turn, the
text the played audio is compared with (``tts_roundtrip_wer``).
"""

from __future__ import annotations

import math

import pandas as pd

from voicelab.events import (
    ChunkTriggered,
    Event,
    LLMFinished,
    LLMStarted,
    PeerReported,
    PlaybackStall,
    PlaybackStarted,
    PlaybackStopped,
    Trace,
    TTSAudio,
    TurnPlanned,
    WordEmitted,
)
from voicelab.measure.stats import bootstrap_percentile_ci

PEER_COLUMNS = ["peer_reported_v2v_ms", "peer_v2v_error_ms", "peer_stt_ttfb_ms", "peer_llm_ttfb_ms",
                "peer_tts_ttfb_ms"]
"""Per turn answered by a peer engine (NaN otherwise): its self-reported voice-to-voice,
that figure minus the measured ``voice_to_voice_latency_ms`` (negative: the framework
reports less latency than the user hears), and the TTFB its STT, LLM and TTS services
reported (Pipecat's ``TTFBMetricsData``; the service is recognised by ``STTService``,
``LLMService`` or ``TTSService`` in its processor name, e.g. ``WhisperSTTService#0``)."""

SELF_REPORTED_V2V = ("user_bot_latency", "voice_to_voice_latency_ms")
"""Metric names under which an engine reports its own voice-to-voice: Pipecat's
``UserBotLatencyObserver``, and a voicelab server's ``response_complete`` (over the wire)."""

_SERVICES = {"peer_stt_ttfb_ms": "STTService", "peer_llm_ttfb_ms": "LLMService", "peer_tts_ttfb_ms": "TTSService"}


def peer_metrics(trace: Trace) -> dict[int, dict]:
    """:data:`PEER_COLUMNS` for every planned turn (first reported figure of each kind)."""
    out = {}
    for p in trace.of(TurnPlanned):
        reported = trace.of(PeerReported, p.turn)
        row = {c: math.nan for c in PEER_COLUMNS}
        v2v = next((r.value_ms for r in reported if r.metric in SELF_REPORTED_V2V), None)
        plays = trace.of(PlaybackStarted, p.turn)
        if v2v is not None:
            row["peer_reported_v2v_ms"] = v2v
            if plays:
                row["peer_v2v_error_ms"] = v2v - (plays[0].t_ms - p.speech_end_ms)
        for col, tag in _SERVICES.items():
            row[col] = next((r.value_ms for r in reported if r.metric == "ttfb" and tag in r.source), math.nan)
        out[p.turn] = row
    return out


RESTART_COLUMNS = ["restarted_replies", "false_start_text", "false_start_audio_ms"]
"""Per turn: how many replies were abandoned for a later one (0 for voicelab's own engine,
whose barge-in cuts the one reply it has), the words of the abandoned replies that were
handed to TTS (space-joined; "" when none was), and how much of the abandoned replies' audio
the speaker played, in ms (playback start to its stop, minus stalls; 0.0 without a restart
or when none of it played; NaN when it cannot be told apart from the final reply's audio,
i.e. one playback ran on into the final reply's audio, or it never stopped)."""


def _abandoned_said(events: list[Event], starts: list[float]) -> list[str]:
    """Per abandoned reply (``starts``: every reply's ``LLMStarted`` time), the words of it
    handed to TTS: those of the chunks triggered between its start and the next reply's."""
    words = {w.index: w.text for w in events if isinstance(w, WordEmitted)}
    chunks = [c for c in events if isinstance(c, ChunkTriggered)]
    said = []
    for lo, hi in zip(starts, starts[1:]):
        mine = [c for c in chunks if lo <= c.t_ms < hi]
        span = range(min(c.first_word for c in mine), max(c.last_word for c in mine) + 1) if mine else range(0)
        said.append(" ".join(words[k] for k in span if k in words))
    return said


def said_text(events: list[Event]) -> str:
    """Everything the agent said in a turn (``events``: the turn's, in trace order): the
    words of its abandoned replies that were handed to TTS, then its final reply's text,
    space-joined. With one reply (or none started) this is the first ``LLMFinished`` text,
    unchanged ("" if none)."""
    starts = [e.t_ms for e in events if isinstance(e, LLMStarted)]
    ends = [e.text for e in events if isinstance(e, LLMFinished)]
    if len(starts) <= 1:
        return ends[0] if ends else ""
    final = ends[len(starts) - 1] if len(ends) >= len(starts) else ""
    return " ".join(t.strip() for t in [*_abandoned_said(events, starts), final] if t.strip())


def _false_start_audio_ms(events: list[Event], final_start_ms: float) -> float:
    """Played ms of the playbacks that began before the final reply started (see
    :data:`RESTART_COLUMNS`)."""
    stops = [e for e in events if isinstance(e, PlaybackStopped)]
    stalls = [e for e in events if isinstance(e, PlaybackStall)]
    final_audio = next((e.t_ms for e in events if isinstance(e, TTSAudio) and e.t_ms >= final_start_ms), math.inf)
    total = 0.0
    for play in (e for e in events if isinstance(e, PlaybackStarted) and e.t_ms < final_start_ms):
        stop = next((s for s in stops if s.t_ms >= play.t_ms), None)
        if stop is None or stop.t_ms > final_audio:
            return math.nan
        total += stop.t_ms - play.t_ms - sum(s.duration_ms for s in stalls if play.t_ms <= s.t_ms < stop.t_ms)
    return total


def restart_metrics(trace: Trace) -> dict[int, dict]:
    """:data:`RESTART_COLUMNS` for every planned turn."""
    out = {}
    for p in trace.of(TurnPlanned):
        events = trace.of_turn(p.turn)
        starts = [e.t_ms for e in events if isinstance(e, LLMStarted)]
        if len(starts) <= 1:
            out[p.turn] = {"restarted_replies": 0, "false_start_text": "", "false_start_audio_ms": 0.0}
            continue
        said = [t.strip() for t in _abandoned_said(events, starts)]
        out[p.turn] = {"restarted_replies": len(starts) - 1, "false_start_text": " ".join(t for t in said if t),
                       "false_start_audio_ms": _false_start_audio_ms(events, starts[-1])}
    return out


COMPARISON_COLUMNS = ["engine", "turns", "v2v_p50_ms", "v2v_p50_lo_ms", "v2v_p50_hi_ms", "v2v_p95_ms",
                      "v2v_p95_lo_ms", "v2v_p95_hi_ms", "first_word_p50_ms", "word_to_audio_p50_ms",
                      "stall_p50_ms", "turns_with_stall", "turns_with_false_start", "roundtrip_wer_p50",
                      "reported_v2v_p50_ms", "reported_error_p50_ms", "reported_error_min_ms", "reported_error_max_ms"]
"""One row per variant of :func:`engine_comparison`: its engine, live turns, measured
voice-to-voice p50/p95 with 95 % bootstrap intervals resampled by clip
(:func:`voicelab.measure.stats.bootstrap_percentile_ci`), first-word and word-to-audio p50,
playback stall p50 (ms) and the share of turns with any stall, the share of turns with a
restarted reply (a false start, ``restarted_replies > 0``), round-trip WER p50, and for peers
their self-reported voice-to-voice p50 and its error against the measured one (p50, min,
max; ms)."""


def _p(series, q: float) -> float:
    vals = series.dropna()
    return float(vals.quantile(q / 100.0)) if len(vals) else math.nan


def engine_comparison(turns: pd.DataFrame) -> pd.DataFrame:
    """Variants side by side over non-warm-up turns (:data:`COMPARISON_COLUMNS`), in the
    order they first appear; index = variant name. ``turns`` is
    :func:`voicelab.measure.metrics.turns_table` output (``tts_roundtrip_wer`` optional)."""
    live = turns[~turns["warmup"].astype(bool)]
    rows = {}
    for variant, g in live.groupby("variant", sort=False):
        err = g["peer_v2v_error_ms"] if "peer_v2v_error_ms" in g else pd.Series(dtype=float)
        clips = g["clip"] if "clip" in g else None
        p50 = bootstrap_percentile_ci(g["voice_to_voice_latency_ms"], 50, groups=clips)
        p95 = bootstrap_percentile_ci(g["voice_to_voice_latency_ms"], 95, groups=clips)
        restarts = g["restarted_replies"] if "restarted_replies" in g else pd.Series(0, index=g.index)
        rows[variant] = {
            "engine": g["engine"].iloc[0] if "engine" in g else "voicelab",
            "turns": int(len(g)),
            "v2v_p50_ms": p50[0], "v2v_p50_lo_ms": p50[1], "v2v_p50_hi_ms": p50[2],
            "v2v_p95_ms": p95[0], "v2v_p95_lo_ms": p95[1], "v2v_p95_hi_ms": p95[2],
            "turns_with_false_start": float((restarts.fillna(0) > 0).mean()),
            "first_word_p50_ms": _p(g["first_word_latency_ms"], 50),
            "word_to_audio_p50_ms": _p(g["word_to_audio_latency_ms"], 50),
            "stall_p50_ms": _p(g["playback_stall_ms"], 50),
            "turns_with_stall": float((g["playback_stall_ms"].fillna(0) > 0).mean()),
            "roundtrip_wer_p50": _p(g["tts_roundtrip_wer"], 50) if "tts_roundtrip_wer" in g else math.nan,
            "reported_v2v_p50_ms": _p(g["peer_reported_v2v_ms"], 50) if "peer_reported_v2v_ms" in g else math.nan,
            "reported_error_p50_ms": _p(err, 50),
            "reported_error_min_ms": float(err.min()) if err.notna().any() else math.nan,
            "reported_error_max_ms": float(err.max()) if err.notna().any() else math.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=COMPARISON_COLUMNS)
