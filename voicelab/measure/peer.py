"""What peer engines say about their own latency, beside what the played audio says.

Pure functions of a trace. A framework's self-reported voice-to-voice (Pipecat's
``UserBotLatencyObserver``: its VAD's estimate of the speech end to the moment its output
transport *starts writing* the first reply chunk) is compared with voicelab's measured
one (the clip's true speech end to the first sample the speaker *played*).
"""

from __future__ import annotations

import math

import pandas as pd

from voicelab.events import PeerReported, PlaybackStarted, Trace, TurnPlanned

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


COMPARISON_COLUMNS = ["engine", "turns", "v2v_p50_ms", "v2v_p95_ms", "first_word_p50_ms", "word_to_audio_p50_ms",
                      "stall_p50_ms", "turns_with_stall", "roundtrip_wer_p50", "reported_v2v_p50_ms",
                      "reported_error_p50_ms", "reported_error_min_ms", "reported_error_max_ms"]
"""One row per variant of :func:`engine_comparison`: its engine, live turns, measured
voice-to-voice p50/p95, first-word and word-to-audio p50, playback stall p50 (ms) and the
share of turns with any stall, round-trip WER p50, and for peers their self-reported
voice-to-voice p50 and its error against the measured one (p50, min, max; ms)."""


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
        rows[variant] = {
            "engine": g["engine"].iloc[0] if "engine" in g else "voicelab",
            "turns": int(len(g)),
            "v2v_p50_ms": _p(g["voice_to_voice_latency_ms"], 50),
            "v2v_p95_ms": _p(g["voice_to_voice_latency_ms"], 95),
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
