"""Endpointing: per-frame speech probabilities -> utterance start and end decisions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voicelab.vad.base import VAD


@dataclass(frozen=True)
class SpeechStart:
    """Speech confirmed (``min_speech_ms`` of it heard).

    Attributes:
        audio_ms: padded start of speech: start of the frame where speech began,
            minus ``speech_pad_ms``, clamped to 0 and to the previous utterance's end.
        decided_ms: end of the frame on which speech was confirmed.

    Both on the endpointer's audio timeline: ms of audio processed since
    :meth:`Endpointer.reset` (samples / 16 kHz * 1000).
    """

    audio_ms: float
    decided_ms: float


@dataclass(frozen=True)
class SpeechEnd:
    """End of the user's turn decided.

    Attributes:
        audio_ms: padded end of speech: start of the first silent frame plus
            ``speech_pad_ms``, clamped to ``decided_ms`` (audio not yet heard cannot
            be included; only matters when ``speech_pad_ms > min_silence_ms``).
        decided_ms: end of the frame on which ``min_silence_ms`` of silence was reached.

    Both on the endpointer's audio timeline (see :class:`SpeechStart`).
    """

    audio_ms: float
    decided_ms: float


@dataclass(frozen=True)
class SpeechPause:
    """The user fell silent for ``min_silence_ms``, but the turn is not over yet: it
    ends when :meth:`Endpointer.confirm_end` is called (e.g. a turn detector judged the
    utterance complete), or by itself after ``max_silence_ms``; speech resuming first
    cancels the pause (:class:`SpeechResumed`). Only emitted with ``max_silence_ms`` set.

    Attributes:
        audio_ms: padded end of speech if the turn ends at this pause (as
            :attr:`SpeechEnd.audio_ms`).
        decided_ms: end of the frame on which ``min_silence_ms`` was reached.
    """

    audio_ms: float
    decided_ms: float


@dataclass(frozen=True)
class SpeechTentativeEnd:
    """The user has been silent for ``speculate_ms``: the turn may be over, and a
    speculative reply can start on :meth:`Endpointer.speech_so_far`. Emitted once per
    silence, before the :class:`SpeechEnd` or :class:`SpeechPause` that silence may
    lead to; speech resuming first gives :class:`SpeechResumed`. Only emitted with
    ``speculate_ms`` set.

    Attributes:
        audio_ms: padded end of speech if the turn ends at this silence (as
            :attr:`SpeechEnd.audio_ms`, clamped to the audio heard so far).
        decided_ms: end of the frame on which ``speculate_ms`` was reached.
    """

    audio_ms: float
    decided_ms: float


@dataclass(frozen=True)
class SpeechResumed:
    """Speech came back during a :class:`SpeechPause` or after a
    :class:`SpeechTentativeEnd`: the turn goes on.

    Attributes:
        decided_ms: end of the frame on which speech resumed.
    """

    decided_ms: float


EndpointEvent = SpeechStart | SpeechEnd | SpeechPause | SpeechTentativeEnd | SpeechResumed


class Endpointer:
    """Silero-style hysteresis endpointing on 512-sample (32 ms) frames at 16 kHz.

    Responsibilities:

    1. run the VAD on every frame and keep every probability (:attr:`probabilities`,
       :attr:`last_probability`) for debugging;
    2. onset: a frame with ``p >= threshold`` opens a candidate; frames with
       ``p >= neg_threshold`` keep it open, a frame with ``p < neg_threshold`` drops it.
       Once the candidate spans ``min_speech_ms`` (measured to the end of the current
       frame), emit :class:`SpeechStart`. Shorter blips are never reported;
    3. offset: in speech, the first frame with ``p < neg_threshold`` starts a silence
       timer; frames between the two thresholds neither start nor stop it; a frame with
       ``p >= threshold`` cancels it. Once the silence spans ``min_silence_ms`` (to the
       end of the current frame), emit :class:`SpeechEnd`;
    4. keep a rolling audio buffer so :meth:`utterance_audio` returns the padded
       utterance that just ended.

    The hysteresis rule and the defaults ``threshold=0.5``, ``min_speech_ms=250``,
    ``speech_pad_ms=100`` follow silero-vad's ``get_speech_timestamps`` /
    ``get_speech_timestamps_from_probs`` (silero_vad/utils_vad.py, 6.2.3), including
    ``neg_threshold = max(threshold - 0.15, 0.01)``. Differences, because this one
    streams: ``min_speech_ms`` is required *before* speech is reported (silero checks
    the whole segment's length afterwards), and ``min_silence_ms`` defaults to 500 ms
    (an end-of-turn silence, silero's offline default is 100 ms).

    With 32 ms frames durations are quantised: the defaults confirm speech after
    8 frames (256 ms) and end a turn after 16 silent frames (512 ms).

    Turn detection (``max_silence_ms`` set): ``min_silence_ms`` of silence only
    *pauses* the turn (:class:`SpeechPause`); the caller asks a turn detector about
    :meth:`pending_audio` and calls :meth:`confirm_end` if the utterance is complete.
    Otherwise the turn ends after ``max_silence_ms`` of silence, or goes on if speech
    resumes (:class:`SpeechResumed`; a later silence pauses it again).

    Speculation (``speculate_ms`` set): ``speculate_ms`` of silence, shorter than the
    silence that ends or pauses the turn, emits :class:`SpeechTentativeEnd` so the caller
    can start answering early; speech resuming after it emits :class:`SpeechResumed`.

    Args:
        vad: the detector; owned by the endpointer (reset with it).
        threshold: probability at or above which a frame is speech (0..1).
        min_speech_ms: speech needed before :class:`SpeechStart` (ms, >= 0).
        min_silence_ms: silence needed before :class:`SpeechEnd` (ms, >= 0).
        speech_pad_ms: padding added before the start and after the end (ms, >= 0).
        neg_threshold: probability below which a frame is silence; default
            ``max(threshold - 0.15, 0.01)``.
        max_silence_ms: with turn detection, the silence that ends a turn without
            :meth:`confirm_end` (ms, >= ``min_silence_ms``); None = no turn detection.
        speculate_ms: silence that emits :class:`SpeechTentativeEnd` (ms, >= 0 and
            <= ``min_silence_ms``); None = never.

    Raises:
        ValueError: thresholds outside [0, 1], ``neg_threshold > threshold``,
            negative durations, ``max_silence_ms < min_silence_ms``, or
            ``speculate_ms`` outside [0, ``min_silence_ms``].
    """

    def __init__(self, vad: VAD, threshold: float = 0.5, min_speech_ms: float = 250.0,
                 min_silence_ms: float = 500.0, speech_pad_ms: float = 100.0,
                 neg_threshold: float | None = None, max_silence_ms: float | None = None,
                 speculate_ms: float | None = None) -> None:
        if neg_threshold is None:
            neg_threshold = max(threshold - 0.15, 0.01)
        if not (0.0 <= threshold <= 1.0 and 0.0 <= neg_threshold <= 1.0):
            raise ValueError(f"thresholds must be in [0, 1], got threshold={threshold}, "
                             f"neg_threshold={neg_threshold}")
        if neg_threshold > threshold:
            raise ValueError(f"neg_threshold ({neg_threshold}) must be <= threshold ({threshold})")
        if min(min_speech_ms, min_silence_ms, speech_pad_ms) < 0:
            raise ValueError("min_speech_ms, min_silence_ms and speech_pad_ms must be >= 0, got "
                             f"{min_speech_ms}, {min_silence_ms}, {speech_pad_ms}")
        if max_silence_ms is not None and max_silence_ms < min_silence_ms:
            raise ValueError(f"max_silence_ms ({max_silence_ms}) must be >= min_silence_ms ({min_silence_ms})")
        if speculate_ms is not None and not 0 <= speculate_ms <= min_silence_ms:
            raise ValueError(f"speculate_ms ({speculate_ms}) must be in [0, min_silence_ms={min_silence_ms}]")
        self.vad = vad
        self.sample_rate = vad.sample_rate
        self.threshold = float(threshold)
        self.neg_threshold = float(neg_threshold)
        self.min_speech_ms = float(min_speech_ms)
        self.min_silence_ms = float(min_silence_ms)
        self.speech_pad_ms = float(speech_pad_ms)
        self._min_speech = self._samples(min_speech_ms)
        self._min_silence = self._samples(min_silence_ms)
        self._pad = self._samples(speech_pad_ms)
        self.max_silence_ms = None if max_silence_ms is None else float(max_silence_ms)
        self._max_silence = None if max_silence_ms is None else self._samples(max_silence_ms)
        self.speculate_ms = None if speculate_ms is None else float(speculate_ms)
        self._speculate = None if speculate_ms is None else self._samples(speculate_ms)
        self.reset()

    # --- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new stream at audio time 0 (also resets the VAD)."""
        self.vad.reset()
        self._pos = 0                       # samples processed
        self._floor = 0                     # end (sample) of the previous utterance
        self._candidate: int | None = None  # sample where unconfirmed speech began
        self._start: int | None = None      # sample where confirmed speech began (unpadded)
        self._silence: int | None = None    # sample where the current silence began
        self._paused = False                # a SpeechPause is pending
        self._tentative = False             # a SpeechTentativeEnd was emitted for this silence
        self._frames: deque[tuple[int, np.ndarray]] = deque()  # (first sample, frame)
        self._utterance = np.zeros(0, dtype=np.float32)
        # every frame's speech probability since reset, in order (debugging; 31 floats/s)
        self.probabilities: list[float] = []
        self.last_probability = 0.0

    @property
    def in_speech(self) -> bool:
        """True between a :class:`SpeechStart` and its :class:`SpeechEnd`."""
        return self._start is not None

    @property
    def audio_ms(self) -> float:
        """Audio processed since :meth:`reset`, in ms."""
        return self._ms(self._pos)

    def _ms(self, samples: int) -> float:
        return samples * 1000.0 / self.sample_rate

    def _samples(self, ms: float) -> int:
        return round(ms * self.sample_rate / 1000.0)

    # --- streaming -----------------------------------------------------------------------
    def process(self, frame: np.ndarray) -> list[EndpointEvent]:
        """Feed the next frame; return the decisions it caused (usually none).

        Args:
            frame: float32, shape ``(512,)``, 16 kHz mono, in [-1, 1].

        Returns:
            the events, usually none; at most a :class:`SpeechStart`, or a
            :class:`SpeechResumed`, or a :class:`SpeechTentativeEnd` followed by a
            :class:`SpeechEnd` or :class:`SpeechPause` (when their silences coincide).

        Raises:
            ValueError: a malformed frame (raised by the VAD; nothing is consumed).
        """
        p = self.vad.speech_probability(frame)
        self.last_probability = p
        self.probabilities.append(p)
        s = self._pos
        e = self._pos = s + len(frame)
        self._frames.append((s, frame.copy()))
        events: list[EndpointEvent] = []
        if self._start is None:
            if self._candidate is None:
                if p >= self.threshold:
                    self._candidate = s
            elif p < self.neg_threshold:
                self._candidate = None
            if self._candidate is not None and e - self._candidate >= self._min_speech:
                self._start, self._candidate = self._candidate, None
                start = max(self._start - self._pad, self._floor, 0)
                events.append(SpeechStart(self._ms(start), self._ms(e)))
        else:
            if p >= self.threshold:
                self._silence = None
                if self._paused or self._tentative:
                    self._paused = self._tentative = False
                    events.append(SpeechResumed(self._ms(e)))
            elif p < self.neg_threshold and self._silence is None:
                self._silence = s
            if self._silence is not None:
                silent = e - self._silence
                if self._speculate is not None and silent >= self._speculate and not self._tentative:
                    self._tentative = True
                    events.append(SpeechTentativeEnd(self._ms(min(self._silence + self._pad, e)), self._ms(e)))
                if self._max_silence is None:
                    if silent >= self._min_silence:
                        events.append(self._end(e))
                elif silent >= self._max_silence:
                    events.append(self._end(e))
                elif silent >= self._min_silence and not self._paused:
                    self._paused = True
                    events.append(SpeechPause(self._ms(min(self._silence + self._pad, e)), self._ms(e)))
        if self._start is None:
            self._trim()
        return events

    def _end(self, e: int) -> SpeechEnd:
        """Close the utterance at the current silence; ``e``: end of the current frame."""
        lo = max(self._start - self._pad, self._floor, 0)
        hi = min(self._silence + self._pad, e)
        self._utterance = self._slice(lo, hi)
        self._floor = hi
        self._start = self._silence = None
        self._paused = self._tentative = False
        return SpeechEnd(self._ms(hi), self._ms(e))

    @property
    def paused(self) -> bool:
        """A :class:`SpeechPause` is pending (neither confirmed, ended nor resumed)."""
        return self._paused

    def confirm_end(self) -> SpeechEnd:
        """End the turn at the pending pause (its audio ends at the pause's padded end;
        ``decided_ms`` is the audio time now).

        Raises:
            RuntimeError: no pause is pending.
        """
        if not self._paused:
            raise RuntimeError("confirm_end() needs a pending SpeechPause")
        end = self._end(self._pos)
        self._trim()
        return end

    def force_end(self) -> SpeechEnd | None:
        """Client-side endpointing: end the utterance in progress now. Its audio ends at the
        current silence's padded end, or at the audio processed if the user is still
        speaking; ``decided_ms`` is the audio time now. None outside confirmed speech."""
        if self._start is None:
            return None
        if self._silence is None:
            self._silence = self._pos
        end = self._end(self._pos)
        self._trim()
        return end

    def pending_audio(self) -> np.ndarray:
        """The current utterance so far, from its padded start to the audio processed
        (float32, 16 kHz mono): what a turn detector judges. Empty outside speech."""
        if self._start is None:
            return np.zeros(0, dtype=np.float32)
        return self._slice(max(self._start - self._pad, self._floor, 0), self._pos)

    def _trim(self) -> None:
        """Outside speech, keep only the audio a future SpeechStart's padding can reach."""
        keep_from = (self._candidate if self._candidate is not None else self._pos) - self._pad
        while self._frames and self._frames[0][0] + len(self._frames[0][1]) <= keep_from:
            self._frames.popleft()

    def _slice(self, lo: int, hi: int) -> np.ndarray:
        parts = [f[max(lo - s, 0):max(hi - s, 0)] for s, f in self._frames if s + len(f) > lo and s < hi]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def speech_so_far(self) -> np.ndarray:
        """The current utterance as it would end at the present silence: from its padded
        start to the padded end of speech (:attr:`SpeechTentativeEnd.audio_ms`), float32,
        16 kHz mono; what a speculative reply transcribes. Empty outside speech."""
        if self._start is None:
            return np.zeros(0, dtype=np.float32)
        hi = self._pos if self._silence is None else min(self._silence + self._pad, self._pos)
        return self._slice(max(self._start - self._pad, self._floor, 0), hi)

    def utterance_audio(self) -> np.ndarray:
        """The utterance that ended last: float32, 16 kHz mono, from the padded start
        (:attr:`SpeechStart.audio_ms`) to the padded end (:attr:`SpeechEnd.audio_ms`).
        Empty before the first :class:`SpeechEnd`."""
        return self._utterance
