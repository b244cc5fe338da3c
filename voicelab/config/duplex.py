"""Full-duplex settings: the echo path into the microphone and barge-in handling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from voicelab.config.base import Strict


class EchoConfig(Strict):
    """Acoustic echo and noise mixed into the microphone (full-duplex studies).

    ``gain_db``: level of the agent's played audio in the mic relative to the
    played signal (e.g. -20); None = no echo. ``noise_snr_db``: white noise at this
    SNR against the clip's speech RMS; None = no noise.
    """

    gain_db: float | None = Field(None, le=20.0)
    delay_ms: float = Field(20.0, ge=0.0, le=1000.0)
    noise_snr_db: float | None = None
    seed: int = 0


BACKCHANNELS = ("mm-hm", "mm-hmm", "mhm", "uh-huh", "yeah", "yep", "okay", "ok", "right", "yes", "sure")
"""Words that keep the floor with the speaker (listener feedback): never confirm a barge-in."""


class BargeInConfig(Strict):
    """Interruption handling while the agent speaks.

    The detector fires once frames at or above the threshold have lasted ``min_barge_in_ms``
    (``echo_guard_threshold``, if set, replaces ``threshold`` while agent audio plays).
    ``mode: cut`` stops and cancels the reply there. ``pause_confirm`` pauses it (or ducks it
    by ``duck_db``) at the next output frame; ``confirm_ms`` of speech after the detection,
    or ``min_words`` words that are not ``backchannels`` in an interim transcript of the
    barge-in audio (the session's STT), confirm it (then cut as above); unconfirmed
    ``resume_after_ms`` after the detection, playback resumes where it paused.
    """

    enabled: bool = False
    vad_kind: Literal["silero", "energy", "webrtc"] | None = Field(
        None, description="detector VAD; None = the endpointing VAD's probabilities")
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    echo_guard_threshold: float | None = Field(None, ge=0.0, le=1.0)
    min_barge_in_ms: float = Field(200.0, ge=0.0)
    mode: Literal["cut", "pause_confirm"] = "cut"
    confirm_ms: float = Field(500.0, gt=0.0, description="pause_confirm: speech after the detection that confirms")
    resume_after_ms: float = Field(1000.0, gt=0.0, description="pause_confirm: unconfirmed this long -> resume")
    duck_db: float | None = Field(None, gt=0.0, le=60.0, description="attenuation while unconfirmed; None = pause")
    min_words: int | None = Field(2, ge=1, description="non-backchannel words that confirm; None = no interim STT")
    backchannels: list[str] = Field(default_factory=lambda: list(BACKCHANNELS), description="words that confirm nothing")

    @model_validator(mode="after")
    def _confirm_before_resume(self) -> "BargeInConfig":
        if self.mode == "pause_confirm" and self.confirm_ms >= self.resume_after_ms:
            raise ValueError(f"confirm_ms ({self.confirm_ms:g}) must be below resume_after_ms "
                             f"({self.resume_after_ms:g}): the speech could never confirm in time")
        return self
