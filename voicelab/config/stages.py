"""Settings of the pipeline stages: VAD and endpointing, STT, LLM, trigger policy, TTS, audio I/O."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from voicelab.config.base import Strict


class VADConfig(Strict):
    """Voice activity detection and endpointing.

    Defaults follow Silero's ``get_speech_timestamps`` (threshold 0.5,
    min_speech 250 ms, speech_pad 100 ms); 500 ms of silence asks Smart Turn v3.2
    whether the turn is complete (it ends there if so, else after 1000 ms). On the pause
    set (docs/results/endpointing) that ends 6% of turns prematurely, against 31% for
    500 ms of silence alone; with speculation on, the endpoint mostly waits in parallel
    with the reply being prepared (docs/results/fast_path).
    """

    kind: Literal["silero", "energy", "webrtc"] = Field(
        "silero", description="the detector scoring each 32 ms frame: silero = Silero VAD v6 (ONNX), a speech "
        "probability; energy = 1 if the frame's 300-3400 Hz band RMS reaches energy_threshold, else 0; webrtc = "
        "WebRTC's GMM VAD, the fraction of the frame's 10 ms sub-frames it judges voiced")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="speech probability threshold (0..1)")
    energy_threshold: float = Field(0.003, gt=0.0, description="energy VAD: band RMS threshold, linear full scale")
    webrtc_aggressiveness: int = Field(2, ge=0, le=3, description="webrtc: WebRTC VAD mode, 0 (least aggressive "
                                       "about filtering out non-speech) to 3 (most aggressive)")
    min_speech_ms: float = Field(250.0, ge=0.0, description="speech (ms) needed before the user's speech is "
                                 "confirmed: counted from a frame at or above threshold while no frame falls below "
                                 "max(threshold - 0.15, 0.01); shorter blips are ignored. In 32 ms frames (250 -> 8)")
    min_silence_ms: float = Field(500.0, ge=0.0, description="silence that ends a user turn (endpointing)")
    speech_pad_ms: float = Field(100.0, ge=0.0, description="audio (ms) kept before the detected start and after "
                                 "the detected end of speech in the utterance handed to STT and the turn detector; "
                                 "barge-in interim transcripts also get this much before the onset")
    threads: int = Field(1, ge=1, description="silero: onnxruntime intra-op threads (energy and webrtc ignore it)")
    turn_detector: Literal["none", "smart-turn"] = Field(
        "smart-turn", description="none: min_silence_ms of silence ends a turn; smart-turn: it asks Smart "
                            "Turn v3.2 whether the utterance is complete, else keeps listening")
    max_silence_ms: float = Field(
        1000.0, ge=0.0, description="with a turn detector: the silence that ends a turn it judged incomplete")
    turn_threshold: float = Field(0.5, ge=0.0, le=1.0, description="P(complete) above which the turn ends")

    @model_validator(mode="after")
    def _max_silence_covers_min_silence(self) -> VADConfig:
        if self.turn_detector != "none" and self.max_silence_ms < self.min_silence_ms:
            raise ValueError(f"max_silence_ms ({self.max_silence_ms}) must be >= min_silence_ms "
                             f"({self.min_silence_ms}) with a turn detector")
        return self


class STTConfig(Strict):
    """Speech-to-text with faster-whisper (CTranslate2).

    ``window`` picks the encoder input length (see :class:`voicelab.stt.whisper.WhisperSTT`):
    ``full`` pads every utterance to Whisper's 30 s window, so a call costs about the
    same for 1 s or 7 s of audio; ``fit`` cuts the utterance at its pauses and encodes each
    piece rounded up to ceil(seconds) + 1 s, continuing or retrying a piece whose transcript
    does not cover its speech.
    """

    engine: str = Field("whisper", description="STT engine, by its name in `voicelab.stages.stt.STT_ENGINES` "
                        "(whisper = faster-whisper); an unknown name fails at load with the list of known ones")
    model: str = Field("whisper-tiny.en", description="asset name or a CTranslate2 model directory")
    beam_size: int = Field(1, ge=1, description="beam width of Whisper's decoding; 1 = greedy. In window `fit` a "
                           "piece that loops is retried with 5 beams whatever this is")
    language: str = Field("en", description="Whisper language code (e.g. `en`), fixed: no language detection; "
                          "the `.en` models know English only")
    threads: int = Field(2, ge=1, description="CTranslate2 cpu_threads")
    window: Literal["full", "fit"] = Field(
        "fit", description="encoder window: 'full' = faster-whisper's fixed 30 s window (3000 log-mel frames); 'fit' ="
        " the utterance cut at its pauses (>= 300 ms) into pieces, each encoded in a window of ceil(seconds)+1 s on "
        "CTranslate2 directly, in timestamp mode; a piece whose transcript stops short of its speech is decoded "
        "again from its last segment, and one that loops is retried with 5 beams and a repetition penalty "
        "(rules in voicelab.stt)")


class Exchange(Strict):
    """One example exchange of the prompt: what a user says and what the assistant answers."""

    user: str = Field(description="the example user turn")
    assistant: str = Field(description="the example reply")


DEFAULT_EXAMPLES = [
    Exchange(user="What time does the pharmacy close?",
             assistant="Most pharmacies close around nine in the evening. Shall I look up the one nearest you?"),
    Exchange(user="Book a table for two tonight.", assistant="Sure. What time would you like the table for two?"),
    Exchange(user="My train is late again.",
             assistant="Sorry to hear that. Do you want me to tell the people you are meeting?"),
]
"""The default example exchanges (chosen with the system prompt and the repetition penalty by
measurement: docs/results/system_prompt)."""


class LLMConfig(Strict):
    """Token-streaming LLM with transformers.

    The prompt's defaults (system prompt, three example exchanges, repetition penalty 1.1) were
    chosen on SmolLM2-135M by ``benchmarks/system_prompt.py`` (docs/results/system_prompt): over
    39 user turns at the full reply length, the old one-line prompt without them echoed the user in
    26 % of replies, talked about spelling in 5 % and was flagged for any of echo, spelling,
    apology or loop in 64 %; these defaults in 0 %, 0 % and 15 % (all apologies), with replies of
    27 tokens on average.
    """

    engine: str = Field("transformers", description="LLM engine, by its name in `voicelab.stages.llm.LLM_ENGINES` "
                        "(transformers = a chat model through transformers' generate); an unknown name fails at "
                        "load with the list of known ones")
    model: str = Field("smollm2-135m-instruct", description="asset name or a transformers model directory")
    system_prompt: str = Field(
        "You are a helpful voice assistant talking with a user on the phone. Reply to what the user wants in "
        "one or two short sentences.",
        description="the system message that opens every prompt, before the example exchanges, the history and "
                    "the user's turn (`engine: pipecat` variants get it too)")
    examples: list[Exchange] = Field(
        default_factory=lambda: list(DEFAULT_EXAMPLES),
        description="example exchanges placed after the system prompt as user/assistant turns, to show the model "
                    "replies rather than echoes (`engine: pipecat` variants get them too); [] = none")
    temperature: float = Field(0.3, ge=0.0, description="sampling temperature; 0 = greedy decoding (no sampling, "
                               "top_p unused)")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="nucleus sampling: each token is drawn from the most "
                         "likely tokens whose probabilities sum to top_p (1 = all); only with temperature > 0")
    max_new_tokens: int = Field(250, ge=1, description="most tokens generated for one reply; generation stops there, "
                                "even mid-sentence")
    repetition_penalty: float = Field(
        1.1, ge=1.0, description="divides the logit of every token already in the prompt or the reply "
                                 "(transformers' `repetition_penalty`, Keskar et al. 2019, CTRL); 1 = off. 1.1 stopped "
                                 "the loops the example exchanges caused (31 % of replies without it); 1.2 made "
                                 "replies ramble to 87 tokens on average")
    no_repeat_ngram_size: int = Field(
        0, ge=0, description="never generate an n-gram of this many tokens twice in prompt + reply (transformers' "
                             "`no_repeat_ngram_size`); 0 = off")
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

    def prompt_prefix(self) -> list[dict[str, str]]:
        """The messages that open every prompt: the system prompt, then each example exchange as a
        user and an assistant message (chat-template roles)."""
        shots = [m for ex in self.examples for m in ({"role": "user", "content": ex.user},
                                                     {"role": "assistant", "content": ex.assistant})]
        return [{"role": "system", "content": self.system_prompt}, *shots]
    max_history_turns: int | None = Field(
        None, ge=0, description="with history: only the last N user/assistant exchanges go into the prompt, so "
                                "its length (and time to first token) stops growing; null = all of them")
    prefix_cache: bool = Field(
        True, description="reuse the KV cache of the longest already-encoded prompt prefix "
                           "(system prompt + history) instead of re-encoding it every turn")
    nice: int = Field(10, ge=0, le=19, description="CPU niceness added to the generation thread's (Linux; capped at "
                      "19); > 0 lets TTS, which is on the critical path to first audio, win the cores while both run")


class TriggerConfig(Strict):
    """Text trigger policy: when LLM text is handed to TTS (see voicelab.trigger)."""

    policy: Literal["words", "sentence", "debounce", "hybrid", "whole"] = Field(
        "words", description="words = a chunk every `words` complete words; sentence = at sentence boundaries "
        "(abbreviation-aware; one shorter than min_words is joined with the next); debounce = the complete words "
        "pending once no text arrived for debounce_ms; hybrid = the first `words` words, then sentences; whole = "
        "the whole reply at once (the non-streaming baseline)")
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


class TTSConfig(Strict):
    """Streaming TTS: Kokoro-82M (kokoro-onnx, on onnxruntime or OpenVINO) or Piper.

    ``model: null`` picks the engine's default (:data:`TTS_DEFAULT_MODELS`; see
    :meth:`resolved_model`), so a sweep over ``engine`` / ``runtime`` needs no ``model``.
    ``voices``, ``voice`` and ``lang`` are Kokoro's; a Piper voice is its model.
    ``edge_pad_cap: [lead, trail]`` caps the durations Kokoro predicts for the two pad
    tokens around a chunk, in 25 ms frames, so less silence is rendered and trimmed
    (:func:`voicelab.assets.kokoro_graph.cap_edge_pads`); lead must be >= 10 frames or
    the first word is lost (round-trip WER 12-20 % at 2-6 frames: docs/results/tts_first_chunk).
    """

    engine: Literal["kokoro", "piper"] = Field(
        "kokoro", description="kokoro = Kokoro-82M through kokoro-onnx (on `runtime`; voices, voice, lang and "
        "edge_pad_cap apply); piper = a Piper voice on onnxruntime, resampled to 24 kHz (the voice is its model)")
    runtime: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime", description="Kokoro only: onnxruntime, or OpenVINO (CPU, bf16 where the CPU has it)")
    model: str | None = Field(None, description="asset name or an .onnx path; null = the engine's default")
    voices: str = Field("kokoro-voices", description="asset name or a voices .npz path (Kokoro)")
    voice: str = Field("af_heart", description="Kokoro voice name")
    edge_pad_cap: tuple[int, int] | None = Field(
        None, description="Kokoro only: [lead, trail] cap on the edge pad durations, 25 ms frames; null = no cap")
    speed: float = Field(1.0, gt=0.25, le=4.0, description="speaking rate relative to the voice's own (1 = as "
                         "trained, 2 = twice as fast); kokoro-onnx accepts only 0.5-2.0 and fails a request outside "
                         "it; Piper divides the voice's length_scale by it")
    lang: str = Field("en-us", description="Kokoro only: the espeak-ng language its phonemizer reads the text in "
                      "(e.g. `en-us`, `en-gb`; match the voice); Piper ignores it")
    threads: int = Field(2, ge=1, description="inference threads (onnxruntime intra-op / OpenVINO), every engine")
    coalesce: bool = Field(True, description="join chunks that queued while TTS was busy into one request")
    coalesce_growth: float | None = Field(2.0, gt=0.0, description="a joined request holds at most this many times "
                                          "the previous request's words (so its synthesis fits in the audio already "
                                          "queued); null = no limit")
    isolation: Literal["thread", "process"] = Field(
        "thread", description="where synthesis runs: a worker thread of the agent's process, or a supervised "
                              "worker process (a crash or hang there cannot take the agent down)")
    timeout_ms: float | None = Field(15000.0, gt=0.0, description="a request taking longer than this plus "
                                     "`timeout_per_word_ms` per word of its text fails (the reply goes on as text and "
                                     "TTS is restarted); null = no limit")
    timeout_per_word_ms: float = Field(
        500.0, ge=0.0, description="added to `timeout_ms` per word of a request, so a long request (the `whole` "
                                   "trigger's entire reply) is not taken for a hang: a word is about 0.35 s of "
                                   "Kokoro speech, so 500 ms a word allows synthesis at up to 1.4x real time")
    restart_attempts: int = Field(5, ge=0, le=10, description="restarts tried after a failure, with exponential "
                                  "backoff; 0 = never restart")
    restart_backoff_ms: float = Field(250.0, ge=0.0, description="wait before the first restart attempt; doubled "
                                      "before each next one")

    @model_validator(mode="after")
    def _engine_combination(self) -> TTSConfig:
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


class AudioConfig(Strict):
    """Virtual microphone and speaker."""

    mic_frame_ms: Literal[32] = Field(32, description="512 samples at 16 kHz (Silero's window)")
    speaker_rate: Literal[24000] = Field(24000, description="speaker sample rate, Hz: fixed at the rate every TTS "
                                         "engine delivers (Kokoro's own; Piper is resampled to it)")
    speaker_frame_ms: float = Field(10.0, gt=0.0, le=100.0, description="speaker output frame (a sound card's "
                                    "period), ms: audio arriving after the queue ran dry, a stop, a pause and a duck "
                                    "take effect at the next frame boundary; 10 ms = 240 samples")
    turn_gap_ms: float = Field(1000.0, ge=0.0,
                               description="silence between the end of the agent's reply and the next clip")
    lead_in_ms: float = Field(500.0, ge=0.0, description="silence before the first clip")
