"""What of a reply the user actually heard, from the trace alone."""

from __future__ import annotations

from voicelab.events import (
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
    Trace,
    TTSAudio,
    TTSStarted,
)


def pause_gaps(trace: Trace, turn: int) -> list[tuple[float, float, int, int]]:
    """``turn``'s pauses that resumed, in order: ``(paused_ms, resumed_ms, paused_sample,
    resumed_sample)``. Ducks (played on, attenuated) are left out; so is a pause still open
    when the reply was cut."""
    gaps, open_ = [], None
    for e in trace.of_turn(turn):
        if isinstance(e, PlaybackPaused) and e.turn == turn:
            open_ = e if e.duck_db is None else None
        elif isinstance(e, PlaybackResumed) and e.turn == turn and open_ is not None:
            gaps.append((open_.t_ms, e.t_ms, open_.sample_index, e.sample_index))
            open_ = None
    return gaps


def played_text(trace: Trace, turn: int) -> str:
    """The words of ``turn``'s reply that were actually played before it stopped.

    A TTS request that played fully contributes its text; one cut off mid-way
    contributes the share of its words proportional to the share of its samples
    played (rounded down; the silence of a pause that resumed inside it is not played).
    Discarded speculative replies are not part of it.
    """
    trace = Trace(trace.of_turn(turn)).without_discarded()  # a turn's discarded attempts are its own events
    stop = next((e for e in reversed(trace.of(PlaybackStopped, turn))), None)
    starts = {e.request: e.sample_index for e in trace.of(PlaybackStarted, turn)}
    sizes = {e.request: e.samples for e in trace.of(TTSAudio, turn)}
    texts = {e.request: e.text for e in trace.of(TTSStarted, turn)}
    gaps = pause_gaps(trace, turn)
    out = []
    for req in sorted(starts):
        n = sizes.get(req, 0)
        silent = sum(b - a for _, _, a, b in gaps if starts[req] <= a and stop is not None and b <= stop.sample_index)
        played_n = n if stop is None else max(0, min(stop.sample_index - starts[req] - silent, n))
        words = texts.get(req, "").split()
        k = len(words) if played_n >= n else int(len(words) * played_n / max(n, 1))
        out.extend(words[:k])
    return " ".join(out)
