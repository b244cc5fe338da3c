"""Hands-free talk in a notebook: the browser microphone streams, the kernel's VAD ends turns.

1. :class:`LiveLink`: one live session (:meth:`voicelab.session.VoiceAgent.run_live`) on the
   loop it is started on: 16 kHz audio in (:meth:`LiveLink.push`), each reply segment out to
   ``send`` as it starts to play, a ``flush`` when the agent stops (barge-in) or pauses, and a
   :class:`TurnReadout` per turn, all from :mod:`voicelab.live`'s updates (the same ones
   ``voicelab serve`` encodes for its clients). No threads, no widgets: tested in virtual time.
2. :class:`HandsFreeAgent`: the notebook driver: a :class:`~voicelab.lab.widgets.MicrophoneWidget`
   in hands-free mode, a loop thread running a :class:`LiveLink` per live period, and streaming
   resampling (soxr) of the browser's rate to 16 kHz.

Why a loop thread of its own, not the kernel's: the session paces speaker and microphone on
its loop's clock, and the kernel's loop halts while any cell runs (a push-to-talk turn, the
quick-mode :meth:`HandsFreeAgent.replay`), which would stall playback and count the stall as
latency; ipykernel's loop also differs between versions (tornado in 6, anyio in 7). Comm
messages arrive on the kernel's main thread (only while it is idle: during a cell the audio
waits) and go over with ``call_soon_threadsafe``; replies leave the loop thread by
``widget.send`` and trait updates, which ipykernel sends through its IOPub thread (thread-safe).

To the browser (anywidget custom messages, played by ``mic.js`` with the shared reply player,
``voicelab/live/static/player.js``): ``{"type": "audio", "turn", "request", "rate",
"start_sample"}`` + one buffer of float32 little-endian mono PCM at ``rate`` Hz (24 kHz for
Kokoro); ``{"type": "flush", "turn", "sample_index"}``: stop all scheduled audio.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets
import numpy as np
import soxr

from voicelab.audio.stream_mic import StreamMicrophone
from voicelab.config import ExperimentConfig
from voicelab.lab.widgets import MicrophoneWidget
from voicelab.live import LiveTranslator
from voicelab.live.updates import PlaybackCut, ReplyAudio, ReplyDiscarded, ReplyText, Transcript, TurnEnded, Update
from voicelab.session import SessionResult, Stages, VoiceAgent
from voicelab.session.live_run import LiveRun
from voicelab.units import INPUT_RATE

Send = Callable[[dict, list[bytes]], None]  # send(content, buffers): a message to the browser (widget.send)


@dataclass
class TurnReadout:
    """What the user sees of one turn: ``voice_to_voice_ms`` (from the endpointer's estimate
    of the speech end, see :class:`~voicelab.session.live_user.LiveUser`) is NaN until ``done``."""

    turn: int
    heard: str = ""
    reply: str = ""
    voice_to_voice_ms: float = math.nan
    interrupted: bool = False
    done: bool = False

    def latency(self) -> str:
        """``voice-to-voice N ms`` (``-`` when not measured), ``(interrupted)`` if it was cut."""
        v2v = f"{self.voice_to_voice_ms:.0f}" if math.isfinite(self.voice_to_voice_ms) else "-"
        return f"voice-to-voice {v2v} ms" + (" (interrupted)" if self.interrupted else "")

    def text(self) -> str:
        """Three lines: what was heard, the reply, and its latency (``...`` while it runs)."""
        return f"you: {self.heard}\nagent: {self.reply.strip()}\n{self.latency() if self.done else '...'}"


class LiveLink:
    """One live session on the running event loop, its reply audio streamed to ``send``.

    1. :meth:`start` a :class:`~voicelab.session.VoiceAgent` on a :class:`StreamMicrophone`
       fed by :meth:`push` (t = 0 is the first pushed sample); :meth:`stop` ends it;
    2. send each reply segment when the virtual speaker starts playing it (kept in
       :attr:`segments`), and a ``flush`` (counted in :attr:`flushes`) when playback is cut
       or paused with audio sent since the last one: the browser drops what it scheduled;
    3. keep :attr:`turns` up to date (``on_update(readout)`` on each change); at a turn's end
       its metrics come from its own events and the next turn's (a barge-in on it), not from
       the whole trace.

    What to send and when comes from :class:`~voicelab.live.LiveTranslator` (its updates, the
    ones ``voicelab serve`` encodes as protocol messages); this class encodes them as widget
    messages and readouts. ``config.barge_in.min_barge_in_ms`` sets the turn meter's barge-in
    threshold.

    Every method runs on the loop's thread.
    """

    def __init__(self, config: ExperimentConfig, stages: Stages, send: Send,
                 on_update: Callable[[TurnReadout], None] | None = None) -> None:
        self.config, self.stages = config, stages
        self._send, self._on_update = send, on_update
        self.segments: list[tuple[int, int, int, np.ndarray]] = []  # sent: (turn, request, start, audio)
        self.flushes = 0
        self.turns: dict[int, TurnReadout] = {}
        self.result: SessionResult | None = None
        self._translator = LiveTranslator(self._apply, config.barge_in.min_barge_in_ms)
        self._live: LiveRun | None = None
        self._closed = False

    def start(self) -> None:
        """Start the session (its clock starts at the first :meth:`push`); RuntimeError if started."""
        if self._live is not None:
            raise RuntimeError("the live session has already started")
        self._live = LiveRun(VoiceAgent(self.config, self.stages), StreamMicrophone(), self._on_start)

    def push(self, samples: np.ndarray) -> None:
        """Append float32 mono audio at 16 kHz (dropped once :meth:`stop` was called)."""
        if self._live is not None and not self._closed:
            self._live.mic.push(samples)

    async def stop(self) -> SessionResult | None:
        """End the session (the reply in flight is cancelled); its result (None: never started).

        Raises:
            Exception: whatever made the session fail."""
        if self._live is None or self._closed:
            return self.result
        self._closed = True
        self.result = await self._live.stop()
        return self.result

    def _on_start(self, user, ctx) -> None:
        self._translator.attach(ctx)

    def _apply(self, u: Update) -> None:
        """One update of the session -> a message to the browser and/or a readout change."""
        match u:
            case ReplyAudio():
                self.segments.append((u.turn, u.request, u.start_sample, u.audio))
                self._send({"type": "audio", "turn": u.turn, "request": u.request, "rate": u.rate,
                            "start_sample": u.start_sample}, [np.ascontiguousarray(u.audio, dtype="<f4").tobytes()])
            case PlaybackCut(audio_sent=True):  # a stop after a pause has nothing more to flush
                self.flushes += 1
                self._send({"type": "flush", "turn": u.turn, "sample_index": u.sample_index}, [])
            case Transcript():
                self._update(u.turn, heard=u.text)
            case ReplyText():
                self._update(u.turn, reply=self.turns.get(u.turn, TurnReadout(u.turn)).reply + u.text)
            case ReplyDiscarded():
                self._update(u.turn, reply="")
            case TurnEnded():
                self._complete(u)

    def _update(self, turn: int, **fields) -> None:
        r = self.turns.setdefault(turn, TurnReadout(turn))
        for k, v in fields.items():
            setattr(r, k, v)
        if self._on_update is not None:
            self._on_update(r)

    def _complete(self, u: TurnEnded) -> None:
        fields: dict = {"done": True, "interrupted": u.interrupted}
        if u.row is not None:
            fields.update(heard=str(u.row["transcript"]), reply=str(u.row["response_text"]),
                          voice_to_voice_ms=float(u.row["voice_to_voice_latency_ms"]))
        self._update(u.turn, **fields)


class HandsFreeAgent:
    """The notebook's hands-free agent: a microphone widget in hands-free mode and its live sessions.

    Switching the widget live (its button, or ``mic.recording = True`` from the kernel) starts
    a session (a new conversation each time); its audio chunks (float32 at the browser's rate,
    usually 48 kHz) are resampled to 16 kHz as they arrive and pushed into it; switching live
    off ends it. Replies stream back and play as they are generated; speaking over one
    interrupts it (with ``barge_in.enabled`` in ``config``). :attr:`turns` holds every finished
    turn's readout, :attr:`sessions` every ended session's :class:`~voicelab.session.SessionResult`.

    Args: ``config`` (its ``vad`` builds each session's endpointer), ``stages`` (loaded models,
    :func:`voicelab.stages.load_stages`), ``mic`` (default: a new widget; set to hands-free).
    """

    def __init__(self, config: ExperimentConfig, stages: Stages, mic=None) -> None:
        from voicelab.stages import with_config_endpointer  # heavy: the session and VADs

        self.config, self.stages = config, with_config_endpointer(stages, config)
        self.mic = mic if mic is not None else MicrophoneWidget()
        self.mic.mode = "hands-free"
        self.mic.on_stream.append(self.handle_message)
        self.turns: list[TurnReadout] = []
        self.sessions: list[SessionResult] = []
        self.link: LiveLink | None = None
        """The current (or last) live session."""
        self._live, self._resampler, self._rate = False, None, 0
        self._stopped: concurrent.futures.Future = concurrent.futures.Future()  # of the last stop
        self._stopped.set_result(None)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="voicelab-live", daemon=True)
        self._thread.start()
        self.log = ipywidgets.HTML("")
        self.widget = ipywidgets.VBox([self.mic, self.log])

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def handle_message(self, content: dict, buffers: list | None = None) -> None:
        """Apply one ``mic.js`` message: ``start`` (go live), ``chunk`` + PCM buffers, ``stop`` / ``error``."""
        kind = content.get("type")
        if kind == "start":
            self.start()
        elif kind == "chunk" and self._live:  # (audio still in flight after a stop is dropped)
            for buf in buffers or []:
                self.feed(np.frombuffer(bytes(buf), dtype="<f4"), int(content["rate"]))
        elif kind in ("stop", "error"):
            self.stop()

    def start(self) -> None:
        """Start a live session (nothing happens if one runs)."""
        if self._live:
            return
        self._live, self._resampler, self._rate = True, None, 0
        self.link = LiveLink(self.config, self.stages, self.mic.send, self._show)
        self._loop.call_soon_threadsafe(self.link.start)

    def feed(self, pcm: np.ndarray, rate: int) -> None:
        """Push float32 mono ``pcm`` at ``rate`` Hz into the live session (resampled to 16 kHz).

        Raises:
            RuntimeError: not live."""
        if not self._live:
            raise RuntimeError("not live: start() first")
        if rate != self._rate:
            self._rate = rate
            self._resampler = None if rate == INPUT_RATE else soxr.ResampleStream(rate, INPUT_RATE, 1, dtype="float32")
        x = np.clip(np.asarray(pcm, dtype=np.float32), -1.0, 1.0)  # browsers may overshoot slightly
        y = x if self._resampler is None else self._resampler.resample_chunk(x)
        if len(y):
            self._loop.call_soon_threadsafe(self.link.push, y)

    def stop(self) -> concurrent.futures.Future:
        """End the live session (and the browser's capture) without waiting. Returns a future of
        the last session's result (None if there was none); it raises what made the session fail."""
        if self._live:
            self._live = self.mic.recording = False
            self._stopped = asyncio.run_coroutine_threadsafe(self.link.stop(), self._loop)
            self._stopped.add_done_callback(self._ended)
        return self._stopped

    def _ended(self, future: concurrent.futures.Future) -> None:
        if future.exception() is not None:
            self.mic.message = f"the live session failed: {future.exception()!r}"
        else:
            self.sessions.append(future.result())

    def close(self) -> None:
        """End any live session and the loop thread."""
        self.stop().result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _show(self, r: TurnReadout) -> None:
        """On the loop thread: the turn in progress under the button, finished turns in the log."""
        self.mic.message = r.text()
        if r.done:
            self.turns.append(r)
            self.log.value = "<br>".join(html.escape(f"turn {t.turn}: {t.heard!r} -> {t.reply.strip()!r}, "
                                                     + t.latency()) for t in self.turns[-10:])

    def replay(self, audio: np.ndarray, rate: int = INPUT_RATE, *, turns: int = 1, max_silence_s: float = 60.0,
               packet_s: float = 0.085) -> SessionResult | None:
        """Play the browser's part with ``audio`` (float32 mono at ``rate`` Hz) through the widget's
        message path: ``start``, ``packet_s`` chunks at real-time pace, silence until ``turns``
        more turns have ended (or ``max_silence_s``), ``stop``. Blocks; returns the session's result."""
        n, first = max(1, round(packet_s * rate)), len(self.turns)
        self.mic.receive({"type": "start", "rate": rate}, [])
        t0, k = time.monotonic(), 0
        silence_end = len(audio) + max_silence_s * rate
        while k < len(audio) or (len(self.turns) - first < turns and k < silence_end):
            chunk = audio[k: k + n] if k < len(audio) else np.zeros(n, np.float32)
            k += n
            time.sleep(max(0.0, t0 + k / rate - time.monotonic()))
            self.mic.receive({"type": "chunk", "rate": rate}, [np.asarray(chunk, "<f4").tobytes()])
        self.mic.receive({"type": "stop", "rate": rate, "frames": k}, [])
        return self.stop().result(timeout=60)


__all__ = ["HandsFreeAgent", "LiveLink", "Send", "TurnReadout"]
