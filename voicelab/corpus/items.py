"""Items of the corpus: each utterance as recorded, and split mid-sentence by a pause.

Shared with the pause set of :mod:`voicelab.lab.turn_taking` (which keeps its own choice
of one cut and five pause lengths per clip). All times are ms from the item's first
sample; all audio is float32 mono at 16 kHz.

- **eot item**: the recording as it is, then :data:`TAIL_MS` of its room tone
  (:func:`fill`: its own background where it has room, else comfort noise of its floor). Its
  silences: every gap of at least :data:`MIN_SILENCE_MS` between band-energy runs
  (:func:`voicelab.truth.energy.energy_runs`) inside the reference speech
  ``[start_ms, end_ms]`` is a ``hold``; the last one, from the speech end to the item's
  end, is the ``eot``.
- **hold item**: the recording cut between two words and a pause of
  :data:`PAUSE_RANGE_MS` of the same room tone inserted there (:func:`insert_pause`),
  then the same tail. Cut points (:func:`word_cuts_ms`)
  come from the boundaries between Whisper's words (the reference's word timings, coarse
  by up to ~240 ms, see :mod:`voicelab.truth.consensus`), placed exactly with band
  energy: the middle of the widest gap between energy runs within
  :data:`WORD_TOLERANCE_MS` of the boundary, else (connected speech, no gap) the middle
  of the quietest 10 ms window within :data:`QUIET_SEARCH_MS` of it, if that dips at
  least :data:`MIN_DIP_DB` below the speech's loud level. So a cut falls after
  the first word and before the last one, mid-sentence.

The labels follow LiveKit's eot-bench (GitHub ``livekit/eot-bench``, package
``eot_harness``, ``io.build_span_set``; see :mod:`voicelab.measure.eot`): every silence
of a user turn of at least 100 ms (``DEFAULT_MIN_SILENCE``) is a span, the last one
labelled ``eot`` and every earlier one ``hold``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from voicelab.truth.energy import WINDOW_MS, band_levels_db, energy_runs
from voicelab.units import INPUT_RATE
from voicelab.vad.base import FRAME_SAMPLES

SR_MS = INPUT_RATE // 1000
"""Samples per ms at the corpus rate (16 kHz)."""
TAIL_MS = 2000.0
"""Room tone appended to every item so the longest silence timeout can run out (the pause
set of :mod:`voicelab.lab.turn_taking` appends digital silence of this length)."""
MIN_SILENCE_MS = 100.0
"""Shortest silence that is labelled (eot-bench: silences >= 100 ms inside a turn)."""
PAUSE_RANGE_MS = (150, 1500)
"""Inserted pauses run from 150 to 1500 ms in 10 ms steps (the issue's range)."""
WORD_TOLERANCE_MS = 250.0
"""A gap is between words when its middle lies this close to the middle of a boundary
between two Whisper words (their timestamps are off by up to ~240 ms)."""
QUIET_SEARCH_MS = 100.0
"""Without such a gap, the cut goes to the quietest 10 ms window this close to the boundary."""
EDGE_MS = 100.0
"""No cut closer than this to the speech's start or end (a cut there would not be mid-sentence)."""
MIN_DIP_DB = 15.0
"""A quietest-window cut must lie this far below the speech's loud level (the 90th
percentile of its 10 ms band levels): a dip between words, not the middle of a vowel.
A heuristic, not tuned: on the Asterisk prompts the connected-speech cuts dip by 30 dB
(median), the shallowest tenth by less than 12 dB (likely inside a syllable)."""
MIN_CUT_DISTANCE_MS = 200.0
"""Two cuts of one recording are at least this far apart (different word boundaries)."""
MAX_HOLDS = 2
"""Hold items made per recording at most (different cut points)."""
TONE_MS = 160.0
"""Length of the room-tone window that fills a pause (tiled as needed)."""
ROOM_DB = 6.0
"""The room-tone window is used as recorded only when its level lies within this much of the
recording's floor (:func:`floor_db`); else it holds speech (a tightly trimmed prompt has no
160 ms outside its speech) and :func:`comfort_noise` of the floor fills instead."""
FLOOR_PERCENTILE = 5.0
"""The recording's floor: this percentile of its 32 ms frame levels (and the frames at or
below it are the ones whose spectrum :func:`comfort_noise` regenerates)."""

Silence = tuple[float, float, str]
"""``(start_ms, end_ms, label)``, label ``"hold"`` or ``"eot"``."""


@dataclass(frozen=True)
class ItemPlan:
    """How one item is made from its recording (no audio; see :func:`render`).

    Attributes:
        kind: ``"eot"`` (as recorded) or ``"hold"`` (split by an inserted pause).
        cut_ms: where the pause is inserted in the recording (``None`` for eot items).
        pause_ms: the inserted pause (0 for eot items).
        tone_ms: start of the room-tone window in the recording.
        speech_ms: reference ``(start_ms, end_ms)`` in the item (shifted by the pause).
        silences: the labelled silences in the item, in order, the last one the ``eot``.
        duration_ms: the item's length including the tail and frame padding.
    """

    kind: str
    cut_ms: float | None
    pause_ms: float
    tone_ms: float
    speech_ms: tuple[float, float]
    silences: tuple[Silence, ...]
    duration_ms: float


def gaps_ms(audio: np.ndarray, bounds: tuple[float, float] | None = None) -> list[tuple[float, float]]:
    """Gaps ``(end of a run, start of the next)`` between band-energy runs, ms; with
    ``bounds``, only those inside the speech ``(start_ms, end_ms)``."""
    runs = energy_runs(audio).runs_ms
    gaps = [(a1, b0) for (_, a1), (b0, _) in pairwise(runs)]
    if bounds is not None:
        gaps = [(a, b) for a, b in gaps if a >= bounds[0] and b <= bounds[1]]
    return gaps


def mid_sentence_gap_ms(audio: np.ndarray, bounds: tuple[float, float]) -> float:
    """The middle of the widest gap between band-energy runs in the middle third of the
    speech (ms), else the quietest 10 ms window there: a boundary between words (the
    pause set's cut, :func:`voicelab.lab.turn_taking.pause_set`)."""
    s0, s1 = bounds
    lo, hi = s0 + (s1 - s0) / 3, s1 - (s1 - s0) / 3
    gaps = [(b0 - a1, (a1 + b0) / 2) for a1, b0 in gaps_ms(audio) if lo <= (a1 + b0) / 2 <= hi]
    if gaps:
        return max(gaps)[1]
    levels = band_levels_db(audio)
    i0, i1 = int(lo / WINDOW_MS), int(hi / WINDOW_MS)
    return (i0 + int(np.argmin(levels[i0:i1]))) * WINDOW_MS + WINDOW_MS / 2


def word_cuts_ms(audio: np.ndarray, bounds: tuple[float, float], words: Sequence[tuple[float, float]],
                 sentence_ends: Sequence[bool] | None = None) -> list[tuple[float, float]]:
    """Cut points between words (see the module docstring) as ``(cut_ms, gap_ms)``, one
    per word boundary at most, those in energy gaps first (widest first; ``gap_ms`` = the
    gap's width, 0 for a quietest-window cut), then by distance from the speech's middle.

    Args:
        audio: float32 mono 16 kHz, shape ``(n,)``.
        bounds: reference speech ``(start_ms, end_ms)``.
        words: Whisper's words ``(start_ms, end_ms)``, in order; fewer than two: no cuts.
        sentence_ends: per word, whether its text ends a sentence (``.``, ``?``, ``!``): no
            cut at the boundary after it, nor in a gap within :data:`WORD_TOLERANCE_MS` of that
            boundary, so every cut is mid-sentence. None: no word does.

    Raises:
        ValueError: ``sentence_ends`` of another length than ``words``.
    """
    s0, s1 = bounds
    ends = list(sentence_ends) if sentence_ends is not None else [False] * len(words)
    if len(ends) != len(words):
        raise ValueError(f"{len(ends)} sentence-end flags for {len(words)} words")
    stops = [(a[1] + b[0]) / 2 for a, b, end in zip(words, words[1:], ends) if end]
    gaps = [g for g in gaps_ms(audio, bounds)
            if all(abs((g[0] + g[1]) / 2 - m) > WORD_TOLERANCE_MS for m in stops)]
    levels = band_levels_db(audio)
    loud = float(np.percentile(levels[int(s0 / WINDOW_MS):max(int(s1 / WINDOW_MS), int(s0 / WINDOW_MS) + 1)], 90))
    cuts: list[tuple[float, float]] = []
    for m in ((a[1] + b[0]) / 2 for a, b, end in zip(words, words[1:], ends) if not end):
        if not s0 + EDGE_MS <= m <= s1 - EDGE_MS:
            continue
        near = [g for g in gaps if abs((g[0] + g[1]) / 2 - m) <= WORD_TOLERANCE_MS]
        if near:
            a, b = max(near, key=lambda g: g[1] - g[0])
            cut = ((a + b) / 2, b - a)
        else:
            i0 = int(max(m - QUIET_SEARCH_MS, s0 + EDGE_MS) / WINDOW_MS)
            i1 = int(min(m + QUIET_SEARCH_MS, s1 - EDGE_MS) / WINDOW_MS)
            if i1 <= i0:
                continue
            i = i0 + int(np.argmin(levels[i0:i1]))
            if levels[i] > loud - MIN_DIP_DB:  # no dip: mid-vowel, not between words
                continue
            cut = (i * WINDOW_MS + WINDOW_MS / 2, 0.0)
        if all(abs(cut[0] - c[0]) >= MIN_CUT_DISTANCE_MS for c in cuts):
            cuts.append((round(cut[0], 1), cut[1]))
    middle = (s0 + s1) / 2
    return sorted(cuts, key=lambda c: (-c[1], abs(c[0] - middle)))


def room_tone_ms(audio: np.ndarray, bounds: tuple[float, float], ms: float = TONE_MS,
                 anywhere: bool = True) -> float:
    """Start (ms) of the quietest ``ms`` window outside the speech, at least 100 ms from
    it (the pause set's rule). If the clip has no such room: with ``anywhere``, the
    quietest window of the whole clip (a gap between words; short telephone prompts),
    else the clip's start (the pause set's fallback)."""
    n = int(ms * SR_MS)
    outside = [(0, int(bounds[0] * SR_MS) - 1600), (int(bounds[1] * SR_MS) + 1600, len(audio))]
    best, best_rms = 0, np.inf
    for regions in (outside, [(0, len(audio))] if anywhere else []):
        for a, b in regions:
            for i in range(max(a, 0), b - n, n // 2):
                rms = float(np.sqrt(np.mean(audio[i:i + n].astype(np.float64) ** 2)))
                if rms < best_rms:
                    best, best_rms = i, rms
        if np.isfinite(best_rms):
            break
    return best / SR_MS


def room_tone(audio: np.ndarray, bounds: tuple[float, float], ms: float = TONE_MS,
              anywhere: bool = True) -> np.ndarray:
    """The samples of :func:`room_tone_ms`'s window (float32, ``ms * 16`` samples or fewer)."""
    i = int(room_tone_ms(audio, bounds, ms, anywhere) * SR_MS)
    return audio[i:i + int(ms * SR_MS)]


def insert_pause(audio: np.ndarray, cut_ms: float, tone: np.ndarray, pause_ms: float) -> np.ndarray:
    """``audio`` with ``pause_ms`` of ``tone`` (tiled) inserted at ``cut_ms``; float32."""
    i = int(cut_ms * SR_MS)
    gap = np.resize(tone, int(pause_ms * SR_MS))
    return np.concatenate([audio[:i], gap, audio[i:]]).astype(np.float32)


def with_tail(audio: np.ndarray, tail_ms: float = TAIL_MS, tone: np.ndarray | None = None) -> np.ndarray:
    """``audio`` then ``tail_ms`` of ``tone`` (tiled; zeros without one), padded the same way
    to whole 512-sample (32 ms) frames (:data:`voicelab.vad.base.FRAME_SAMPLES`, the session's
    VAD frame); float32."""
    n = int(tail_ms * SR_MS)
    n += -(len(audio) + n) % FRAME_SAMPLES
    tail = np.zeros(n, dtype=np.float32) if tone is None or not len(tone) else np.resize(tone, n)
    return np.concatenate([audio, tail]).astype(np.float32)


def _frames(audio: np.ndarray) -> np.ndarray:
    """Hann-windowed 512-sample frames at a 256 hop, shape ``(n_frames, 512)``, float64."""
    x = audio.astype(np.float64)
    if len(x) < FRAME_SAMPLES:
        x = np.pad(x, (0, FRAME_SAMPLES - len(x)))
    idx = np.arange(0, len(x) - FRAME_SAMPLES + 1, FRAME_SAMPLES // 2)[:, None] + np.arange(FRAME_SAMPLES)
    return x[idx] * np.hanning(FRAME_SAMPLES)


def floor_db(audio: np.ndarray) -> float:
    """The recording's floor, dBFS: the :data:`FLOOR_PERCENTILE` th percentile of its
    Hann-windowed 32 ms frame RMS levels (window energy compensated)."""
    frames = _frames(audio)
    rms = np.sqrt(np.mean(frames ** 2, axis=1) / np.mean(np.hanning(FRAME_SAMPLES) ** 2))
    return float(np.percentile(20 * np.log10(np.maximum(rms, 1e-10)), FLOOR_PERCENTILE))


def comfort_noise(audio: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """``n_samples`` of noise with the mean power spectrum of ``audio``'s quietest frames
    (those at or below its :func:`floor_db`), float32: comfort noise in the sense of RFC 3389
    (the background's spectral envelope, regenerated with random phase), overlap-added with
    a periodic-Hann synthesis window at 50 % overlap (constant overlap-add), then scaled to
    the quiet frames' RMS. ``seed`` makes it reproducible (:func:`render` uses the CRC-32 of
    the recording's samples' length and tone start, so every build renders the same)."""
    frames = _frames(audio)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    level = power.sum(axis=1)
    quiet = level <= np.percentile(level, FLOOR_PERCENTILE)
    spectrum = np.sqrt(power[quiet].mean(axis=0))
    rng = np.random.default_rng(seed)
    hop = FRAME_SAMPLES // 2
    count = n_samples // hop + 2
    phase = np.exp(2j * np.pi * rng.random((count, len(spectrum))))
    chunks = np.fft.irfft(spectrum * phase, n=FRAME_SAMPLES, axis=1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME_SAMPLES) / FRAME_SAMPLES)  # periodic Hann: COLA at hop N/2
    out = np.zeros((count + 1) * hop)
    for k, chunk in enumerate(chunks):
        out[k * hop:k * hop + FRAME_SAMPLES] += chunk * window
    out = out[hop:hop + n_samples]
    target = np.sqrt(np.mean(frames[quiet] ** 2) / np.mean(np.hanning(FRAME_SAMPLES) ** 2))
    rms = np.sqrt(np.mean(out ** 2)) if len(out) else 0.0
    return (out * (target / rms if rms > 0 else 0.0)).astype(np.float32)


def fill(audio: np.ndarray, tone_ms: float) -> np.ndarray:
    """The room tone that fills an item's inserted pause and its tail: the :data:`TONE_MS`
    window at ``tone_ms`` as recorded when its level is within :data:`ROOM_DB` of the
    recording's :func:`floor_db` (real room), else 4 s of :func:`comfort_noise` of the floor
    (a prompt trimmed so tightly that its quietest 160 ms window holds speech: 203 of the 551
    Asterisk recordings, whose window lies within 30 dB of their speech level). float32."""
    i = int(tone_ms * SR_MS)
    window = audio[i:i + int(TONE_MS * SR_MS)]
    rms = float(np.sqrt(np.mean(window.astype(np.float64) ** 2))) if len(window) else 0.0
    if len(window) and 20 * np.log10(max(rms, 1e-10)) <= floor_db(audio) + ROOM_DB:
        return window.astype(np.float32)
    return comfort_noise(audio, 4000 * SR_MS, zlib.crc32(f"{len(audio)}@{tone_ms:.1f}".encode()))


def _tail_len_ms(n_samples: int) -> float:
    n = n_samples + int(TAIL_MS * SR_MS)
    return (n + (-n % FRAME_SAMPLES)) / SR_MS


def pause_for(item_id: str) -> int:
    """The pause (ms) for ``item_id``: 150-1500 ms in 10 ms steps, from the CRC-32 of the
    id, so every build gives every item the same pause and the lengths spread evenly."""
    lo, hi = PAUSE_RANGE_MS
    return lo + 10 * (zlib.crc32(item_id.encode()) % ((hi - lo) // 10 + 1))


def plan_items(item_id: str, audio: np.ndarray, bounds: tuple[float, float],
               words: Sequence[tuple[float, float]],
               sentence_ends: Sequence[bool] | None = None) -> list[tuple[str, ItemPlan]]:
    """The eot item and up to :data:`MAX_HOLDS` hold items of one recording.

    Args:
        item_id: the recording's id; hold ids append ``+<pause>ms@<cut>``.
        audio: the recording, float32 mono 16 kHz, shape ``(n,)``.
        bounds: reference speech ``(start_ms, end_ms)`` in it.
        words: Whisper's words ``(start_ms, end_ms)``, in order (none: no hold items;
            the builder passes none for a one-word transcript, so no word is split).
        sentence_ends: as for :func:`word_cuts_ms` (holds are inserted mid-sentence only).

    Returns:
        ``(id, plan)`` pairs, the eot item first.

    Raises:
        ValueError: ``bounds`` not inside the audio or empty.
    """
    s0, s1 = bounds
    total = len(audio) / SR_MS
    if not 0 <= s0 < s1 <= total + 1:
        raise ValueError(f"{item_id}: speech bounds {bounds} are not inside the {total:.0f} ms recording")
    gaps = gaps_ms(audio, bounds)
    natural = [g for g in gaps if g[1] - g[0] >= MIN_SILENCE_MS]
    tone_ms = room_tone_ms(audio, bounds)
    length = _tail_len_ms(len(audio))
    eot = ItemPlan("eot", None, 0.0, tone_ms, (s0, s1),
                   tuple((a, b, "hold") for a, b in natural) + ((s1, length, "eot"),), length)
    plans = [(item_id, eot)]
    cuts = word_cuts_ms(audio, bounds, words, sentence_ends)
    lo, hi = s0 + (s1 - s0) / 3, s1 - (s1 - s0) / 3
    first = [c for c in cuts if lo <= c[0] <= hi][:1]
    chosen = first + [c for c in cuts if c not in first][:MAX_HOLDS - len(first)]
    for cut, _ in sorted(chosen):
        pause = float(pause_for(f"{item_id}@{cut:.0f}"))
        holds = [_shift(g, cut, pause) for g in gaps]
        if not any(a <= cut <= b for a, b in gaps):  # a cut in connected speech
            holds.append((cut, cut + pause))
        holds = [g for g in holds if g[1] - g[0] >= MIN_SILENCE_MS]
        length = _tail_len_ms(len(audio) + int(pause * SR_MS))
        silences = tuple((x, y, "hold") for x, y in sorted(holds)) + ((s1 + pause, length, "eot"),)
        plans.append((f"{item_id}+{pause:.0f}ms@{cut:.0f}",
                      ItemPlan("hold", cut, pause, tone_ms, (s0, s1 + pause), silences, length)))
    return plans


def _shift(gap: tuple[float, float], cut: float, pause: float) -> tuple[float, float]:
    a, b = gap
    if b < cut:
        return a, b
    if a <= cut:
        return a, b + pause
    return a + pause, b + pause


def render(audio: np.ndarray, plan: ItemPlan) -> np.ndarray:
    """The item's samples from its recording (float32 mono 16 kHz, ``duration_ms * 16``): the
    pause and the tail are the recording's room tone (:func:`fill`)."""
    tone = fill(audio, plan.tone_ms)
    if plan.kind == "hold":
        audio = insert_pause(audio, plan.cut_ms, tone, plan.pause_ms)
    return with_tail(audio, tone=tone)
