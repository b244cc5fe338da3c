"""A virtual speaker: plays agent audio at real-time pace on the session clock."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicelab.clock import SessionClock
from voicelab.events import PlaybackPaused, PlaybackResumed, PlaybackStall, PlaybackStarted, PlaybackStopped, Trace


@dataclass
class _Queued:
    turn: int
    request: int
    audio: np.ndarray
    ready_ms: float
    continued: bool = False  # the unplayed rest of a request cut by a pause


class VirtualSpeaker:
    """Consumes agent audio at its sample rate in fixed output frames, like a sound card.

    Responsibilities:

    1. play queued audio back to back at ``rate`` Hz; audio that arrives after the
       speaker ran dry starts at the next output-frame boundary (``frame_ms``, default
       10 ms = 240 samples at 24 kHz), as a sound card's period would;
    2. record the played audio at its session-clock position (sample ``n`` plays at
       ``n / rate`` s), so :meth:`timeline` is aligned with the input timeline;
    3. log ``PlaybackStarted`` per TTS request, ``PlaybackStall`` whenever the queue ran
       dry inside a response (underrun), and ``PlaybackStopped`` at a response's last sample;
    4. hold a response opened with ``held=True`` (a speculative reply): its audio queues
       but does not play until :meth:`release` (it then becomes playable at the release
       time) or is dropped by :meth:`stop`;
    5. :meth:`pause` at an output-frame boundary keeping everything unplayed, or duck
       (attenuate) from there on; :meth:`resume` continues with the next unplayed sample
       (``PlaybackPaused`` / ``PlaybackResumed``). Ducking is a gain over a span of the
       played timeline, applied by :meth:`timeline` and :meth:`excerpt` (the echo path).
    """

    def __init__(self, clock: SessionClock, trace: Trace, rate: int = 24_000,
                 frame_ms: float = 10.0) -> None:
        self._clock = clock
        self._trace = trace
        self.rate = rate
        self.frame_ms = frame_ms
        self.frame_samples = round(rate * frame_ms / 1000.0)
        if self.frame_samples < 1:
            raise ValueError(f"frame_ms={frame_ms} is shorter than one sample at {rate} Hz")
        self._queue: deque[_Queued] = deque()
        self._wake = asyncio.Event()
        self._cursor = 0  # sample index just after the last played sample
        self._turn: int | None = None
        self._response_closed = False
        self._played_in_response = False
        self._done: asyncio.Future | None = None
        self._closed = False
        self.held = False
        """The current response's audio is held back (see :meth:`open_response`)."""
        self.paused = False
        """Playback is paused (see :meth:`pause`); a ducked response is not paused."""
        self._duck: list | None = None  # the open gain span [start, end, gain] while ducked
        self._floor = 0  # sample where playback resumed (no stall is counted before it)
        self._request = -1  # the request of the last segment
        self.gains: list[list] = []
        """Ducked spans of the timeline: ``[start_sample, end_sample | None, linear_gain]``."""
        self.segments: list[tuple[int, np.ndarray]] = []
        self.on_play: Callable[[int, int, float], None] | None = None
        """Called as ``on_play(turn, request, t_ms)`` when a request's first sample plays."""
        self.on_segment: Callable[[int, int, int, np.ndarray], None] | None = None
        """Called as ``on_segment(turn, request, start_sample, audio)`` when queued reply audio
        starts playing (a network sink forwards it; a later stop or pause truncates it)."""

    # --- producer side ---------------------------------------------------------------
    def open_response(self, turn: int, held: bool = False) -> asyncio.Future:
        """Start a response; the returned future resolves when its last sample has played.

        ``held``: queue its audio without playing it until :meth:`release`.
        """
        self._turn = turn
        self.held = held
        self._response_closed = False
        self._played_in_response = False
        self.paused, self._duck, self._floor = False, None, 0
        self._done = asyncio.get_running_loop().create_future()
        return self._done

    def play_prompt(self, audio: np.ndarray) -> int:
        """Play float32 mono ``audio`` at ``rate`` Hz outside any response, from the next
        output frame (or after what is playing): a start-up sound such as the echo
        canceller's calibration noise. It is part of the played timeline (hence of the echo
        path) but of no reply: no playback events, no barge-in. Returns its first sample."""
        start = max(self._tick(None), self._cursor)
        self.segments.append((start, np.asarray(audio, dtype=np.float32)))
        self._cursor = start + len(audio)
        return start

    def enqueue(self, turn: int, request: int, audio: np.ndarray, continued: bool = False) -> None:
        """Queue float32 mono audio at ``rate`` Hz; it becomes playable now.

        ``continued``: the audio continues ``request`` (a sink that receives a request's
        audio in device-sized pieces): no second ``PlaybackStarted`` is logged for it.
        """
        if len(audio):
            self._queue.append(_Queued(turn, request, np.asarray(audio, dtype=np.float32),
                                       self._clock.now_ms(), continued))
            self._wake.set()

    def release(self) -> None:
        """Let a held response play: its queued audio becomes playable now."""
        now = self._clock.now_ms()
        for q in self._queue:
            q.ready_ms = max(q.ready_ms, now)
        self.held = False
        self._wake.set()

    @property
    def has_audio(self) -> bool:
        """Audio of the current response is queued (played or not)."""
        return bool(self._queue) or self._played_in_response

    def close_response(self) -> None:
        """No more audio will be queued for the current response."""
        self._response_closed = True
        self._wake.set()

    def close(self) -> None:
        """Stop :meth:`run` once the queue is empty."""
        self._closed = True
        self._wake.set()

    # --- the playback loop --------------------------------------------------------------
    def _sample_ms(self, sample_index: int) -> float:
        return sample_index * 1000.0 / self.rate

    def _tick(self, at_ms: float | None) -> int:
        """The first output-frame boundary at or after ``at_ms`` (default: now), as a sample index."""
        now = self._clock.now_ms() if at_ms is None else at_ms
        return math.ceil(now / self.frame_ms - 1e-9) * self.frame_samples

    def _end_duck(self, at: int, log: bool = True) -> None:
        if self._duck is not None:
            self._duck[1] = max(at, self._duck[0])
            self._duck = None
            if log:
                self._trace.append(PlaybackResumed(self._sample_ms(at), self._turn, at))

    def _finish_response(self) -> None:
        self._end_duck(self._cursor, log=False)  # a reply that ended ducked: the duck ends, unresolved
        if self._played_in_response:
            self._trace.append(PlaybackStopped(self._sample_ms(self._cursor), self._turn, self._cursor))
        if self._done is not None and not self._done.done():
            self._done.set_result(self._cursor)
        self._response_closed = False
        self._played_in_response = False

    def _start_sample(self, ready_ms: float) -> int:
        """Where audio that became playable at ``ready_ms`` starts.

        Right after the audio still playing, or, if the speaker had run dry, at the
        first frame boundary at or after ``ready_ms``.
        """
        if ready_ms <= self._sample_ms(self._cursor):
            return self._cursor
        tick = math.ceil(ready_ms / self.frame_ms - 1e-9)
        return max(tick * self.frame_samples, self._cursor)

    async def _sleep_until(self, t_ms: float) -> bool:
        """Sleep until ``t_ms`` unless woken first (new audio, pause, resume, stop): True if
        ``t_ms`` was reached, False if the caller must look at the queue again."""
        delay = t_ms - self._clock.now_ms()
        if delay <= 0:
            return True
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay / 1000.0)
        except TimeoutError:
            return True
        return False

    async def run(self) -> None:
        """Play until :meth:`close` is called and the queue is empty."""
        while True:
            if not self._queue or self.held or self.paused:
                if self._response_closed and not self._queue and not self.paused:
                    if await self._sleep_until(self._sample_ms(self._cursor)):
                        self._finish_response()
                    continue
                if self._closed and (not self._queue or self.paused):
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            q = self._queue[0]
            start = self._start_sample(q.ready_ms)
            if not await self._sleep_until(self._sample_ms(start)):
                continue  # woken: the queue or the state changed
            if not self._queue or self._queue[0] is not q or self.paused or self.held:
                continue  # stopped (barge-in) or paused while waiting
            ran_dry = max(self._cursor, self._floor)
            if self._played_in_response and start > ran_dry:
                self._trace.append(PlaybackStall(self._sample_ms(ran_dry), self._turn,
                                                 self._sample_ms(start - ran_dry)))
            if not q.continued:
                self._trace.append(PlaybackStarted(self._sample_ms(start), q.turn, q.request, start))
                if self.on_play is not None:
                    self.on_play(q.turn, q.request, self._sample_ms(start))
            self._played_in_response = True
            self._request = q.request
            self.segments.append((start, q.audio))
            if self.on_segment is not None:
                self.on_segment(q.turn, q.request, start, q.audio)
            self._cursor = start + len(q.audio)
            self._queue.popleft()

    @property
    def playing(self) -> bool:
        """True while audio of the current response is sounding (or about to)."""
        return self._played_in_response and not self.paused and (
            bool(self._queue) or self._sample_ms(self._cursor) > self._clock.now_ms())

    def pause(self, at_ms: float | None = None, duck_db: float | None = None) -> int:
        """Pause at the first output-frame boundary at or after ``at_ms`` (default: now), or
        at the end of the audio already sounding if that comes first; nothing is lost: the
        unplayed rest of the sounding request and the queue wait for :meth:`resume` (or are
        dropped by :meth:`stop`). ``duck_db``: keep playing, attenuated by that many dB, from
        the frame boundary on. Logs ``PlaybackPaused``; returns its sample index, or -1 if
        the response ends before then (its last audio is sounding): nothing to pause."""
        if self.paused or self._duck is not None:
            return self._cursor
        tick = self._tick(at_ms)
        if self._cursor <= tick and not self._queue and self._response_closed:
            return -1
        if duck_db is not None:
            at = tick
            self._duck = [tick, None, 10 ** (-duck_db / 20)]
            self.gains.append(self._duck)
        else:
            at = min(self._cursor, tick)
            if self.segments and self.segments[-1][0] + len(self.segments[-1][1]) > at:
                start, audio = self.segments.pop()
                if at > start:
                    self.segments.append((start, audio[: at - start]))
                self._queue.appendleft(_Queued(self._turn, self._request, audio[at - start:],
                                               self._sample_ms(at), continued=True))
            self._cursor = at
            self.paused = True
        self._trace.append(PlaybackPaused(self._sample_ms(at), self._turn, at, duck_db))
        self._wake.set()
        return at

    def resume(self, at_ms: float | None = None) -> int:
        """End a pause (or a duck) at the first output-frame boundary at or after ``at_ms``
        (default: now): the next sample played is the first one not played before the pause.
        Logs ``PlaybackResumed``; returns its sample index (-1 if nothing was paused)."""
        tick = self._tick(at_ms)
        if self._duck is not None:
            self._end_duck(tick)
            return tick
        if not self.paused:
            return -1
        at = self._floor = max(tick, self._cursor)
        for q in self._queue:
            q.ready_ms = max(q.ready_ms, self._sample_ms(at))
        self.paused = False
        self._trace.append(PlaybackResumed(self._sample_ms(at), self._turn, at))
        self._wake.set()
        return at

    def stop(self, at_ms: float | None = None) -> int:
        """Barge-in: stop at the first output-frame boundary at or after ``at_ms``
        (default: now) and drop everything queued.

        Returns the sample index of the last sample played + 1. Audio scheduled after
        that point is removed from the timeline; ``PlaybackStopped(interrupted=True)``
        is logged at the stop time and the response's future resolves.
        """
        stop_at = min(self._cursor, self._tick(at_ms))
        self._queue.clear()
        self.held = self.paused = False
        if self._duck is not None:
            self._duck[1], self._duck = stop_at, None
        kept = []
        for start, audio in self.segments:
            if start < stop_at:
                kept.append((start, audio[: stop_at - start]))
        self.segments = kept
        self._cursor = stop_at
        if self._played_in_response:
            self._trace.append(PlaybackStopped(self._sample_ms(stop_at), self._turn, stop_at, True))
        if self._done is not None and not self._done.done():
            self._done.set_result(stop_at)
        self._response_closed = False
        self._played_in_response = False
        self._wake.set()
        return stop_at

    def excerpt(self, start_ms: float, n: int, rate: int) -> np.ndarray:
        """``n`` samples at ``rate`` Hz of what was played from ``start_ms`` on (zeros
        where nothing played): the echo path. Linear interpolation from 24 kHz."""
        t = start_ms / 1000.0 + np.arange(n) / rate
        src = t * self.rate
        lo, hi = int(np.floor(src[0])), int(np.ceil(src[-1])) + 1
        seg = np.zeros(max(hi - lo, 1), dtype=np.float32)
        for s0, a in self.segments:
            a0, a1 = max(s0, lo), min(s0 + len(a), hi)
            if a0 < a1:
                seg[a0 - lo: a1 - lo] = a[a0 - s0: a1 - s0]
        self._apply_gains(seg, lo)
        return np.interp(src - lo, np.arange(len(seg)), seg).astype(np.float32)

    def timeline(self, total_samples: int | None = None) -> np.ndarray:
        """Everything played, float32 at ``rate`` Hz; sample ``n`` is at ``n / rate`` s."""
        end = max((s + len(a) for s, a in self.segments), default=0)
        out = np.zeros(max(end, total_samples or 0), dtype=np.float32)
        for s, a in self.segments:
            out[s: s + len(a)] = a
        return self._apply_gains(out, 0)

    def _apply_gains(self, seg: np.ndarray, lo: int) -> np.ndarray:
        """Attenuate the ducked spans of ``seg`` (timeline samples ``lo..lo+len(seg)``) in place."""
        for g0, g1, gain in self.gains:
            a, b = max(g0, lo) - lo, (len(seg) if g1 is None else min(g1 - lo, len(seg)))
            if a < b:
                seg[a:b] *= gain
        return seg
