"""Full-duplex events: barge-in detection, pause / resume / confirm, and cancellation."""

from __future__ import annotations

from dataclasses import dataclass

from voicelab.events.base import Event


@dataclass(frozen=True)
class BargeInDetected(Event):
    """The barge-in detector fired while the agent's reply to ``turn`` was playing."""

    turn: int
    probability: float


@dataclass(frozen=True)
class PlaybackPaused(Event):
    """``barge_in.mode: pause_confirm``: playback paused after output sample ``sample_index`` - 1
    (``t_ms`` = its end; nothing queued is lost) or, with ``duck_db``, goes on that many dB down."""

    turn: int
    sample_index: int
    duck_db: float | None = None


@dataclass(frozen=True)
class PlaybackResumed(Event):
    """The pause (or duck) ended unconfirmed: playback goes on where it left off, at output sample ``sample_index``."""

    turn: int
    sample_index: int


@dataclass(frozen=True)
class BargeInTranscript(Event):
    """An interim transcript of the barge-in audio (``audio_ms`` long, asked at ``started_ms``)
    while the reply is paused; ``words``: how many of its words are not backchannels."""

    turn: int
    text: str
    words: int
    started_ms: float
    audio_ms: float


@dataclass(frozen=True)
class BargeInConfirmed(Event):
    """The paused reply's barge-in was confirmed ``by`` ``"duration"`` or ``"words"``: it is cut."""

    turn: int
    by: str


@dataclass(frozen=True)
class ResponseCancelled(Event):
    """The reply to ``turn`` was cut off: generation, pending TTS and queued audio dropped.

    ``played_text``: what the agent actually said (kept in the conversation history).
    """

    turn: int
    played_text: str
    generated_text: str


@dataclass(frozen=True)
class EchoPathConfigured(Event):
    """The session's echo path (``t_ms`` 0): ``kind`` ``tap`` / ``room`` / ``wav``, the echo's
    level (dB re the played signal) and delay, the RIR's length and measured RT60 (ms), the
    noise RMS (linear full scale) and the seed that draws it."""

    kind: str
    gain_db: float
    delay_ms: float
    rir_ms: float
    rt60_ms: float
    noise_rms: float
    seed: int


@dataclass(frozen=True)
class AECWindow(Event):
    """Echo canceller statistics over the microphone frames from ``start_ms`` to ``t_ms``:
    ``cpu_ms`` spent in the canceller; over the ``echo_only_frames`` among them (agent audio
    playing, no user clip in the microphone), the energies (sums of squared samples) of the
    microphone signal and of the canceller's output, whose ratio is the ERLE."""

    start_ms: float
    frames: int
    cpu_ms: float
    echo_only_frames: int
    mic_energy: float
    out_energy: float


@dataclass(frozen=True)
class AECCalibration(Event):
    """The echo canceller's calibration: white noise at ``rms_dbfs`` played from ``t_ms`` for
    ``duration_ms`` (drawn with ``seed``), so the filter converges before the first reply."""

    duration_ms: float
    rms_dbfs: float
    seed: int
