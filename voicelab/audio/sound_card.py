"""The kernel machine's own sound card (PortAudio through ``sounddevice``).

For notebooks run where the kernel has a local audio device: :class:`SoundCardMicrophone`
streams the default (or a chosen) input device into the same
:class:`voicelab.audio.browser.MicBuffer` the browser widget fills, with the same
``start`` / ``chunk`` / ``stop`` messages, so a :class:`voicelab.lab.widgets.TurnPanel` answers it
unchanged; :func:`play` sends a reply to the output device.

``sounddevice`` needs the PortAudio shared library (Debian: ``apt install libportaudio2``)
and a device; :func:`probe_sound_card` says which is missing instead of raising.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from voicelab.audio.browser import MicBuffer
from voicelab.audio.load import AudioError

BLOCK_MS = 85.0
"""Capture block length in ms (about the browser widget's ~85 ms chunks)."""


class SoundCardError(AudioError):
    """The sound card cannot be used (no PortAudio, no device, or the stream failed)."""


def _sounddevice() -> Any:
    """Import ``sounddevice``; raises :class:`SoundCardError` saying what is missing."""
    try:
        import sounddevice
    except ImportError as err:
        raise SoundCardError(f"sounddevice is not installed ({err})") from err
    except OSError as err:  # raised at import when the PortAudio library is missing
        raise SoundCardError(f"sounddevice cannot load PortAudio ({err}); Debian: apt install libportaudio2") from err
    return sounddevice


def probe_sound_card(kind: str = "input", device: int | str | None = None) -> str | None:
    """Why the sound card cannot be used for ``kind`` (``"input"`` or ``"output"``), or None.

    Never raises: returns a one-line reason (no sounddevice, no PortAudio, no such or no
    default device, a device without ``kind`` channels).
    """
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', not {kind!r}")
    try:
        sd = _sounddevice()
    except SoundCardError as err:
        return str(err)
    try:
        info = sd.query_devices(device, kind=kind)
    except Exception as err:  # noqa: BLE001 - sounddevice.PortAudioError / ValueError: no (default) device
        return f"no {kind} device: {err}"
    if int(info.get(f"max_{kind}_channels", 0)) < 1:
        return f"device {info.get('name')!r} has no {kind} channels"
    return None


class SoundCardMicrophone:
    """Record from a local input device into a :class:`MicBuffer`, between start and stop.

    Captures mono float32 at the device's default sample rate (the buffer resamples to
    16 kHz on read) in blocks of :data:`BLOCK_MS`. ``overflows`` counts blocks PortAudio
    reported as overflowed (samples lost).

    Args:
        buffer: where the audio goes (e.g. ``MicrophoneWidget().buffer``); its ``on_stop``
            callbacks run on :meth:`stop`, in the caller's thread.
        device: PortAudio device index or name substring; None = the default input.
    """

    def __init__(self, buffer: MicBuffer, device: int | str | None = None) -> None:
        self.buffer, self.device = buffer, device
        self.overflows = 0
        self._stream = None
        self._lock = threading.Lock()

    @property
    def recording(self) -> bool:
        return self._stream is not None

    def start(self) -> None:
        """Open the input stream and start recording (clears the buffer).

        Raises:
            SoundCardError: no PortAudio or no usable input device, or the stream failed to open.
        """
        if self._stream is not None:
            return
        reason = probe_sound_card("input", self.device)
        if reason is not None:
            raise SoundCardError(reason)
        sd = _sounddevice()
        rate = int(sd.query_devices(self.device, kind="input")["default_samplerate"])

        def callback(indata, frames, time_info, status) -> None:  # PortAudio's thread
            if status.input_overflow:
                self.overflows += 1
            self.buffer.handle_message({"type": "chunk", "rate": rate}, [indata[:, 0]])  # MicBuffer.add copies

        try:
            stream = sd.InputStream(samplerate=rate, blocksize=int(rate * BLOCK_MS / 1000), device=self.device,
                                    channels=1, dtype="float32", callback=callback)
            self.buffer.handle_message({"type": "start", "rate": rate})
            stream.start()
        except Exception as err:
            raise SoundCardError(f"could not open the input device: {err}") from err
        with self._lock:
            self._stream = stream

    def stop(self) -> None:
        """Stop recording; then the buffer's ``on_stop`` callbacks run (e.g. the agent replies)."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.stop()
        stream.close()
        self.buffer.handle_message({"type": "stop"})


def play(audio: np.ndarray, sample_rate: int, device: int | str | None = None, *, blocking: bool = False) -> None:
    """Play mono float32 ``audio`` at ``sample_rate`` Hz on a local output device.

    Raises:
        SoundCardError: no PortAudio or no usable output device.
        AudioError: ``audio`` is not a finite 1-D float array.
    """
    a = np.asarray(audio)
    if a.ndim != 1 or a.dtype.kind != "f" or not np.all(np.isfinite(a)):
        raise AudioError(f"play() needs finite mono float audio, got {a.dtype} with shape {a.shape}")
    reason = probe_sound_card("output", device)
    if reason is not None:
        raise SoundCardError(reason)
    _sounddevice().play(a.astype(np.float32), int(sample_rate), device=device, blocking=blocking)


__all__ = ["BLOCK_MS", "SoundCardError", "SoundCardMicrophone", "play", "probe_sound_card"]
