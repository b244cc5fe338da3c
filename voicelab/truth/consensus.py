"""The reference speech boundaries of a clip: a consensus of three offline sources.

1. **Silero** (:mod:`voicelab.truth.silero`) says *where* speech is, but its edges lag
   by up to a frame or two and it can miss a quiet or band-limited first word.
2. **Band energy** (:mod:`voicelab.truth.energy`) is exact to 10 ms, but hears breaths,
   clicks and noise as readily as speech.
3. **Whisper word timestamps** (faster-whisper, ``word_timestamps=True``) say which
   words were spoken. Their times are coarse (on the bundled clips the first word
   always starts at 0 ms and the last one ends 236 ms early to 199 ms late), so they
   check coverage rather than place edges.

The rule (:func:`consensus`):

- onset = the start of the energy run that holds Silero's onset (or starts within
  :data:`LOOKAHEAD_MS` after it); offset = the end of the last energy run that starts
  before Silero's speech ended: its last frame with p >= 0.5 less
  :data:`SILERO_END_LAG_MS` (without that frame, its segment's end). A run separated
  from speech by more than ``energy.BRIDGE_MS`` of quiet (a breath, a click), or one
  that starts after Silero's speech ended (babble after the speech), is therefore not
  speech. The offset then moves over an adjacent fricative tail (below).
- Offset cross-check: Silero's probability falls below 0.5 a fairly steady
  :data:`SILERO_END_LAG_MS` after the true end, in noise too, where the band energy of a
  quiet last syllable sinks under the noise. An offset more than
  :data:`OFFSET_TOLERANCE_MS` *before* that estimate gives way to it. One after it
  stands: Silero's probability falls early on an unvoiced or band-limited last
  syllable (on the telephone-band fricative prompts up to 310 ms before the true end),
  and noise bridged onto the speech is already cut by the run rule above. The check
  needs Silero's segment to have closed (:attr:`voicelab.truth.silero.SileroPass.closed`):
  the lag was measured on segments that did, and a segment the clip's end closes
  (babble of other voices after the speech keeps the probability up) has no measured end.
- Coverage: the reference must hold at least :data:`MIN_WORD_MS` of the first and of
  the last recognised word. If it does not, a word was missed (e.g. Silero skipped
  "Please" on an 8 kHz telephone prompt) and the edge moves to the energy run that
  overlaps that word most, or, with no energy there, to the word's own timestamp.
- Fricatives: each edge then moves outwards over adjacent fricative-like frames (an
  unvoiced /s/ that Silero's probability drops on), by at most 300 ms
  (:mod:`voicelab.truth.fricative`); the energy offset does so before the cross-check, so
  a fricative tail counts as energy's evidence.
- Without Silero speech the words place the edges (through energy); without words
  the check is skipped and a warning says so.

Each source's own bounds and their deviation from the reference are kept. A source
*agrees* when both its edges are within :data:`DISAGREEMENT_LIMIT_MS` of the reference;
Whisper, whose first word starts at 0 ms anyway, agrees when the reference holds its
first and last words and its last word does not end more than the limit after the
reference. Every disagreement is a warning to check the clip by eye
(``voicelab truth CLIP`` draws it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from voicelab.stt.whisper import WordTiming
from voicelab.truth.energy import EnergyAnalysis
from voicelab.truth.fricative import extend_edges

LOOKAHEAD_MS = 100.0
"""An energy run starting this soon after Silero's onset still starts the speech
(Silero can fire on the very first frame of a run, before the band level rises)."""

MIN_WORD_MS = 80.0
"""How much of the first/last recognised word the reference must hold (about the
shortest English syllable); less means the word was missed."""

SILERO_END_LAG_MS = 74.0
"""How long after the true speech end the last Silero frame with p >= 0.5 ends: the
median over the five annotated LibriVox clips (-29, 43, 74, 95, 118 ms)."""

OFFSET_TOLERANCE_MS = 100.0
"""An energy offset this far from Silero's lag-corrected end is not trusted (the last
syllable sank under noise, or noise was bridged onto the speech)."""

DISAGREEMENT_LIMIT_MS = 150.0
"""A source whose edge is further than this from the reference disagrees: a warning."""

Segments = list[tuple[float, float]]


@dataclass(frozen=True)
class SourceBounds:
    """What one source says: its first speech start and last speech end (ms, None if it
    found nothing), its segments, and its deviation from the reference (source minus
    reference, ms) at each edge."""

    start_ms: float | None
    end_ms: float | None
    segments_ms: Segments
    start_dev_ms: float | None = None
    end_dev_ms: float | None = None
    agrees: bool = False


@dataclass(frozen=True)
class SpeechReference:
    """The true speech boundaries of a clip, with how they were found.

    ``start_ms``/``end_ms``: first speech start and last speech end, ms from the clip's
    first sample. ``method``: ``"consensus"`` (computed) or ``"sidecar"`` (read from
    ``<clip>.json``, e.g. a human annotation; then ``sources`` may be empty).
    ``onset_by``/``offset_by``: which rule set each edge. ``sources``: ``silero``,
    ``energy``, ``whisper`` -> :class:`SourceBounds`. ``words``: Whisper's words.
    """

    start_ms: float
    end_ms: float
    method: str = "consensus"
    onset_by: str = ""
    offset_by: str = ""
    sources: dict[str, SourceBounds] = field(default_factory=dict)
    words: list[WordTiming] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def bounds_ms(self) -> tuple[float, float]:
        return self.start_ms, self.end_ms

    @property
    def agreed(self) -> list[str]:
        """The sources that agree with the reference at both edges."""
        return [name for name, s in self.sources.items() if s.agrees]


def consensus(silero: Segments, energy: EnergyAnalysis, words: Sequence[WordTiming],
              silero_speech_end_ms: float | None = None,
              fricative: np.ndarray | None = None, silero_closed: bool = True) -> SpeechReference:
    """Combine the three sources (see the module docstring).

    Args:
        silero: Silero's speech segments, ms.
        silero_speech_end_ms: end of Silero's last frame with p >= 0.5
            (:attr:`voicelab.truth.silero.SileroPass.last_speech_frame_end_ms`); None: the
            last segment's end bounds the energy runs and the offset cross-check is skipped.
        energy: the clip's band-energy analysis (its runs are in ms).
        words: Whisper's words with timestamps, in order.
        fricative: bool per 10 ms frame, fricative-like
            (:func:`voicelab.truth.fricative.fricative_frames`); None skips the fricative
            extension of the edges.
        silero_closed: whether Silero's last segment ended before the clip did
            (:attr:`voicelab.truth.silero.SileroPass.closed`); False skips the offset
            cross-check.

    Raises:
        ValueError: neither Silero nor Whisper found any speech.
    """
    runs = energy.runs_ms
    warnings: list[str] = []
    if not silero and not words:
        raise ValueError("no speech: the Silero pass found none and Whisper recognised no words")
    if silero:
        s_on, s_off = silero[0][0], silero[-1][1]
        estimate = None if silero_speech_end_ms is None else silero_speech_end_ms - SILERO_END_LAG_MS
        run = next((r for r in runs if r[1] > s_on and r[0] <= s_on + LOOKAHEAD_MS), None)
        start, onset_by = (run[0], "energy at Silero's onset") if run else (s_on, "Silero")
        # the last run starting before Silero's speech ended (lag-corrected) is the last speech
        bound = s_off if estimate is None else estimate
        run = next((r for r in reversed(runs) if r[0] < bound and r[1] > start), None)
        if run:
            end, offset_by = run[1], "energy at Silero's offset"
        elif silero_closed or estimate is None or estimate <= start:
            end, offset_by = s_off, "Silero"
        else:
            end, offset_by = estimate, "Silero's last speech frame, lag-corrected"
        if fricative is not None and end > start:  # a fricative tail is energy's evidence too
            end, offset_by = _fricative_tail(start, end, offset_by, fricative)
        if estimate is not None and silero_closed and estimate - end > OFFSET_TOLERANCE_MS:
            end, offset_by = estimate, "Silero's last speech frame, lag-corrected"
    else:
        warnings.append("the Silero pass found no speech; the edges come from Whisper's words")
        start, end = words[0].end_ms, words[-1].start_ms
        onset_by = offset_by = "Whisper"
    if words:
        first, last = words[0], words[-1]
        if start > first.end_ms - MIN_WORD_MS:
            new, by = _cover_word(runs, first, "first")
            if silero:
                warnings.append(_missed_word("first", first, "onset", start, min(new, start)))
            start, onset_by = min(new, start), by
        if end < last.start_ms + MIN_WORD_MS:
            new, by = _cover_word(runs, last, "last")
            if silero:
                warnings.append(_missed_word("last", last, "offset", end, max(new, end)))
            end, offset_by = max(new, end), by
    else:
        warnings.append("Whisper recognised no words: coverage not checked")
    if fricative is not None and end > start:
        new_start = extend_edges(start, end, fricative)[0]
        if new_start < start:
            start, onset_by = new_start, f"{onset_by} + fricative onset"
        if "fricative tail" not in offset_by:  # not extended yet (extending twice would pass the cap)
            end, offset_by = _fricative_tail(start, end, offset_by, fricative)
    if end <= start:
        raise ValueError(f"no speech: the sources give an empty span ({start:.0f}-{end:.0f} ms)")

    sources: dict[str, SourceBounds] = {}
    for name, segs in (("silero", list(silero)), ("energy", list(runs)),
                       ("whisper", [(w.start_ms, w.end_ms) for w in words])):
        if not segs:
            sources[name] = SourceBounds(None, None, [])
            continue
        dev0, dev1 = segs[0][0] - start, segs[-1][1] - end
        if name == "whisper":
            bad = [("offset", dev1)] if dev1 > DISAGREEMENT_LIMIT_MS else []
        else:
            bad = [(edge, d) for edge, d in (("onset", dev0), ("offset", dev1))
                   if abs(d) > DISAGREEMENT_LIMIT_MS]
        warnings += [f"{name} {edge} is {d:+.0f} ms from the reference "
                     f"(limit {DISAGREEMENT_LIMIT_MS:.0f} ms)" for edge, d in bad]
        sources[name] = SourceBounds(segs[0][0], segs[-1][1], segs, dev0, dev1, not bad)
    return SpeechReference(start, end, "consensus", onset_by, offset_by, sources, list(words), warnings)


def _fricative_tail(start: float, end: float, offset_by: str, fricative: np.ndarray) -> tuple[float, str]:
    """The offset moved over an adjacent fricative tail (:func:`extend_edges`), and its label."""
    new_end = extend_edges(start, end, fricative)[1]
    return (new_end, f"{offset_by} + fricative tail") if new_end > end else (end, offset_by)


def _cover_word(runs: Segments, word: WordTiming, which: str) -> tuple[float, str]:
    """Where the onset (``which="first"``) or offset (``"last"``) must go to hold ``word``:
    the matching edge of the energy run overlapping it most, else its own timestamp."""
    run = _best_overlap(runs, word.start_ms, word.end_ms)
    if run is not None:
        return (run[0] if which == "first" else run[1]), f"energy at Whisper's {which} word"
    return (word.start_ms if which == "first" else word.end_ms), "Whisper"


def _missed_word(which: str, word: WordTiming, edge: str, old: float, new: float) -> str:
    return (f"Silero missed the {which} word {word.text!r} ({word.start_ms:.0f}-{word.end_ms:.0f} ms): "
            f"{edge} moved from {old:.0f} to {new:.0f} ms")


def _best_overlap(runs: Segments, a: float, b: float) -> tuple[float, float] | None:
    """The run overlapping ``[a, b]`` most (None if none does)."""
    best = max(runs, key=lambda r: min(r[1], b) - max(r[0], a), default=None)
    return best if best is not None and min(best[1], b) > max(best[0], a) else None
