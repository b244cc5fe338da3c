"""Where the fit-window STT cuts an utterance: at its own pauses, into pieces that each get
a fit window of their own (:class:`voicelab.stt.whisper.WhisperSTT`).

Whisper tiny.en, decoding one window in timestamp mode, may end its transcript at a pause:
it closes the sentence before the pause, opens the next segment (``<|4.92|><|4.92|>``) and
emits end-of-text, which in Whisper's own long-form loop means "seek to 4.92 s and decode
again" (OpenAI Whisper ``transcribe.py``: a decode that does not end in a single timestamp
seeks to its last timestamp). Cutting the utterance at its pauses gives each decode one
stretch of speech with no long pause inside, as faster-whisper's VAD-segmented
``BatchedInferencePipeline`` cuts long audio into speech chunks.

All positions are sample indices into the utterance (16 kHz); nothing here runs a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicelab.stt.fit_window import MAX_FIT_SECONDS
from voicelab.units import INPUT_RATE

SPLIT_MIN_PAUSE_S = 0.3
"""Shortest pause (s, from the speech detector's region ends to starts) the utterance is cut
at. The concatenations of bundled clips that tiny.en truncated had 300-800 ms pauses between
sentences. No bundled clip holds a pause this long: the 71 inputs of
``benchmarks/stt_window.py`` (2-4 clips joined by 300-800 ms) gave exactly one piece per clip."""

EDGE_PAD_S = 0.7
"""Most silence (s) kept on each side of a piece's speech: half of a pause between two
pieces, at most this much, and at most this much before the first and after the last speech
of the utterance; the rest of a long pause is not transcribed. Silero's region ends early on
an unvoiced ending (the /f/ of "himself"), and tiny.en misheard the end of a piece cut close
to it: on the 71 bundled-clip inputs of ``benchmarks/stt_window.py`` (int8, AVX2 EPYC), pads
of 0.3 / 0.5 / 0.7 / 1.0 s gave mean WER 0.065 / 0.057 / 0.053 / 0.054 ("made am you,
himself" for "made amiable himself" at 0.3 s), the same order on CTranslate2's generic
kernels; none lost a word at the end."""

MAX_PIECE_S = MAX_FIT_SECONDS - 2 * EDGE_PAD_S
"""Longest speech span of one piece (s): with its two edge pads it stays within
:data:`~voicelab.stt.fit_window.MAX_FIT_SECONDS`, so its fit window (ceil(s) + 1 s) never
exceeds Whisper's 30 s window, which its encoder's positional embeddings cover. Longer
stretches of speech are cut at their last pause that fits, or in equal parts if they hold
none."""


@dataclass(frozen=True)
class Piece:
    """One stretch of an utterance transcribed in a fit window of its own.

    Attributes:
        start: first sample of the piece (index into the utterance).
        end: one past its last sample.
        speech_start: first speech sample inside it (``start <= speech_start``).
        speech_end: one past its last speech sample (``speech_end <= end``).
        speech_samples: samples of detected speech inside it (pauses excluded).
    """

    start: int
    end: int
    speech_start: int
    speech_end: int
    speech_samples: int

    @property
    def seconds(self) -> float:
        """Length of the piece (s)."""
        return (self.end - self.start) / INPUT_RATE

    @property
    def speech_seconds(self) -> float:
        """Detected speech inside the piece (s)."""
        return self.speech_samples / INPUT_RATE

    @property
    def speech_end_s(self) -> float:
        """End of the last speech, in seconds from the piece's first sample."""
        return (self.speech_end - self.start) / INPUT_RATE


def _groups(regions: list[tuple[int, int]], min_pause: int, max_piece: int) -> list[list[tuple[int, int]]]:
    """Regions grouped into pieces: a pause of ``min_pause`` samples or more starts a new group,
    and a group whose speech would span more than ``max_piece`` is closed at its last pause."""
    groups: list[list[tuple[int, int]]] = []
    for region in regions:
        current = groups[-1] if groups else None
        if (current is None or region[0] - current[-1][1] >= min_pause
                or region[1] - current[0][0] > max_piece):
            groups.append([region])
        else:
            current.append(region)
    return groups


def _cut_long(region: tuple[int, int], max_piece: int) -> list[tuple[int, int]]:
    """A speech region longer than ``max_piece`` cut into the fewest equal parts that fit."""
    lo, hi = region
    parts = -(-(hi - lo) // max_piece)
    bounds = [lo + (hi - lo) * k // parts for k in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def split_at_pauses(speech: Sequence[tuple[int, int]], n_samples: int, *,
                    min_pause_s: float = SPLIT_MIN_PAUSE_S, edge_pad_s: float = EDGE_PAD_S,
                    max_piece_s: float = MAX_PIECE_S) -> list[Piece]:
    """Cut an utterance into pieces at the pauses between its speech regions.

    The rule:

    1. speech regions closer than ``min_pause_s`` belong to one piece; a pause of at least
       ``min_pause_s`` ends a piece; a piece whose speech would span more than
       ``max_piece_s`` ends at its last pause instead, and a single region longer than that
       is cut into equal parts;
    2. each piece keeps silence around its speech: half of the pause to each neighbour, at
       most ``edge_pad_s``, and at most ``edge_pad_s`` before the utterance's first speech
       and after its last (clipped to the audio);
    3. no speech at all: one piece over the whole utterance (the decoder's no-speech
       probability decides whether it is silence).

    Args:
        speech: speech regions as ``(start, end)`` sample indices, sorted, not overlapping,
            within ``[0, n_samples]`` (e.g. faster-whisper's ``get_speech_timestamps``).
        n_samples: length of the utterance (samples).
        min_pause_s, edge_pad_s, max_piece_s: see :data:`SPLIT_MIN_PAUSE_S`,
            :data:`EDGE_PAD_S`, :data:`MAX_PIECE_S` (seconds).

    Returns:
        The pieces in order; they do not overlap.

    Raises:
        ValueError: regions unsorted, overlapping, empty or outside the audio, or a
            non-positive ``max_piece_s``.
    """
    if max_piece_s <= 0:
        raise ValueError(f"max_piece_s must be > 0, got {max_piece_s}")
    regions = [(int(a), int(b)) for a, b in speech]
    previous_end = 0
    for a, b in regions:
        if not previous_end <= a < b <= n_samples:
            raise ValueError(f"speech regions must be sorted, non-empty, non-overlapping and within "
                             f"[0, {n_samples}]; got {regions}")
        previous_end = b
    if not regions:
        return [Piece(0, n_samples, 0, n_samples, n_samples)]
    max_piece = int(max_piece_s * INPUT_RATE)
    pad = int(edge_pad_s * INPUT_RATE)
    regions = [part for region in regions for part in _cut_long(region, max_piece)]
    groups = _groups(regions, int(min_pause_s * INPUT_RATE), max_piece)
    pieces = []
    for k, group in enumerate(groups):
        speech_start, speech_end = group[0][0], group[-1][1]
        before = speech_start if k == 0 else (speech_start - groups[k - 1][-1][1]) // 2
        after = n_samples - speech_end if k == len(groups) - 1 else (groups[k + 1][0][0] - speech_end) // 2
        pieces.append(Piece(speech_start - min(pad, before), speech_end + min(pad, after),
                            speech_start, speech_end, sum(b - a for a, b in group)))
    return pieces
