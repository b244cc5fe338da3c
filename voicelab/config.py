"""Experiment configuration: one validated pydantic model mirroring the YAML files.

Every model rejects unknown keys (``extra="forbid"``) and bad values; the error
raised by :func:`load_config` names the dotted path of each offending field, e.g.
``trigger.words: Input should be greater than or equal to 1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class VADConfig(_Strict):
    """Voice activity detection and endpointing.

    Defaults follow Silero's ``get_speech_timestamps`` (threshold 0.5,
    min_speech 250 ms, speech_pad 100 ms); 500 ms of silence asks Smart Turn v3.2
    whether the turn is complete (it ends there if so, else after 1000 ms). On the pause
    set (docs/results/endpointing) that ends 6% of turns prematurely, against 31% for
    500 ms of silence alone; with speculation on, the endpoint mostly waits in parallel
    with the reply being prepared (docs/results/fast_path).
    """

    kind: Literal["silero", "energy", "webrtc"] = "silero"
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="speech probability threshold (0..1)")
    energy_threshold: float = Field(0.003, gt=0.0, description="energy VAD: band RMS threshold, linear full scale")
    webrtc_aggressiveness: int = Field(2, ge=0, le=3)
    min_speech_ms: float = Field(250.0, ge=0.0)
    min_silence_ms: float = Field(500.0, ge=0.0, description="silence that ends a user turn (endpointing)")
    speech_pad_ms: float = Field(100.0, ge=0.0)
    threads: int = Field(1, ge=1)
    turn_detector: Literal["none", "smart-turn"] = Field(
        "smart-turn", description="none: min_silence_ms of silence ends a turn; smart-turn: it asks Smart "
                            "Turn v3.2 whether the utterance is complete, else keeps listening")
    max_silence_ms: float = Field(
        1000.0, ge=0.0, description="with a turn detector: the silence that ends a turn it judged incomplete")
    turn_threshold: float = Field(0.5, ge=0.0, le=1.0, description="P(complete) above which the turn ends")

    @model_validator(mode="after")
    def _max_silence_covers_min_silence(self) -> "VADConfig":
        if self.turn_detector != "none" and self.max_silence_ms < self.min_silence_ms:
            raise ValueError(f"max_silence_ms ({self.max_silence_ms}) must be >= min_silence_ms "
                             f"({self.min_silence_ms}) with a turn detector")
        return self


class STTConfig(_Strict):
    """Speech-to-text with faster-whisper (CTranslate2).

    ``window`` picks the encoder input length (see :class:`voicelab.stt.whisper.WhisperSTT`):
    ``full`` pads every utterance to Whisper's 30 s window, so a call costs about the
    same for 1 s or 7 s of audio; ``fit`` encodes only the utterance rounded up to
    ceil(seconds) + 1 s and falls back to the 30 s window when the result fails a
    sanity check.
    """

    model: str = Field("whisper-tiny.en", description="asset name or a CTranslate2 model directory")
    beam_size: int = Field(1, ge=1)
    language: str = "en"
    threads: int = Field(2, ge=1, description="CTranslate2 cpu_threads")
    window: Literal["full", "fit"] = Field(
        "fit", description="encoder window: 'full' = faster-whisper's fixed 30 s window (3000 log-mel frames); 'fit' ="
        " the utterance rounded up to ceil(seconds)+1 s, run on CTranslate2 directly in timestamp mode, with a "
        "sanity fallback to the 30 s window (rules in voicelab.stt.whisper)")


class LLMConfig(_Strict):
    """Token-streaming LLM with transformers."""

    model: str = Field("smollm2-135m-instruct", description="asset name or a transformers model directory")
    system_prompt: str = (
        "You are a friendly voice assistant. Answer in one or two short, plain sentences."
    )
    temperature: float = Field(0.3, ge=0.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_new_tokens: int = Field(250, ge=1)
    seed: int = Field(0, description="sampling seed; re-seeded per turn so variants give identical replies")
    threads: int = Field(1, ge=1, description="torch.set_num_threads")
    dtype: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="model weights, activations and KV cache dtype. bfloat16 (avx512_bf16 "
                    "oneDNN kernels) cut single-turn TTFT from 214 to 81 ms and a 6-turn "
                    "history prefill from 758 to 272 ms (median, 1 thread), but flipped the "
                    "first greedy token on 2 of 7 prompts (fp32 near-ties): float32 stays "
                    "default (docs/results/llm_dtype)")
    history: bool = Field(True, description="keep the conversation history across turns")
    prefix_cache: bool = Field(
        True, description="reuse the KV cache of the longest already-encoded prompt prefix "
                           "(system prompt + history) instead of re-encoding it every turn")
    nice: int = Field(10, ge=0, le=19, description="CPU niceness of the generation thread (Linux); > 0 lets TTS, "
                      "which is on the critical path to first audio, win the cores while both run")


class TriggerConfig(_Strict):
    """Text trigger policy: when LLM text is handed to TTS (see voicelab.trigger)."""

    policy: Literal["words", "sentence", "debounce", "hybrid", "whole"] = "words"
    words: int = Field(2, ge=1, description="words / hybrid: words in the first chunk")
    min_words: int = Field(1, ge=1, description="sentence: shortest sentence sent alone")
    debounce_ms: float = Field(200.0, gt=0.0, description="debounce: quiet time before sending")

    def params(self) -> dict[str, float | int]:
        """Keyword arguments for :func:`voicelab.trigger.make_trigger`."""
        return {"words": {"words": self.words}, "sentence": {"min_words": self.min_words},
                "debounce": {"ms": self.debounce_ms}, "hybrid": {"words": self.words}, "whole": {}}[self.policy]

    def label(self) -> str:
        """Short human label, e.g. ``words-2`` or ``whole``."""
        extra = {"words": f"-{self.words}", "hybrid": f"-{self.words}",
                 "debounce": f"-{self.debounce_ms:g}ms"}.get(self.policy, "")
        return f"{self.policy}{extra}"


TTS_DEFAULT_MODELS = {("kokoro", "onnxruntime"): "kokoro-v1.0-int8", ("kokoro", "openvino"): "kokoro-v1.0-fp32",
                      ("piper", "onnxruntime"): "piper-en_US-joe-medium"}
"""The model each ``(tts.engine, tts.runtime)`` loads when ``tts.model`` is null (asset names)."""
TTS_MODEL_ASSETS = {"kokoro": ("kokoro-v1.0-int8", "kokoro-v1.0-fp32"), "piper": ("piper-en_US-joe-medium",)}
"""The model assets of each engine; another engine's asset in ``tts.model`` is an error."""


class TTSConfig(_Strict):
    """Streaming TTS: Kokoro-82M (kokoro-onnx, on onnxruntime or OpenVINO) or Piper.

    ``model: null`` picks the engine's default (:data:`TTS_DEFAULT_MODELS`; see
    :meth:`resolved_model`), so a sweep over ``engine`` / ``runtime`` needs no ``model``.
    ``voices``, ``voice`` and ``lang`` are Kokoro's; a Piper voice is its model.
    ``edge_pad_cap: [lead, trail]`` caps the durations Kokoro predicts for the two pad
    tokens around a chunk, in 25 ms frames, so less silence is rendered and trimmed
    (:func:`voicelab.assets.kokoro_graph.cap_edge_pads`); lead must be >= 10 frames or
    the first word is lost (round-trip WER 12-20 % at 2-6 frames, /work/shared/FAST-PATHS.md).
    """

    engine: Literal["kokoro", "piper"] = "kokoro"
    runtime: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime", description="Kokoro only: onnxruntime, or OpenVINO (CPU, bf16 where the CPU has it)")
    model: str | None = Field(None, description="asset name or an .onnx path; null = the engine's default")
    voices: str = Field("kokoro-voices", description="asset name or a voices .npz path (Kokoro)")
    voice: str = Field("af_heart", description="Kokoro voice name")
    edge_pad_cap: tuple[int, int] | None = Field(
        None, description="Kokoro only: [lead, trail] cap on the edge pad durations, 25 ms frames; null = no cap")
    speed: float = Field(1.0, gt=0.25, le=4.0)
    lang: str = "en-us"
    threads: int = Field(2, ge=1, description="inference threads (onnxruntime intra-op / OpenVINO), every engine")
    coalesce: bool = Field(True, description="join chunks that queued while TTS was busy into one request")
    coalesce_growth: float | None = Field(2.0, gt=0.0, description="a joined request holds at most this many times "
                                          "the previous request's words (so its synthesis fits in the audio already "
                                          "queued); null = no limit")

    @model_validator(mode="after")
    def _engine_combination(self) -> "TTSConfig":
        if self.engine == "piper" and self.runtime != "onnxruntime":
            raise ValueError(f"runtime {self.runtime!r} is for Kokoro only; piper runs on onnxruntime")
        if self.engine == "piper" and self.edge_pad_cap is not None:
            raise ValueError("edge_pad_cap is for Kokoro only (engine: piper)")
        if self.edge_pad_cap is not None:
            lead, trail = self.edge_pad_cap
            if not 10 <= lead <= 400 or not 1 <= trail <= 400:
                raise ValueError(f"edge_pad_cap [lead, trail] must have 10 <= lead <= 400 (fewer lead frames "
                                 f"lose the first word) and 1 <= trail <= 400, got [{lead}, {trail}]")
        for engine, assets in TTS_MODEL_ASSETS.items():
            if self.model in assets and engine != self.engine:
                raise ValueError(f"model {self.model!r} is a {engine} model, not a {self.engine} one "
                                 f"(null picks {TTS_DEFAULT_MODELS[(self.engine, self.runtime)]!r})")
        return self

    def resolved_model(self) -> str:
        """``model``, or the default asset of ``(engine, runtime)`` when it is null."""
        return self.model if self.model is not None else TTS_DEFAULT_MODELS[(self.engine, self.runtime)]


class AudioConfig(_Strict):
    """Virtual microphone and speaker."""

    mic_frame_ms: Literal[32] = Field(32, description="512 samples at 16 kHz (Silero's window)")
    speaker_rate: Literal[24000] = 24000
    speaker_frame_ms: float = Field(10.0, gt=0.0, le=100.0)
    turn_gap_ms: float = Field(1000.0, ge=0.0, description="silence between the end of the agent's reply and the next clip")
    lead_in_ms: float = Field(500.0, ge=0.0, description="silence before the first clip")


class EchoConfig(_Strict):
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


class BargeInConfig(_Strict):
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


class SpeculateConfig(_Strict):
    """Speculative (preemptive) replies: start answering before the endpoint is decided.

    When the user has been silent for ``after_silence_ms`` (shorter than the silence that
    ends or pauses the turn), STT, the LLM and the first TTS chunks start on the
    utterance so far; playback is held until the endpoint confirms the turn (a *hit*).
    If the user speaks again first, the reply is cancelled through the barge-in path and
    counted as wasted (a *miss*): it leaves no audio and no history.
    """

    enabled: bool = True
    after_silence_ms: float = Field(96.0, ge=0.0, description="silence (ms) after which a speculative reply starts; "
                                    "32 ms frames, so 96 = 3 silent frames; must be below vad.min_silence_ms (or equal "
                                    "with a turn detector, which pauses there)")


class ScenarioTurn(_Strict):
    """One scripted user turn.

    ``start``: ``after_reply`` = ``offset_ms`` after the previous reply finished
    playing (a normal turn); ``after_agent_starts`` = ``offset_ms`` after the
    previous reply's first sample played (a barge-in).
    """

    clip: str
    start: Literal["after_reply", "after_agent_starts"] = "after_reply"
    offset_ms: float | None = Field(None, ge=0.0, description="None = audio.turn_gap_ms")
    backchannel: bool = Field(False, description="ground truth: the clip is listener feedback, not an interruption")


class Variant(_Strict):
    """A named trigger setting; every clip is run once per variant, interleaved."""

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    trigger: TriggerConfig


class SweepConfig(_Strict):
    """A grid of overrides on the experiment config (``voicelab sweep``).

    ``grid`` maps a dotted field path (``trigger.words``, ``vad.kind``, or a whole
    section such as ``trigger``) to the values it takes; every combination is a
    config point, run on every clip ``repetitions`` times. ``presets`` names sets of
    overrides (each a mapping of dotted paths to values) compared one against another
    rather than crossed, e.g. "today" vs "+ speculation" vs "all together"; they form
    one more axis, ``preset``, crossed with the grid.
    """

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named override sets, an axis called `preset`")
    repetitions: int = Field(3, ge=1)
    keep_audio: bool = Field(False, description="keep each run's agent.wav (about 4 MB per minute)")

    @model_validator(mode="after")
    def _non_empty_values(self) -> "SweepConfig":
        if not self.grid and not self.presets:
            raise ValueError("needs a `grid` or `presets` (or both)")
        if "preset" in self.grid:
            raise ValueError("grid.preset: `preset` is the axis of `presets`, not a field")
        for path, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{path}: needs at least one value")
        for name in self.presets:
            if not name or not all(c.isalnum() or c in " +-_.,/" for c in name):
                raise ValueError(f"presets: name {name!r} may hold letters, digits, spaces and + - _ . , /")
        return self

    def axes(self) -> dict[str, list[Any]]:
        """The swept axes in order: ``preset`` (the preset names) first, then the grid."""
        return {**({"preset": list(self.presets)} if self.presets else {}), **self.grid}


class ExperimentConfig(_Strict):
    """A whole experiment (what ``voicelab run CONFIG.yaml`` reads)."""

    name: str = "experiment"
    clips: list[str] = Field(
        default_factory=lambda: ["cmu_arctic_a0007"],
        min_length=1,
        description="bundled clip names (see voicelab.audio.clips) or paths to audio files",
    )
    warmup_turns: int = Field(1, ge=0, description="labelled warm-up turns, excluded from statistics")
    vad: VADConfig = Field(default_factory=VADConfig)
    stt: STTConfig = Field(default_factory=STTConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    variants: list[Variant] = Field(default_factory=list, description="trigger variants compared in one run; "
                                    "empty = just `trigger`")
    tts: TTSConfig = Field(default_factory=TTSConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    sweep: SweepConfig | None = Field(None, description="only read by `voicelab sweep`")
    barge_in: BargeInConfig = Field(default_factory=BargeInConfig)
    echo: EchoConfig = Field(default_factory=EchoConfig)
    speculate: SpeculateConfig = Field(default_factory=SpeculateConfig)
    scenario: list[ScenarioTurn] | None = Field(None, description="scripted turns (with barge-ins); replaces `clips`")

    @model_validator(mode="after")
    def _unique_variant_names(self) -> "ExperimentConfig":
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _speculation_precedes_endpoint(self) -> "ExperimentConfig":
        sp, vad, detector = self.speculate, self.vad, self.vad.turn_detector != "none"
        if sp.enabled and (sp.after_silence_ms > vad.min_silence_ms or sp.after_silence_ms == vad.min_silence_ms
                           and not detector):
            raise ValueError(f"speculate.after_silence_ms ({sp.after_silence_ms:g}) must be below vad.min_silence_ms"
                             f" ({vad.min_silence_ms:g}; equal is allowed with a turn detector): a speculative reply"
                             " must start before the endpoint")
        return self

    def resolved_variants(self) -> list[Variant]:
        """The variants to run: ``variants`` or, if empty, one built from ``trigger``."""
        return self.variants or [Variant(name=self.trigger.label(), trigger=self.trigger)]


class ConfigError(ValueError):
    """A config file is missing, unreadable or invalid; the message names each field path."""


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {path}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: dict, source: str = "<dict>") -> ExperimentConfig:
    """Validate a config mapping.

    Raises:
        ConfigError: with one ``dotted.path: message`` line per problem.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {source}: top level must be a mapping, got {type(data).__name__}")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML experiment config.

    Raises:
        ConfigError: the file is missing, is not YAML, or fails validation.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config {path} is not valid YAML: {err}") from None
    return parse_config(data if data is not None else {}, str(path))

