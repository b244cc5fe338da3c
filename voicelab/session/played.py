"""What of a reply the user actually heard, from the trace alone."""

from __future__ import annotations

from voicelab.events import PlaybackStarted, PlaybackStopped, Trace, TTSAudio, TTSStarted


def played_text(trace: Trace, turn: int) -> str:
    """The words of ``turn``'s reply that were actually played before it stopped.

    A TTS request that played fully contributes its text; one cut off mid-way
    contributes the share of its words proportional to the share of its samples
    played (rounded down). Discarded speculative replies are not part of it.
    """
    trace = trace.without_discarded()
    stop = next((e for e in reversed(trace.of(PlaybackStopped, turn))), None)
    starts = {e.request: e.sample_index for e in trace.of(PlaybackStarted, turn)}
    sizes = {e.request: e.samples for e in trace.of(TTSAudio, turn)}
    texts = {e.request: e.text for e in trace.of(TTSStarted, turn)}
    out = []
    for req in sorted(starts):
        n = sizes.get(req, 0)
        played_n = n if stop is None else max(0, min(stop.sample_index - starts[req], n))
        words = texts.get(req, "").split()
        k = len(words) if played_n >= n else int(len(words) * played_n / max(n, 1))
        out.extend(words[:k])
    return " ".join(out)
