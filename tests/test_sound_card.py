"""The kernel-side sound card path (voicelab.audio.sound_card).

A real device is used when the machine has one; otherwise that test is skipped and says
why (CI machines have no sound card). The wiring tests replace the ``sounddevice`` module,
the hardware boundary, with a scripted one: PortAudio delivers known blocks on its own
thread, and the buffer must end up with exactly that audio at 16 kHz and fire ``on_stop``.
"""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pytest

from voicelab.audio.browser import MicBuffer
from voicelab.audio.load import AudioError
from voicelab.audio.sound_card import BLOCK_MS, SoundCardError, SoundCardMicrophone, play, probe_sound_card

RATE = 48_000


class _Status:
    def __init__(self, overflow: bool) -> None:
        self.input_overflow = overflow


def _fake_sounddevice(blocks: list[np.ndarray], *, default_input: bool = True, overflow_at: int = -1):
    """A ``sounddevice`` stand-in: one 48 kHz input device that plays ``blocks`` on start()."""
    sd = types.ModuleType("sounddevice")
    sd.opened, sd.played = [], []

    def query_devices(device=None, kind=None):
        if kind == "input" and not default_input:
            raise ValueError("No input device matching")
        return {"name": "fake card", "max_input_channels": 2, "max_output_channels": 2,
                "default_samplerate": float(RATE)}

    class InputStream:
        def __init__(self, *, samplerate, blocksize, device, channels, dtype, callback) -> None:
            sd.opened.append(dict(samplerate=samplerate, blocksize=blocksize, channels=channels, dtype=dtype))
            self.callback, self.thread = callback, None

        def start(self) -> None:
            def run() -> None:  # PortAudio calls back on its own thread
                for i, b in enumerate(blocks):
                    self.callback(b[:, None].astype(np.float32), len(b), None, _Status(i == overflow_at))
            self.thread = threading.Thread(target=run)
            self.thread.start()

        def stop(self) -> None:
            self.thread.join()

        def close(self) -> None:
            pass

    sd.query_devices, sd.InputStream = query_devices, InputStream
    sd.play = lambda data, samplerate, device=None, blocking=False: sd.played.append((data, samplerate))
    return sd


def test_records_into_the_buffer_and_fires_on_stop(monkeypatch):
    t = np.arange(RATE) / RATE  # 1 s of a 440 Hz tone in 85 ms blocks (the last one short)
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    block = int(RATE * BLOCK_MS / 1000)
    blocks = [tone[i:i + block] for i in range(0, len(tone), block)]
    sd = _fake_sounddevice(blocks, overflow_at=2)
    monkeypatch.setitem(sys.modules, "sounddevice", sd)

    buffer = MicBuffer()
    buffer.add(np.ones(100, np.float32), 16_000)  # left over from an earlier recording
    stopped: list[MicBuffer] = []
    buffer.on_stop.append(stopped.append)
    mic = SoundCardMicrophone(buffer)
    mic.start()
    assert mic.recording and buffer.recording
    mic.stop()

    assert sd.opened == [dict(samplerate=RATE, blocksize=block, channels=1, dtype="float32")]
    assert stopped == [buffer] and not mic.recording and not buffer.recording
    assert buffer.rate == RATE and buffer.messages == len(blocks) and mic.overflows == 1
    audio = buffer.audio()
    assert audio.dtype == np.float32 and len(audio) == 16_000  # 1 s at 16 kHz, old audio gone
    assert abs(float(np.sqrt(np.mean(audio[100:-100] ** 2))) - 0.3 / np.sqrt(2)) < 0.01
    mic.stop()  # idempotent: no second stop message
    assert stopped == [buffer]


def test_no_input_device_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice([], default_input=False))
    assert probe_sound_card("input").startswith("no input device")
    assert probe_sound_card("output") is None
    buffer = MicBuffer()
    with pytest.raises(SoundCardError, match="no input device"):
        SoundCardMicrophone(buffer).start()
    assert not buffer.recording


def test_play_checks_audio_and_uses_the_output_device(monkeypatch):
    sd = _fake_sounddevice([])
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    play(np.zeros(2400, np.float64), 24_000)
    assert len(sd.played) == 1 and sd.played[0][0].dtype == np.float32 and sd.played[0][1] == 24_000
    with pytest.raises(AudioError, match="finite mono float"):
        play(np.zeros((10, 2), np.float32), 24_000)
    with pytest.raises(AudioError, match="finite mono float"):
        play(np.array([0.0, np.nan], np.float32), 24_000)
    with pytest.raises(ValueError, match="kind"):
        probe_sound_card("speaker")


def test_missing_portaudio_is_reported_not_raised(monkeypatch):
    class _NoPortAudio:  # what importing sounddevice does without libportaudio2
        def find_module(self, *a):
            return None

        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return None

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    reason = probe_sound_card()
    assert "PortAudio" in reason and "libportaudio2" in reason


def test_real_sound_card_records():
    reason = probe_sound_card("input")
    if reason is not None:
        pytest.skip(f"no sound card on this machine: {reason}")
    buffer = MicBuffer()
    mic = SoundCardMicrophone(buffer)
    mic.start()
    threading.Event().wait(0.5)
    mic.stop()
    audio = buffer.audio()
    assert audio.dtype == np.float32 and 0.3 * 16_000 <= len(audio) <= 0.8 * 16_000
    assert np.all(np.isfinite(audio))


def test_notebook_controls_record_and_route_replies(monkeypatch):
    from types import SimpleNamespace

    import ipywidgets

    from voicelab.lab.widgets import sound_card_controls

    block = int(RATE * BLOCK_MS / 1000)
    sd = _fake_sounddevice([np.full(block, 0.1, np.float32)] * 4)
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    panel, buffer = SimpleNamespace(play_reply=None), MicBuffer()
    stopped: list[MicBuffer] = []
    buffer.on_stop.append(stopped.append)
    box = sound_card_controls(panel, buffer)
    toggle = box.children[0]
    assert isinstance(toggle, ipywidgets.ToggleButton)
    toggle.value = True
    toggle.value = False
    assert stopped == [buffer] and buffer.messages == 4
    assert len(buffer.audio()) == round(4 * block * 16_000 / RATE)
    panel.play_reply(np.zeros(160, np.float32), 16_000)
    assert sd.played[0][1] == 16_000

    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice([], default_input=False))
    line = sound_card_controls(SimpleNamespace(play_reply=None), MicBuffer())
    assert isinstance(line, ipywidgets.HTML) and "no input device" in line.value
