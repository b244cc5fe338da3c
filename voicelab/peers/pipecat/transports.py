"""Pipecat transports over voicelab's virtual microphone and speaker, and the session clock.

Pipecat has no transport for an in-process microphone and speaker; these are the
smallest ones that keep the measurement honest:

- :class:`MicInputTransport` pushes each 32 ms microphone frame (16 kHz mono, int16
  little-endian, as a sound card would) the moment the virtual microphone captures it;
- :class:`SpeakerOutputTransport` plays every output chunk into voicelab's
  :class:`~voicelab.audio.speaker.VirtualSpeaker` and, like a sound card's blocking write,
  returns only when the speaker is about to need the next chunk (one chunk of buffer), so
  Pipecat's "bot speaking" frames follow the audio actually played;
- :class:`SessionPipecatClock` makes Pipecat's pipeline clock (observer timestamps) the
  session clock, in nanoseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
from pipecat.clocks.base_clock import BaseClock
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from voicelab.audio.speaker import VirtualSpeaker
from voicelab.clock import SessionClock
from voicelab.units import INPUT_RATE

PCM_SCALE = 32768.0
"""int16 full scale: float32 sample ``x`` is sent as ``round(x * 32767)``, received int16 ``n`` is ``n / 32768``."""


class SessionPipecatClock(BaseClock):
    """Pipecat's clock interface over the session clock: nanoseconds since session t = 0."""

    def __init__(self, clock: SessionClock) -> None:
        self._clock = clock

    def get_time(self) -> int:
        return int(self._clock.now_ms() * 1e6)

    def start(self) -> None:
        """Nothing to do: the session clock starts with the session."""


def to_pcm16(samples: np.ndarray) -> bytes:
    """float32 ``(n,)`` in [-1, 1] -> int16 little-endian PCM bytes (clipped)."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    """int16 little-endian PCM bytes -> float32 ``(n,)`` in [-1, 1).

    Raises:
        ValueError: an odd number of bytes.
    """
    if len(data) % 2:
        raise ValueError(f"int16 PCM needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM_SCALE


class MicInputTransport(BaseInputTransport):
    """Feeds the virtual microphone into a Pipecat pipeline (16 kHz mono int16)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(TransportParams(audio_in_enabled=True, audio_in_sample_rate=INPUT_RATE), **kwargs)
        self.ready = asyncio.Event()

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        self.ready.set()

    async def feed(self, samples: np.ndarray) -> None:
        """Push one microphone frame (float32 ``(n,)`` at 16 kHz) into the pipeline.

        Raises:
            RuntimeError: the pipeline has not started (see :attr:`ready`).
        """
        if not self.ready.is_set():
            raise RuntimeError("the Pipecat pipeline has not started: wait for MicInputTransport.ready")
        await self.push_audio_frame(InputAudioRawFrame(audio=to_pcm16(samples), sample_rate=INPUT_RATE,
                                                       num_channels=1))


class SpeakerOutputTransport(BaseOutputTransport):
    """Plays a Pipecat pipeline's audio on the virtual speaker, at the speaker's pace.

    ``turn_of()``: the voicelab turn a new reply belongs to (-1: the audio belongs to no live
    turn and is dropped); ``on_reply(turn, done)``: called
    when a reply's first chunk is queued, with the future the speaker resolves once the
    reply's last sample has played. A reply ends at Pipecat's ``BotStoppedSpeakingFrame``
    (:meth:`~voicelab.audio.speaker.VirtualSpeaker.close_response`) or is cut by an
    ``InterruptionFrame`` (:meth:`~voicelab.audio.speaker.VirtualSpeaker.stop`).
    """

    def __init__(self, speaker: VirtualSpeaker, clock: SessionClock, turn_of: Callable[[], int],
                 on_reply: Callable[[int, asyncio.Future], None], **kwargs) -> None:
        super().__init__(TransportParams(audio_out_enabled=True, audio_out_sample_rate=speaker.rate,
                                         audio_out_end_silence_secs=0), **kwargs)
        self._speaker = speaker
        self._clock = clock
        self._turn_of = turn_of
        self._on_reply = on_reply
        self._reply_turn: int | None = None
        self._buffered_until_ms = 0.0  # session time at which the queued audio runs out

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        audio = from_pcm16(frame.audio)
        if frame.num_channels != 1 or frame.sample_rate != self._speaker.rate:
            raise ValueError(f"expected mono {self._speaker.rate} Hz output, got {frame.num_channels} channel(s) "
                             f"at {frame.sample_rate} Hz")
        first = self._reply_turn is None
        if first:
            turn = self._turn_of()
            if turn < 0:
                return True  # late audio of a turn that is over: not played (see ``turn_of``)
            self._reply_turn = turn
            self._on_reply(turn, self._speaker.open_response(turn))
        self._speaker.enqueue(self._reply_turn, 0, audio, continued=not first)
        chunk_ms = len(audio) * 1000.0 / self._speaker.rate
        now = self._clock.now_ms()
        self._buffered_until_ms = max(self._buffered_until_ms, now) + chunk_ms
        await self._clock.sleep_until(self._buffered_until_ms - chunk_ms)  # one chunk stays buffered
        return True

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        if isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            self._end_reply(cut=False)
        await super().push_frame(frame, direction)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._end_reply(cut=True)

    def _end_reply(self, cut: bool) -> None:
        if self._reply_turn is None:
            return
        if cut:
            self._speaker.stop()
        else:
            self._speaker.close_response()
        self._reply_turn = None
        self._buffered_until_ms = 0.0
