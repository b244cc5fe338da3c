"""The experiment: stage and duplex sections, speculation, scripted scenarios, variants, sweeps."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from voicelab.config.base import Strict
from voicelab.config.duplex import AECConfig, BargeInConfig, EchoConfig
from voicelab.config.faults import FaultsConfig
from voicelab.config.peers import PipecatConfig
from voicelab.config.stages import AudioConfig, LLMConfig, STTConfig, TriggerConfig, TTSConfig, VADConfig


class SpeculateConfig(Strict):
    """Speculative (preemptive) replies: start answering before the endpoint is decided.

    When the user has been silent for ``after_silence_ms`` (shorter than the silence that
    ends or pauses the turn), STT, the LLM and the first TTS chunks start on the
    utterance so far; playback is held until the endpoint confirms the turn (a *hit*).
    If the user speaks again first, the reply is cancelled through the barge-in path and
    counted as wasted (a *miss*): it leaves no audio and no history.
    """

    enabled: bool = Field(True, description="start a reply after after_silence_ms of silence, held until the "
                          "endpoint; false = a reply starts only once the endpoint is decided")
    after_silence_ms: float = Field(96.0, ge=0.0, description="silence (ms) after which a speculative reply starts; "
                                    "32 ms frames, so 96 = 3 silent frames; must be below vad.min_silence_ms (or equal "
                                    "with a turn detector, which pauses there)")


class ScenarioTurn(Strict):
    """One scripted user turn."""

    clip: str = Field(..., description="the user's audio: a bundled clip name, a path to an audio file, or a "
                      "`corpus:` / `mix:` name (voicelab.lab.duplex_clips)")
    start: Literal["after_reply", "after_agent_starts"] = Field(
        "after_reply", description="after_reply = offset_ms after the previous reply finished playing (a normal "
        "turn); after_agent_starts = offset_ms after the previous reply's first sample played (a barge-in)")
    offset_ms: float | None = Field(None, ge=0.0, description="None = audio.turn_gap_ms")
    backchannel: bool = Field(False, description="ground truth: the clip is listener feedback, not an interruption")


class Variant(Strict):
    """A named trigger setting, or a peer engine; every clip is run once per variant, interleaved.

    ``engine: pipecat`` answers the variant's turns with a stock Pipecat pipeline
    (:class:`~voicelab.config.peers.PipecatConfig`, the ``pipecat`` section) in the same
    session: same microphone, speaker, clock, trace and models. Its ``trigger`` is then
    unused (Pipecat's text aggregation decides).
    """

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$",
                      description="the variant's label in turns.csv, summaries and reports; unique among `variants`")
    trigger: TriggerConfig = Field(default_factory=TriggerConfig, description="this variant's trigger policy; omitted: "
                                   "TriggerConfig's defaults (words-2), not the top-level `trigger`; unused by pipecat")
    engine: Literal["voicelab", "pipecat"] = Field(
        "voicelab", description="voicelab = voicelab's own agent with this variant's trigger; pipecat = a stock "
        "Pipecat pipeline with the same models (the `pipecat` extra), set by `pipecat`")
    pipecat: PipecatConfig | None = Field(None, description="settings of `engine: pipecat` (default: Pipecat's)")

    @model_validator(mode="before")
    @classmethod
    def _engine_settings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if data.get("engine") == "pipecat" and data.get("pipecat") is None:
                data = {**data, "pipecat": {}}
            elif data.get("engine", "voicelab") != "pipecat" and data.get("pipecat") is not None:
                raise ValueError(f"`pipecat` settings need `engine: pipecat` (variant {data.get('name')!r})")
        return data


class SweepConfig(Strict):
    """A grid of overrides on the experiment config (``voicelab sweep``).

    Every combination of the ``grid`` values is a config point, run ``repetitions`` times.
    ``presets`` names sets of overrides (each a mapping of dotted paths to values) compared
    one against another rather than crossed, e.g. "today" vs "+ speculation" vs "all
    together"; they form one more axis, ``preset``, crossed with the grid.
    """

    grid: dict[str, list[Any]] = Field(default_factory=dict, description="a dotted field path (`trigger.words`, "
                                       "`vad.kind`) or a whole section (`trigger`) -> the values it takes (at least "
                                       "one); the key `preset` is reserved for the presets axis")
    presets: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named override sets, an axis called `preset`")
    repetitions: int = Field(3, ge=1, description="runs of every config point, each a whole experiment (with its "
                             "own `repetitions`); each round rotates the point order by one, so machine drift "
                             "favours no point")
    keep_audio: bool = Field(False, description="keep each run's agent.wav (about 4 MB per minute)")

    @model_validator(mode="after")
    def _non_empty_values(self) -> SweepConfig:
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


class ExperimentConfig(Strict):
    """A whole experiment (what ``voicelab run CONFIG.yaml`` reads)."""

    name: str = Field("experiment", description="the experiment's name: `voicelab run` / `sweep` write to "
                      "results/<name> unless given --out; also shown in summaries and progress bars")
    clips: list[str] = Field(
        default_factory=lambda: ["cmu_arctic_a0007"],
        min_length=1,
        description="bundled clip names (see voicelab.audio.clips) or paths to audio files",
    )
    warmup_turns: int = Field(1, ge=0, description="labelled warm-up turns, excluded from statistics")
    repetitions: int = Field(1, ge=1, description="every clip is answered this many times by every variant; "
                             "repetitions are interleaved (all clips and variants once, then again)")
    vad: VADConfig = Field(default_factory=VADConfig, description="voice activity detection, endpointing and turn "
                           "detection")
    stt: STTConfig = Field(default_factory=STTConfig, description="speech-to-text (faster-whisper)")
    llm: LLMConfig = Field(default_factory=LLMConfig, description="the reply's language model, prompt and sampling")
    trigger: TriggerConfig = Field(default_factory=TriggerConfig, description="when LLM text goes to TTS, with "
                                   "`variants` empty (the one variant is then named by its label, e.g. `words-2`)")
    variants: list[Variant] = Field(default_factory=list, description="trigger variants (or peer engines, "
                                    "`engine: pipecat`) compared in one run; empty = just `trigger`")
    tts: TTSConfig = Field(default_factory=TTSConfig, description="text-to-speech: engine, model, voice, and its "
                           "supervision (timeout, restarts)")
    audio: AudioConfig = Field(default_factory=AudioConfig, description="virtual microphone and speaker, and the "
                               "silences around the clips")
    sweep: SweepConfig | None = Field(None, description="only read by `voicelab sweep`")
    barge_in: BargeInConfig = Field(default_factory=BargeInConfig, description="interruptions while the agent "
                                    "speaks (off by default: the agent is half duplex)")
    echo: EchoConfig = Field(default_factory=EchoConfig, description="the agent's own voice and noise in the "
                             "microphone (none by default)")
    aec: AECConfig = Field(default_factory=AECConfig, description="acoustic echo cancellation on the microphone "
                           "(off by default)")
    speculate: SpeculateConfig = Field(default_factory=SpeculateConfig, description="replies started before the "
                                       "endpoint is decided (on by default)")
    faults: FaultsConfig = Field(default_factory=FaultsConfig, description="failures injected into the stages and "
                                 "`voicelab serve`'s sink (none by default)")
    scenario: list[ScenarioTurn] | None = Field(None, description="scripted turns (with barge-ins); replaces `clips`")

    @model_validator(mode="after")
    def _unique_variant_names(self) -> ExperimentConfig:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _speculation_precedes_endpoint(self) -> ExperimentConfig:
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
