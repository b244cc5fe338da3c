"""The echo path: what the microphone hears of the agent's own played audio.

Loudspeaker -> room -> microphone is modelled as a linear time-invariant path: a delay
(device latency), a room impulse response (RIR) scaled to unit energy, and a gain, so
``echo.gain_db`` keeps one meaning with or without a room: the echo's power relative to
the played signal's (exact in expectation for white signals; bundled speech through the
default room at -20 dB measured -20.0 and -20.5 dB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import oaconvolve

from voicelab.config import EchoConfig, RoomConfig
from voicelab.units import INPUT_RATE

RIR_RATE = INPUT_RATE
"""The microphone's rate, Hz: every RIR is generated or resampled to it."""


def room_impulse_response(room: RoomConfig, rate: int = RIR_RATE) -> np.ndarray:
    """The loudspeaker-to-microphone impulse response of a shoebox room, float64 ``(n,)`` at ``rate``.

    pyroomacoustics' image source method (deterministic: no randomised images), with one
    wall material whose energy absorption and the reflection order come from the target
    RT60 by Sabine's formula (``pyroomacoustics.inverse_sabine``); cut after
    ``room.max_ms``. Not normalised.

    Raises:
        ValueError: no absorption reaches ``room.rt60_s`` in a room this size.
    """
    import pyroomacoustics as pra

    try:
        absorption, max_order = pra.inverse_sabine(room.rt60_s, list(room.size_m))
    except ValueError as err:
        raise ValueError(f"echo.room: RT60 {room.rt60_s} s is out of reach in a room of "
                         f"{list(room.size_m)} m ({err})") from None
    shoebox = pra.ShoeBox(list(room.size_m), fs=rate, materials=pra.Material(absorption), max_order=max_order)
    shoebox.add_source(list(room.speaker_m))
    shoebox.add_microphone(list(room.mic_m))
    shoebox.compute_rir()
    return np.asarray(shoebox.rir[0][0], dtype=np.float64)[: int(round(room.max_ms * rate / 1000))]


def load_impulse_response(path: str | Path, rate: int = RIR_RATE) -> np.ndarray:
    """A measured RIR from a mono audio file (any rate soundfile reads), float64 ``(n,)`` at ``rate``
    (soxr, HQ).

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable, not mono, empty, silent or
        not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"echo.rir_path: no such file: {path}")
    try:
        data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"echo.rir_path: {path} is not a readable audio file ({err})") from None
    if data.shape[1] != 1:
        raise ValueError(f"echo.rir_path: {path} has {data.shape[1]} channels; an impulse response must be mono")
    rir = data[:, 0]
    if not len(rir) or not np.isfinite(rir).all() or not np.any(rir):
        raise ValueError(f"echo.rir_path: {path} is empty, silent or holds NaN/inf samples")
    return soxr.resample(rir, sr, rate, quality="HQ") if sr != rate else rir


def rt60_ms(rir: np.ndarray, rate: int = RIR_RATE) -> float:
    """RT60 of ``rir`` in ms, from the Schroeder decay extrapolated from its first 30 dB
    (``pyroomacoustics.experimental.measure_rt60``); NaN if it decays less than that."""
    import pyroomacoustics as pra

    try:
        return float(pra.experimental.measure_rt60(rir, fs=rate, decay_db=30)) * 1000.0
    except (ValueError, IndexError):
        return float("nan")


def played_from_array(signal: np.ndarray, rate: int = RIR_RATE) -> Callable[[float, int, int], np.ndarray]:
    """A ``played(start_ms, n, rate)`` source (what :class:`EchoPath` reads) over a recorded
    ``signal`` at ``rate`` Hz, t = 0 at its first sample, zeros outside it: to send a known
    signal through an echo path without a session (benchmarks, tests).

    Raises:
        ValueError: when called for another rate than ``rate``.
    """
    signal = np.asarray(signal, dtype=np.float32)

    def played(start_ms: float, n: int, at_rate: int) -> np.ndarray:
        if at_rate != rate:
            raise ValueError(f"this source holds {rate} Hz audio, asked for {at_rate} Hz")
        i0 = int(round(start_ms * rate / 1000))
        out = np.zeros(n, dtype=np.float32)
        a, b = max(i0, 0), min(i0 + n, len(signal))
        if a < b:
            out[a - i0: b - i0] = signal[a:b]
        return out
    return played


@dataclass(frozen=True)
class EchoPathInfo:
    """What the trace records of an echo path: ``kind`` is ``tap`` (gain and delay only),
    ``room`` or ``wav``; ``rir_ms`` the RIR length; ``rt60_ms`` its measured RT60."""

    kind: str
    gain_db: float
    delay_ms: float
    rir_ms: float
    rt60_ms: float


class EchoPath:
    """The echo of the played audio in each microphone frame.

    ``played(start_ms, n, rate)`` gives ``n`` samples at ``rate`` of what the speaker played
    from ``start_ms`` on (zeros where nothing played), e.g.
    :meth:`~voicelab.audio.speaker.VirtualSpeaker.excerpt`. Calling the path with a frame's
    ``(start_ms, n)`` returns float32 ``(n,)`` at 16 kHz: ``gain * (rir * played)(t - delay)``,
    computed from the played timeline (the last ``len(rir) - 1`` samples before the frame
    feed the reverberant tail), so a reply cut off stops feeding the echo where its audio
    stopped and the tail rings out.
    """

    def __init__(self, played: Callable[[float, int, int], np.ndarray], rir: np.ndarray, gain: float,
                 delay_ms: float, rate: int = RIR_RATE) -> None:
        energy = float(np.sum(np.square(rir)))
        if not np.isfinite(energy) or energy <= 0.0:
            raise ValueError("the echo path's impulse response is silent or not finite")
        self.rir = (rir / np.sqrt(energy)).astype(np.float64)
        self.gain, self.delay_ms, self.rate = gain, delay_ms, rate
        self._played = played

    def __call__(self, start_ms: float, n: int) -> np.ndarray:
        history = len(self.rir) - 1
        x = self._played(start_ms - self.delay_ms - history * 1000.0 / self.rate, n + history, self.rate)
        if not np.any(x):
            return np.zeros(n, dtype=np.float32)
        if history == 0:
            return (self.gain * self.rir[0] * x).astype(np.float32)
        return (self.gain * oaconvolve(x.astype(np.float64), self.rir, mode="valid")).astype(np.float32)


def make_echo_path(cfg: EchoConfig, played: Callable[[float, int, int], np.ndarray]
                   ) -> tuple[EchoPath | None, EchoPathInfo | None]:
    """The echo path ``cfg`` describes over ``played``, and its trace record; ``(None, None)``
    when ``cfg.gain_db`` is None (no echo).

    Raises:
        ValueError / FileNotFoundError: see :func:`room_impulse_response` and
        :func:`load_impulse_response`.
    """
    if cfg.gain_db is None:
        return None, None
    if cfg.room is not None:
        kind, rir = "room", room_impulse_response(cfg.room)
    elif cfg.rir_path is not None:
        kind, rir = "wav", load_impulse_response(cfg.rir_path)
    else:
        kind, rir = "tap", np.ones(1)
    path = EchoPath(played, rir, 10 ** (cfg.gain_db / 20), cfg.delay_ms)
    rt60 = rt60_ms(path.rir) if kind != "tap" else 0.0
    return path, EchoPathInfo(kind, cfg.gain_db, cfg.delay_ms, len(rir) * 1000.0 / RIR_RATE, rt60)
