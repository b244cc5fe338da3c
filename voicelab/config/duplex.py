"""Full-duplex settings: the echo path into the microphone and barge-in handling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from voicelab.config.base import Strict


class RoomConfig(Strict):
    """A shoebox room whose impulse response carries the loudspeaker to the microphone
    (pyroomacoustics' image source method; wall absorption from ``rt60_s`` by Sabine's
    formula, ``pyroomacoustics.inverse_sabine``). Positions are metres from a corner."""

    size_m: tuple[float, float, float] = Field((5.0, 4.0, 2.8), description="the room's [x, y, z] extent, m "
                                               "(length, width, height)")
    rt60_s: float = Field(0.35, gt=0.05, le=2.0, description="reverberation time (Sabine), s")
    speaker_m: tuple[float, float, float] = Field((2.0, 2.0, 1.0), description="the loudspeaker's [x, y, z], m; "
                                                  "strictly inside the room")
    mic_m: tuple[float, float, float] = Field((2.5, 2.2, 1.0), description="the microphone's [x, y, z], m; strictly "
                                              "inside the room, not at speaker_m")
    max_ms: float = Field(400.0, gt=0.0, le=2000.0, description="the impulse response is cut after this")

    @model_validator(mode="after")
    def _inside(self) -> RoomConfig:
        for name in ("speaker_m", "mic_m"):
            pos = getattr(self, name)
            if not all(0.0 < p < s for p, s in zip(pos, self.size_m)):
                raise ValueError(f"{name} {list(pos)} must lie inside the room {list(self.size_m)}")
        if self.speaker_m == self.mic_m:
            raise ValueError("speaker_m and mic_m must differ")
        return self


class EchoConfig(Strict):
    """The agent's own voice and background noise in the microphone (full-duplex studies).

    The played audio reaches the microphone ``delay_ms`` later (device latency), through a
    room impulse response (``room``: generated; ``rir_path``: a mono WAV, resampled to
    16 kHz; neither: a single tap) scaled to unit energy, then by ``gain_db``. Every
    setting, and the RIR's measured RT60, is logged in the trace
    (:class:`~voicelab.events.EchoPathConfigured`).
    """

    gain_db: float | None = Field(None, le=20.0, description="the echo's level relative to the played signal, dB "
                                  "(the RIR has unit energy), e.g. -20; null = no echo (no echo path at all)")
    delay_ms: float = Field(20.0, ge=0.0, le=1000.0, description="device latency: the played audio reaches the "
                            "microphone this much later, ms")
    room: RoomConfig | None = Field(None, description="a generated shoebox room for the impulse response; null = "
                                    "rir_path's WAV, or a single tap if neither is set")
    rir_path: str | None = Field(None, description="a mono WAV impulse response (any rate), instead of `room`")
    noise_snr_db: float | None = Field(None, description="white noise added to the microphone at this SNR, dB, "
                                       "against the clips' mean speech RMS (with or without echo); null = no noise")
    seed: int = Field(0, description="seed of the microphone noise and, drawn apart, of the AEC calibration noise")

    @model_validator(mode="after")
    def _one_rir(self) -> EchoConfig:
        if self.room is not None and self.rir_path is not None:
            raise ValueError("set `room` or `rir_path`, not both")
        return self


CALIBRATION_GAP_MS = 1000.0
"""Silence between the echo canceller's calibration noise and the first user clip: more than
the endpointer's silence, so anything the VAD made of the noise's residue has ended."""


class AECConfig(Strict):
    """Acoustic echo cancellation between the microphone and every consumer (endpointer,
    barge-in detector, STT), against the audio the agent actually played.

    ``kind: speex``: Speex's MDF adaptive filter (libspeexdsp through ``speexdsp-aec``)
    with ``tail_ms`` of echo path, on 16 ms frames; ``suppressor``: then Speex's
    preprocessor with the canceller's echo state (residual echo suppression; it also
    denoises, as the suppression runs in its noise-gain stage). The filter starts from
    zero in every session: ``calibration_ms`` of white noise played at the start lets it
    converge first (measured on bundled speech through the default room with noise at
    20 dB SNR: ERLE 1 dB in the first 0.5 s of a reply without calibration, 15 dB after 1 s
    of noise).
    """

    kind: Literal["none", "speex"] = Field(
        "none", description="none = the microphone reaches its consumers as it is (no calibration noise either); "
        "speex = Speex's MDF adaptive filter over tail_ms on 16 ms frames, then the suppressor if set")
    tail_ms: float = Field(300.0, ge=16.0, le=2000.0, description="echo path the filter covers, ms")
    suppressor: bool = Field(True, description="speex: residual echo suppression (speex_preprocess)")
    calibration_ms: float = Field(
        1000.0, ge=0.0, le=10_000.0, description="white noise the agent plays at session start so the filter "
        "converges before its first reply (a start-up sound); 0 = none. The first clip waits for it and "
        "1000 ms (CALIBRATION_GAP_MS) more")
    calibration_dbfs: float = Field(-20.0, le=0.0, description="the calibration noise's RMS, dB full scale")

    def quiet_until_ms(self) -> float:
        """When the calibration and the silence after it are over (0 without calibration), ms:
        the first user clip starts no earlier."""
        if self.kind == "none" or not self.calibration_ms:
            return 0.0
        return self.calibration_ms + CALIBRATION_GAP_MS


BACKCHANNELS = ("mm-hm", "mm-hmm", "mhm", "uh-huh", "yeah", "yep", "okay", "ok", "right", "yes", "sure")
"""Words that keep the floor with the speaker (listener feedback): never confirm a barge-in."""


class BargeInConfig(Strict):
    """Interruption handling while the agent speaks.

    The detector fires once frames at or above the threshold have lasted ``min_barge_in_ms``
    (``echo_guard_threshold``, if set, replaces ``threshold`` while agent audio plays).
    ``mode: cut`` stops and cancels the reply there. ``pause_confirm`` pauses it (or ducks it
    by ``duck_db``) at the next output frame; ``confirm_ms`` of speech after the detection,
    or ``min_words`` words that are not ``backchannels`` (nor, with ``ignore_own_words``,
    words of the reply itself) in an interim transcript of the barge-in audio (the
    session's STT), confirm it (then cut as above); unconfirmed
    ``resume_after_ms`` after the detection, playback resumes where it paused.
    """

    enabled: bool = Field(False, description="detect interruptions while the agent speaks; false = half duplex: an "
                          "utterance that ends while the agent is talking is ignored")
    vad_kind: Literal["silero", "energy", "webrtc"] | None = Field(
        None, description="detector VAD; None = the endpointing VAD's probabilities")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="speech probability (0..1) at or above which a "
                             "microphone frame counts towards a barge-in")
    echo_guard_threshold: float | None = Field(None, ge=0.0, le=1.0, description="replaces threshold while agent "
                                               "audio plays: a higher bar against its own echo; null = threshold")
    min_barge_in_ms: float = Field(200.0, ge=0.0, description="speech that fires the detector, ms, counted in 32 ms "
                                   "frames (at least one); any frame below the threshold restarts the count")
    mode: Literal["cut", "pause_confirm"] = Field(
        "cut", description="cut = stop playback at the next output frame and cancel the reply when the detector "
        "fires; pause_confirm = pause (or duck) it there and cut only once the barge-in is confirmed, else resume")
    confirm_ms: float = Field(500.0, gt=0.0, description="pause_confirm: speech after the detection that confirms")
    resume_after_ms: float = Field(1000.0, gt=0.0, description="pause_confirm: unconfirmed this long -> resume")
    duck_db: float | None = Field(None, gt=0.0, le=60.0, description="attenuation while unconfirmed; None = pause")
    min_words: int | None = Field(2, ge=1, description="non-backchannel words that confirm; None = no interim STT")
    backchannels: list[str] = Field(default_factory=lambda: list(BACKCHANNELS),
                                    description="words that confirm nothing")
    ignore_own_words: bool = Field(True, description="interim-transcript words that occur in the reply's text "
                                   "are its own echo heard back: they confirm nothing")

    @model_validator(mode="after")
    def _confirm_before_resume(self) -> BargeInConfig:
        if self.mode == "pause_confirm" and self.confirm_ms >= self.resume_after_ms:
            raise ValueError(f"confirm_ms ({self.confirm_ms:g}) must be below resume_after_ms "
                             f"({self.resume_after_ms:g}): the speech could never confirm in time")
        return self
