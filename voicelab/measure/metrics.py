"""Latency metrics: pure functions of a session trace (definitions: docs/concepts.md).

Every ``*_ms`` value is a difference of two session-clock timestamps; a metric
that a turn cannot have (no transcript, no audio) is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jiwer
import numpy as np
import pandas as pd

from voicelab.events import (
    ChunkTriggered,
    Event,
    LLMFinished,
    LLMStarted,
    LLMToken,
    PlaybackStall,
    PlaybackStarted,
    SpeculationCommitted,
    SpeculationDiscarded,
    SpeechEnded,
    STTStarted,
    Trace,
    TranscriptFinal,
    TTSAudio,
    TTSStarted,
    TurnPlanned,
    TurnPredicted,
    WordEmitted,
)
from voicelab.measure.echo import AEC_COLUMNS, aec_metrics
from voicelab.measure.faults import fault_metrics
from voicelab.measure.interruption import BARGE_IN_COLUMNS, interruption_metrics
from voicelab.measure.peer_metrics import PEER_COLUMNS, peer_metrics, restart_metrics, said_text
from voicelab.measure.stats import bootstrap_percentile_ci

NAN = math.nan

LATENCY_COLUMNS = [
    "endpoint_delay_ms",
    "stt_latency_ms",
    "llm_ttft_ms",
    "first_word_latency_ms",
    "trigger_wait_ms",
    "tts_ttfb_ms",
    "word_to_audio_latency_ms",
    "voice_to_voice_latency_ms",
    "playback_stall_ms",
    "framework_overhead_ms",
]
"""The per-turn latency columns, in pipeline order (all milliseconds)."""

SIGNED_COLUMNS = {
    "endpoint_delay_ms": "endpointing decided before the true end of speech (a premature endpoint)",
    "stt_latency_ms": "the transcript was ready before the endpoint was decided (speculation ran STT on a "
                      "short silence while endpointing still waited)",
    "framework_overhead_ms": "the measured stage times cover slightly more than the whole span (a remainder)",
    "trigger_wait_ms": "a peer engine stamped its TTS request before its words (stamped at different places)",
    "word_to_audio_latency_ms": "as trigger_wait_ms, for a peer engine",
}
"""The columns of :data:`LATENCY_COLUMNS` that can be negative, with what a negative value means:
each is a difference of two timestamps whose order is not fixed (the rest are durations)."""

QUALITY_COLUMNS = ["stt_wer", "tts_roundtrip_wer", "tts_requests", "mean_chunk_words"]
"""Quality and chunking columns reported beside latency (WER ratios, counts, words)."""

EXTRA_COLUMNS = ["word_to_audio_mean_ms", "word_to_audio_p95_ms", "stt_call_ms", "tts_call_ms"]

CRITICAL_PATH_COLUMNS = [
    "cp_endpoint_ms",
    "cp_stt_ms",
    "cp_llm_ms",
    "cp_trigger_ms",
    "cp_tts_ms",
    "cp_playout_ms",
]
"""The critical path to the first played sample, one segment per stage; they sum to
``voice_to_voice_latency_ms`` exactly (see :func:`critical_path`)."""

CRITICAL_PATH_LABELS = {
    "cp_endpoint_ms": "speech end -> STT starts",
    "cp_stt_ms": "STT",
    "cp_llm_ms": "transcript -> first word",
    "cp_trigger_ms": "first word -> first chunk",
    "cp_tts_ms": "first chunk -> its audio",
    "cp_playout_ms": "audio -> first sample played",
}
"""What each segment waited for, for tables and figure legends."""


@dataclass(frozen=True)
class _TurnEvents:
    plan: TurnPlanned
    events: list[Event]

    def first(self, kind):
        return next((e for e in self.events if isinstance(e, kind)), None)

    def all(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def _split_turns(trace: Trace) -> list[_TurnEvents]:
    plans = {p.turn: p for p in trace.of(TurnPlanned)}
    by_turn: dict[int, list[Event]] = {t: [] for t in plans}
    for e in trace:
        t = getattr(e, "turn", None)
        if t in by_turn:
            by_turn[t].append(e)
    return [_TurnEvents(plans[t], by_turn[t]) for t in sorted(plans)]


def _diff(a: Event | float | None, b: Event | float | None) -> float:
    """``a - b`` in ms from events (their ``t_ms``) or floats; NaN if either is missing."""
    if a is None or b is None:
        return NAN
    ta = a if isinstance(a, (int, float)) else a.t_ms
    tb = b if isinstance(b, (int, float)) else b.t_ms
    return float(ta - tb)


def _model_time_of_first_trigger(te: _TurnEvents) -> float | None:
    """Model-side time of the last LLM output seen before the first chunk was triggered.

    A chunk is triggered in the event loop right after the token (or the end of the
    stream) that completed it; this is that token's generation-thread timestamp.
    """
    last = None
    for e in te.events:
        if isinstance(e, (LLMToken, LLMFinished)):
            last = e.t_ms
        elif isinstance(e, ChunkTriggered):
            return last
    return None


def critical_path(true_end_ms: float, stt_start: Event | None, transcript: Event | None,
                  first_word: Event | None, first_chunk: Event | None, first_audio: Event | None,
                  first_play: Event | None) -> dict[str, float]:
    """Split voice-to-voice into what each stage left the next one to wait for, in ms.

    The chain is serial for the first reply audio: the true speech end -> STT starts
    (endpointing, or a speculative start; negative if STT started before the speaker
    finished) -> transcript -> first LLM word (prompt encoding and decoding) -> first
    chunk released by the trigger policy -> its TTS audio -> its first sample played
    (the speaker's output-frame alignment, and, for a speculative reply, the wait for
    the endpoint that commits it). Every segment is the difference of consecutive
    milestones, so the six sum to ``voice_to_voice_latency_ms``; a turn missing a
    milestone gets NaN for every segment.
    """
    marks = [true_end_ms, stt_start, transcript, first_word, first_chunk, first_audio, first_play]
    if any(m is None for m in marks):
        return {c: NAN for c in CRITICAL_PATH_COLUMNS}
    times = [m if isinstance(m, (int, float)) else m.t_ms for m in marks]
    return {c: float(b - a) for c, a, b in zip(CRITICAL_PATH_COLUMNS, times, times[1:])}


def turn_metrics(te: _TurnEvents) -> dict:
    """All metric columns for one turn (see :data:`LATENCY_COLUMNS`).

    ``response_text`` is everything the agent said in the turn
    (:func:`~voicelab.measure.peer_metrics.said_text`: a peer's restarted replies too, as far as they
    were handed to TTS), the text ``tts_roundtrip_wer`` compares the played audio with.
    """
    plan = te.plan
    true_end = plan.speech_end_ms
    endpoint = te.first(SpeechEnded)
    stt_start = te.first(STTStarted)
    transcript = te.first(TranscriptFinal)
    llm_start = te.first(LLMStarted)
    tokens = te.all(LLMToken)
    words = {w.index: w for w in te.all(WordEmitted)}
    chunks = {c.chunk: c for c in te.all(ChunkTriggered)}
    tts_start = {r.request: r for r in te.all(TTSStarted)}
    tts_audio = {a.request: a for a in te.all(TTSAudio)}
    plays = te.all(PlaybackStarted)
    predictions = te.all(TurnPredicted)

    first_word = words.get(0)
    first_chunk = chunks.get(0)
    first_audio = tts_audio.get(0)
    first_play = plays[0] if plays else None

    # word-to-audio per TTS request: its last word generated -> its audio available
    w2a = []
    for r, start in sorted(tts_start.items()):
        last_word = max((chunks[c].last_word for c in start.chunks if c in chunks), default=None)
        if r in tts_audio and last_word in words:
            w2a.append(_diff(tts_audio[r], words[last_word]))

    # the wait before STT could start: the endpoint decision, or an earlier speculative start
    started = min(endpoint.decided_ms, stt_start.t_ms) if endpoint and stt_start else (
        endpoint.decided_ms if endpoint else None)
    endpoint_wait = _diff(started, true_end)
    stt_call = _diff(transcript, stt_start)
    llm_to_trigger = _diff(_model_time_of_first_trigger(te), llm_start)
    tts_call = _diff(first_audio, tts_start.get(0))
    v2v = _diff(first_play, true_end)
    row = {
        "turn": plan.turn,
        "clip": plan.clip,
        "variant": plan.variant,
        "warmup": plan.warmup,
        "reference_text": plan.reference_text,
        "transcript": transcript.text if transcript else "",
        "response_text": said_text(te.events),
        "endpoint_delay_ms": _diff(endpoint, true_end),
        "stt_latency_ms": _diff(transcript, endpoint),
        "llm_ttft_ms": _diff(tokens[0] if tokens else None, llm_start),
        "first_word_latency_ms": _diff(first_word, llm_start),
        "trigger_wait_ms": _diff(first_chunk, first_word),
        "tts_ttfb_ms": _diff(first_audio, first_chunk),
        "word_to_audio_latency_ms": w2a[0] if w2a else NAN,
        "voice_to_voice_latency_ms": v2v,
        "playback_stall_ms": float(sum(s.duration_ms for s in te.all(PlaybackStall))) if plays else NAN,
        "framework_overhead_ms": v2v - (endpoint_wait + stt_call + llm_to_trigger + tts_call),
        "word_to_audio_mean_ms": float(np.mean(w2a)) if w2a else NAN,
        "word_to_audio_p95_ms": float(np.percentile(w2a, 95)) if w2a else NAN,
        "stt_call_ms": stt_call,
        "tts_call_ms": tts_call,
        "tts_requests": len(tts_start),
        "chunks": len(chunks),
        "response_words": len(words),
        "mean_chunk_words": len(words) / len(tts_start) if tts_start else NAN,
        "llm_tokens": len(tokens),
        "speech_end_ms": true_end,
        "first_audio_played_ms": first_play.t_ms if first_play else NAN,
        "stt_wer": wer(plan.reference_text, transcript.text) if transcript and plan.reference_text else NAN,
        # endpointing decided while the speaker still had words to say (before the true end)
        "premature_endpoint": bool(endpoint is not None and endpoint.decided_ms < true_end),
        "turn_predictions": len(predictions),
        "turn_detector_ms": predictions[-1].t_ms - predictions[-1].started_ms if predictions else NAN,
    }
    row.update(critical_path(true_end, stt_start, transcript, first_word, first_chunk, first_audio, first_play))
    return row


SPECULATION_COLUMNS = ["speculation", "speculations_discarded", "speculation_wasted_ms",
                       "speculation_wasted_tokens", "speculation_wasted_tts_ms"]
"""Speculative replies per turn: ``speculation`` is ``hit`` (the reply played was started
speculatively and committed by the endpoint), ``miss`` (speculative replies were started
and all discarded: the user went on speaking), or ``none``; the discarded replies' count,
wall time from start to wound down (ms), LLM tokens and synthesized speech (ms)."""


def speculation_metrics(trace: Trace) -> dict[int, dict]:
    """:data:`SPECULATION_COLUMNS` for every planned turn, from the full trace."""
    out = {}
    for p in trace.of(TurnPlanned):
        dropped = trace.of(SpeculationDiscarded, p.turn)
        hit = bool(trace.of(SpeculationCommitted, p.turn))
        out[p.turn] = {
            "speculation": "hit" if hit else "miss" if dropped else "none",
            "speculations_discarded": len(dropped),
            "speculation_wasted_ms": float(sum(d.t_ms - d.started_ms for d in dropped)),
            "speculation_wasted_tokens": int(sum(d.llm_tokens for d in dropped)),
            "speculation_wasted_tts_ms": float(sum(d.tts_audio_ms for d in dropped)),
        }
    return out


def turns_table(trace: Trace, min_barge_in_ms: float) -> pd.DataFrame:
    """One row per user turn (warm-up turns included, flagged in ``warmup``).

    ``min_barge_in_ms``: the session's ``barge_in.min_barge_in_ms`` (no default: a reply that
    played over the user for longer than that and was not cut is a missed interruption, so the
    threshold must be the one the session ran with; see
    :func:`voicelab.measure.interruption.interruption_metrics`).

    Latencies are read from the replies that were answered: the events of discarded
    speculative replies are left out (:meth:`~voicelab.events.Trace.without_discarded`)
    and counted in the :data:`SPECULATION_COLUMNS`. A peer engine's restarted replies (false
    starts) are counted in :data:`~voicelab.measure.peer_metrics.RESTART_COLUMNS`; their words handed
    to TTS are part of ``response_text``.
    """
    speculation = speculation_metrics(trace)
    trace = trace.without_discarded()
    inter = interruption_metrics(trace, min_barge_in_ms)
    echo = aec_metrics(trace)
    peer = peer_metrics(trace)
    restarts = restart_metrics(trace)
    faults = fault_metrics(trace)
    rows = []
    for te in _split_turns(trace):
        row = turn_metrics(te)
        row["engine"] = te.plan.engine
        row["barge_in"] = te.plan.barge_in
        row["backchannel"] = te.plan.backchannel
        row.update(inter[te.plan.turn])
        row.update(speculation[te.plan.turn])
        row.update(echo[te.plan.turn])
        row.update(peer[te.plan.turn])
        row.update(restarts[te.plan.turn])
        row.update(faults[te.plan.turn])
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(turns: pd.DataFrame, percentiles=(50, 90), n_boot: int = 1000) -> dict[str, dict[str, dict[str, float]]]:
    """Percentiles per variant and metric over non-warm-up turns, with 95 % bootstrap CIs.

    Returns ``{variant: {metric: {"p50": ..., "p50_lo": ..., "p50_hi": ..., "p90": ...,
    "n": ..., "clips": ...}}}``; NaNs are ignored. The intervals resample whole clips (turns
    of one clip are not independent; :func:`voicelab.measure.stats.bootstrap_percentile_ci`
    with ``groups``, ``n_boot`` resamples, seed 0): NaN with fewer than two clips, or without
    a ``clip`` column.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    live = turns[~turns["warmup"]]
    for variant, g in live.groupby("variant", sort=False):
        out[variant] = {}
        optional = [c for c in CRITICAL_PATH_COLUMNS + QUALITY_COLUMNS + BARGE_IN_COLUMNS + AEC_COLUMNS
                    + PEER_COLUMNS if c in g and g[c].notna().any()]
        clips = g["clip"].astype(str) if "clip" in g else pd.Series(["?"] * len(g), index=g.index)
        for col in LATENCY_COLUMNS + EXTRA_COLUMNS + optional:
            vals = pd.to_numeric(g[col], errors="coerce")
            stats: dict[str, float] = {}
            for p in percentiles:
                est, lo, hi = bootstrap_percentile_ci(vals, p, n_boot=n_boot, groups=clips)
                stats.update({f"p{p}": est, f"p{p}_lo": lo, f"p{p}_hi": hi})
            stats["n"] = int(vals.notna().sum())
            stats["clips"] = int(clips[vals.notna()].nunique())
            out[variant][col] = stats
    return out


SPOKEN_FORMS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay"}
"""Written abbreviations mapped to the spoken forms used in reference transcripts
(the same idea as Whisper's English text normalizer, reduced to what the bundled
LibriVox references need: they spell out "mister")."""

_NORMALIZE = jiwer.Compose([
    jiwer.ToLowerCase(),
    jiwer.SubstituteRegexes({r"[-–—]": " "}),
    jiwer.RemovePunctuation(),
    jiwer.RemoveMultipleSpaces(),
    jiwer.Strip(),
    jiwer.SubstituteWords(SPOKEN_FORMS),
    jiwer.ReduceToListOfListOfWords(),
])


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate (jiwer) after lower-casing, removing punctuation and :data:`SPOKEN_FORMS`.

    An empty hypothesis against a non-empty reference is 1.0.
    """
    if not reference.strip():
        raise ValueError("WER needs a non-empty reference")
    if not hypothesis.strip():
        return 1.0
    return float(jiwer.wer(reference, hypothesis, reference_transform=_NORMALIZE,
                           hypothesis_transform=_NORMALIZE))


def truncated_words(reference: str, hypothesis: str) -> int:
    """Reference words at the end of ``reference`` that ``hypothesis`` lost: the length of the
    run of deletions that ends jiwer's word alignment (normalised as :func:`wer`). 0 when the
    last reference word is aligned to a hypothesis word, even a wrong one ("ill-disposed" heard
    as "old-sposed" is misrecognised, not truncated); every reference word for an empty
    hypothesis.

    Raises:
        ValueError: ``reference`` is empty.
    """
    if not reference.strip():
        raise ValueError("truncation needs a non-empty reference")
    if not hypothesis.strip():
        return len(_NORMALIZE(reference)[0])
    out = jiwer.process_words(reference, hypothesis, reference_transform=_NORMALIZE,
                              hypothesis_transform=_NORMALIZE)
    chunks = out.alignments[0]
    last = chunks[-1]
    return last.ref_end_idx - last.ref_start_idx if last.type == "delete" else 0
