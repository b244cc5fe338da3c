"""The browser-microphone bridge: audio chunks sent by ``voicelab/lab/static/mic.js``.

:class:`MicBuffer` collects the PCM chunks a browser sends (float32 or int16 at a declared
rate) and converts them to 16 kHz mono float32 with
:func:`voicelab.audio.load.to_mono_float32`. It consumes the widget's custom messages
(:meth:`MicBuffer.handle_message`), so the same code serves the notebook widget
(:class:`voicelab.lab.widgets.MicrophoneWidget`) and the standalone page of the browser test.
It has no UI dependency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from voicelab.audio.clips import Clip
from voicelab.audio.load import AudioError, to_mono_float32
from voicelab.units import INPUT_RATE


class MicBuffer:
    """Audio received from a browser microphone, kept at the rate it was sent.

    Thread-safe: chunks may arrive on the kernel's comm thread while a notebook cell
    reads :meth:`audio`. A ``start`` message clears the buffer; a rate change within one
    recording raises :class:`AudioError`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self.rate: int | None = None
        self.recording = False
        self.messages = 0
        self.last_error: str | None = None
        self.on_stop: list[Callable[[MicBuffer], None]] = []

    def clear(self) -> None:
        """Drop everything held (``messages`` counts the chunks added since)."""
        with self._lock:
            self._chunks, self.rate, self.messages = [], None, 0

    def add(self, pcm: np.ndarray | bytes | memoryview, rate: int) -> None:
        """Append one chunk: a float32 (or int16) array, or raw little-endian float32 bytes.

        Raises:
            AudioError: ``rate`` differs from the rate of the chunks already held.
        """
        a = pcm if isinstance(pcm, np.ndarray) else np.frombuffer(bytes(pcm), dtype="<f4")
        rate = int(rate)
        with self._lock:
            if self.rate is not None and rate != self.rate:
                raise AudioError(f"microphone rate changed from {self.rate} to {rate} Hz mid-recording")
            self.rate = rate
            self._chunks.append(np.array(a, copy=True))
            self.messages += 1

    def load(self, audio: np.ndarray, rate: int = INPUT_RATE) -> None:
        """Replace the contents with ``audio`` (e.g. a bundled clip when there is no browser)."""
        self.clear()
        self.add(np.asarray(audio, dtype=np.float32), rate)

    def handle_message(self, content: dict, buffers: list | None = None) -> None:
        """Apply one message of ``mic.js`` (``start`` / ``chunk`` + buffers / ``stop`` / ``error``)."""
        kind = content.get("type")
        if kind == "start":
            self.clear()
            self.recording = True
            self.last_error = None
        elif kind == "chunk":
            for buf in buffers or []:
                self.add(buf, int(content["rate"]))
        elif kind == "stop":
            self.recording = False
            for callback in list(self.on_stop):
                callback(self)
        elif kind == "error":
            self.recording = False
            self.last_error = str(content.get("error"))

    @property
    def native_frames(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._chunks)

    @property
    def duration_s(self) -> float:
        """Seconds held (0 when empty)."""
        return self.native_frames / self.rate if self.rate else 0.0

    def audio(self, target_rate: int = INPUT_RATE) -> np.ndarray:
        """Everything held as mono float32 at ``target_rate`` (resampled once, as a whole).

        Raises:
            AudioError: nothing recorded yet, or unusable samples.
        """
        with self._lock:
            if not self._chunks or self.rate is None:
                raise AudioError("microphone: nothing recorded yet")
            raw, rate = np.concatenate(self._chunks), self.rate
        if raw.dtype.kind == "f":
            raw = np.clip(raw, -1.0, 1.0)  # browsers may overshoot full scale slightly
        return to_mono_float32(raw, rate, target_rate, source="microphone")

    def clip(self, name: str = "microphone", reference_text: str = "") -> Clip:
        """The recording as a :class:`~voicelab.audio.clips.Clip` (16 kHz)."""
        return Clip.from_array(name, self.audio(), reference_text)
