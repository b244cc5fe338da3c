"""The orchestrator: one half-duplex voice-agent session on one session clock.

It owns concurrency and nothing else: stages do the work, the trace records it,
:mod:`voicelab.metrics` measures it afterwards.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voicelab.audio.clips import Clip
from voicelab.audio.mic import VirtualMicrophone
from voicelab.audio.speaker import VirtualSpeaker
from voicelab.clock import SessionClock
from voicelab.config import ExperimentConfig, Variant
from voicelab.events import (
    ChunkTriggered, LLMFinished, LLMStarted, LLMToken, SpeechEnded, SpeechStarted, StateChanged,
    STTStarted, Trace, TranscriptFinal, TTSAudio, TTSStarted, TurnPlanned, WordEmitted,
)
from voicelab.llm.base import LLM
from voicelab.stt.base import STT
from voicelab.trigger import make_trigger
from voicelab.trigger.base import TextChunk
from voicelab.trigger.words import WordTracker
from voicelab.tts.base import TTS
from voicelab.vad.endpointing import Endpointer, SpeechEnd, SpeechStart

NO_ENDPOINT_GRACE_MS = 3000.0
"""How long after a clip's end (plus ``min_silence_ms``) the agent waits for the
endpointer before it gives up on the turn (logged as a turn with no transcript)."""


@dataclass(frozen=True)
class TurnSpec:
    """One user turn: a clip, the trigger variant answering it, and whether it is warm-up.

    ``speech_bounds_ms``: true (start, end) of speech within the clip, from the
    offline reference VAD (:func:`voicelab.vad.reference.reference_speech_bounds`).
    """

    clip: Clip
    variant: Variant
    warmup: bool
    speech_bounds_ms: tuple[float, float]


@dataclass
class Stages:
    """The model stages of a session (loaded once per run, shared by sessions)."""

    make_endpointer: Callable[[], Endpointer]
    stt: STT
    llm: LLM
    tts: TTS


@dataclass
class SessionResult:
    """What a session produced: the trace and both audio timelines.

    ``input_audio``: float32 at 16 kHz; ``agent_audio``: float32 at ``agent_rate`` Hz;
    sample ``n`` of either is at ``n / rate`` s on the session clock.
    """

    trace: Trace
    input_audio: np.ndarray
    agent_audio: np.ndarray
    agent_rate: int
    turns: list[TurnSpec] = field(default_factory=list)


class VoiceAgent:
    """Runs user turns through VAD/endpointing -> STT -> LLM -> trigger -> TTS -> speaker.

    Responsibilities:

    1. pace the virtual microphone and feed every frame to the endpointer;
    2. per turn: on the endpoint, transcribe, stream the LLM reply through the trigger
       policy into a TTS worker (synthesis of chunk k overlaps generation of k+1),
       and play the audio on the virtual speaker;
    3. keep one conversation history per variant, seeded so that variants answering
       the same clips produce the same replies;
    4. append every step to the trace, stamped on the session clock.
    """

    def __init__(self, config: ExperimentConfig, stages: Stages) -> None:
        self.config = config
        self.stages = stages

    async def run(self, turns: list[TurnSpec]) -> SessionResult:
        """Play ``turns`` in order (each after the previous reply plus ``turn_gap_ms``)."""
        cfg = self.config
        self.clock = clock = SessionClock()
        self.trace = trace = Trace()
        self.mic = VirtualMicrophone(clock)
        self.speaker = VirtualSpeaker(clock, trace, cfg.audio.speaker_rate, cfg.audio.speaker_frame_ms)
        self.endpointer = self.stages.make_endpointer()
        self._endpoint: asyncio.Future | None = None
        self._turn = -1
        histories: dict[str, list[dict[str, str]]] = {}
        seeds: dict[str, int] = {}

        clock.start()
        mic_task = asyncio.create_task(self._consume_mic(), name="mic")
        speaker_task = asyncio.create_task(self.speaker.run(), name="speaker")
        try:
            next_start_ms = cfg.audio.lead_in_ms
            for n, spec in enumerate(turns):
                await clock.sleep_until(next_start_ms)
                history = histories.setdefault(spec.variant.name, [])
                seed = cfg.llm.seed + seeds.get(spec.variant.name, 0)
                if not spec.warmup:
                    seeds[spec.variant.name] = seeds.get(spec.variant.name, 0) + 1
                reply_end_ms = await self._run_turn(n, spec, history, seed)
                next_start_ms = max(reply_end_ms, clock.now_ms()) + cfg.audio.turn_gap_ms
            await clock.sleep_until(next_start_ms)
        finally:
            self.mic.close()
            self.speaker.close()
            await asyncio.gather(mic_task, speaker_task, return_exceptions=True)
        inp = self.mic.timeline()
        n_out = int(round(len(inp) * self.speaker.rate / 16_000))
        return SessionResult(trace, inp, self.speaker.timeline(n_out), self.speaker.rate, list(turns))

    # --- input side -------------------------------------------------------------------------
    async def _consume_mic(self) -> None:
        """Feed every microphone frame to the endpointer; resolve endpoints for the turn."""
        async for frame in self.mic.frames():
            for ev in self.endpointer.process(frame.samples):
                if isinstance(ev, SpeechStart):
                    self.trace.append(SpeechStarted(self.clock.now_ms(), self._turn, ev.audio_ms))
                elif isinstance(ev, SpeechEnd) and self._endpoint and not self._endpoint.done():
                    self._endpoint.set_result((ev, self.endpointer.utterance_audio()))

    def _state(self, turn: int, old: str, new: str) -> str:
        self.trace.append(StateChanged(self.clock.now_ms(), turn, old, new))
        return new

    async def _run_turn(self, turn: int, spec: TurnSpec, history: list[dict[str, str]],
                        seed: int) -> float:
        """One user turn; returns the session time (ms) at which the reply finished playing."""
        cfg, clock, trace = self.config, self.clock, self.trace
        self._turn = turn
        self._endpoint = asyncio.get_running_loop().create_future()
        start_ms = self.mic.play(spec.clip.audio)
        duration_ms = len(spec.clip.audio) / 16.0
        s0, s1 = spec.speech_bounds_ms
        trace.append(TurnPlanned(start_ms, turn, spec.clip.name, spec.variant.name, spec.warmup,
                                 duration_ms, start_ms + s0, start_ms + s1, spec.clip.reference_text))
        state = self._state(turn, "idle", "listening")
        timeout_s = (start_ms + duration_ms + cfg.vad.min_silence_ms + NO_ENDPOINT_GRACE_MS
                     - clock.now_ms()) / 1000.0
        try:
            ev, utterance = await asyncio.wait_for(self._endpoint, timeout_s)
        except asyncio.TimeoutError:
            self._state(turn, state, "idle")
            return clock.now_ms()
        trace.append(SpeechEnded(clock.now_ms(), turn, ev.audio_ms, ev.decided_ms))
        state = self._state(turn, state, "processing")

        trace.append(STTStarted(clock.now_ms(), turn, len(utterance) / 16.0))
        text = await self.stages.stt.transcribe(utterance)
        trace.append(TranscriptFinal(clock.now_ms(), turn, text))
        if not text:
            self._state(turn, state, "idle")
            return clock.now_ms()

        messages = [{"role": "system", "content": cfg.llm.system_prompt}, *history,
                    {"role": "user", "content": text}]
        reply = await self._respond(turn, spec.variant, messages, seed)
        if cfg.llm.history and not spec.warmup:
            history += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
        self._state(turn, "speaking", "idle")
        return clock.now_ms()

    # --- output side ------------------------------------------------------------------------
    async def _respond(self, turn: int, variant: Variant, messages: list[dict[str, str]],
                       seed: int) -> str:
        """Stream the LLM reply through the trigger policy into TTS and the speaker."""
        clock, trace = self.clock, self.trace
        policy = make_trigger(variant.trigger.policy, **variant.trigger.params())
        words = WordTracker()
        played = self.speaker.open_response(turn)
        chunks: asyncio.Queue[tuple[int, TextChunk] | None] = asyncio.Queue()
        tts_task = asyncio.create_task(self._tts_worker(turn, chunks), name=f"tts-{turn}")
        n_chunks = 0

        def hand_to_tts(ready: list[TextChunk]) -> None:
            nonlocal n_chunks
            for c in ready:
                trace.append(ChunkTriggered(clock.now_ms(), turn, n_chunks, c.text,
                                            c.first_word, c.last_word))
                chunks.put_nowait((n_chunks, c))
                n_chunks += 1

        stream = self.stages.llm.stream(messages, seed=seed, clock=clock)
        trace.append(LLMStarted(await stream.started(), turn))
        reply, n_tokens = "", 0
        it = aiter(stream)
        pending = asyncio.ensure_future(anext(it))
        try:
            while True:
                deadline = policy.next_deadline_ms()
                timeout = None if deadline is None else max(deadline - clock.now_ms(), 0.0) / 1000.0
                done, _ = await asyncio.wait({pending}, timeout=timeout)
                if not done:
                    hand_to_tts(policy.poll(clock.now_ms()))
                    continue
                try:
                    tok = pending.result()
                except StopAsyncIteration:
                    break
                pending = asyncio.ensure_future(anext(it))
                trace.append(LLMToken(tok.t_ms, turn, n_tokens, tok.text))
                n_tokens += 1
                reply += tok.text
                for w in words.push(tok.text):
                    trace.append(WordEmitted(tok.t_ms, turn, w.index, w.text))
                hand_to_tts(policy.push(tok.text, clock.now_ms()))
        finally:
            if not pending.done():
                pending.cancel()
        end_ms = stream.finished_ms if stream.finished_ms is not None else clock.now_ms()
        for w in words.flush():
            trace.append(WordEmitted(end_ms, turn, w.index, w.text))
        trace.append(LLMFinished(end_ms, turn, n_tokens, stream.cancelled, reply))
        hand_to_tts(policy.flush(clock.now_ms()))
        chunks.put_nowait(None)
        await tts_task
        self.speaker.close_response()
        await played
        return reply.strip()

    async def _tts_worker(self, turn: int, chunks: asyncio.Queue) -> None:
        """Synthesize chunks in order, one request at a time, and queue their audio.

        With ``tts.coalesce``, chunks that queued up while the previous request was
        synthesizing are joined into the next request, up to ``tts.coalesce_growth``
        times the previous request's words. Kokoro synthesizes faster than real time
        (RTF ~0.5 on one thread, MODELS.md), so a request about twice as long as the
        previous one is ready before the previous one has finished playing.
        """
        trace, clock, cfg = self.trace, self.clock, self.config.tts
        pending: deque[tuple[int, TextChunk]] = deque()
        request, prev_words, end = 0, 0, False

        def drain() -> bool:
            while not chunks.empty():
                item = chunks.get_nowait()
                if item is None:
                    return True
                pending.append(item)
            return False

        while True:
            if not pending and not end:
                item = await chunks.get()
                if item is None:
                    end = True
                else:
                    pending.append(item)
            end = drain() or end
            if not pending:
                break
            batch = [pending.popleft()]
            words = _n_words(batch[0][1])
            cap = math.inf if cfg.coalesce_growth is None or request == 0 else cfg.coalesce_growth * prev_words
            while cfg.coalesce and pending and words + _n_words(pending[0][1]) <= cap:
                words += _n_words(pending[0][1])
                batch.append(pending.popleft())
            text = "".join(c.text for _, c in batch).strip()
            trace.append(TTSStarted(clock.now_ms(), turn, request, tuple(i for i, _ in batch), text))
            audio = await self.stages.tts.synthesize(text)
            trace.append(TTSAudio(clock.now_ms(), turn, request, len(audio), self.stages.tts.sample_rate))
            if request == 0:
                self._state(turn, "processing", "speaking")
            self.speaker.enqueue(turn, request, audio)
            request, prev_words = request + 1, words


def _n_words(chunk: TextChunk) -> int:
    return chunk.last_word - chunk.first_word + 1
