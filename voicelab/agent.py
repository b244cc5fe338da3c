"""The orchestrator: one full-duplex voice-agent session on one session clock.

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
from voicelab.bargein import BargeInDetector
from voicelab.events import (
    BargeInDetected, ChunkTriggered, LLMFinished, LLMStarted, LLMToken, PlaybackStarted,
    PlaybackStopped, ResponseCancelled, SpeechEnded, SpeechStarted, StateChanged, STTStarted,
    Trace, TranscriptFinal, TTSAudio, TTSStarted, TurnPlanned, WordEmitted,
)
from voicelab.llm.base import LLM
from voicelab.stt.base import STT
from voicelab.trigger import make_trigger
from voicelab.trigger.base import TextChunk
from voicelab.trigger.words import WordTracker
from voicelab.tts.base import TTS
from voicelab.vad import make_vad
from voicelab.vad.endpointing import Endpointer, SpeechEnd, SpeechStart

NO_ENDPOINT_GRACE_MS = 3000.0
"""How long after a clip's end (plus ``min_silence_ms``) the agent waits for the
endpointer before it gives up on the turn (logged as a turn with no transcript)."""


@dataclass(frozen=True)
class TurnSpec:
    """One user turn: a clip, the trigger variant answering it, and whether it is warm-up.

    ``start``/``offset_ms``: when the clip starts (see :class:`voicelab.config.ScenarioTurn`);
    ``offset_ms`` None = ``audio.turn_gap_ms``.

    ``speech_bounds_ms``: true (start, end) of speech within the clip, from the
    offline reference VAD (:func:`voicelab.vad.reference.reference_speech_bounds`).
    """

    clip: Clip
    variant: Variant
    warmup: bool
    speech_bounds_ms: tuple[float, float]
    start: str = "after_reply"
    offset_ms: float | None = None


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


@dataclass
class _TurnState:
    """Bookkeeping of one user turn (futures resolve to session times in ms)."""

    spec: TurnSpec
    started: asyncio.Future   # first sample of the reply played
    done: asyncio.Future      # the turn is over: reply played, cut off, or no reply
    handled: bool = False


@dataclass
class _Response:
    """The reply being generated and played, with what a barge-in must cancel."""

    turn: int
    stream: object
    tts_task: asyncio.Task
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)


class VoiceAgent:
    """Runs user turns through VAD/endpointing -> STT -> LLM -> trigger -> TTS -> speaker.

    Responsibilities:

    1. pace the virtual microphone (full duplex: it keeps streaming while the agent
       speaks, optionally with the agent's echo and noise mixed in) and feed every
       frame to the endpointer and, while the agent speaks, the barge-in detector;
    2. play the scripted user turns: a turn starts a gap after the previous reply, or
       (a barge-in) some time after the previous reply started playing;
    3. per utterance: transcribe, stream the LLM reply through the trigger policy into
       a TTS worker (synthesis of chunk k overlaps generation of k+1), play the audio;
    4. on a barge-in: stop playback at the next output frame, drop queued audio, cancel
       pending TTS and stop generation, and keep in the history only what was played;
    5. keep one conversation history per variant, seeded so that variants answering
       the same clips produce the same replies;
    6. append every step to the trace, stamped on the session clock.
    """

    def __init__(self, config: ExperimentConfig, stages: Stages) -> None:
        self.config = config
        self.stages = stages

    async def run(self, turns: list[TurnSpec]) -> SessionResult:
        """Play ``turns`` in order; return the trace and the audio timelines."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        self.clock = clock = SessionClock()
        self.trace = trace = Trace()
        self.speaker = VirtualSpeaker(clock, trace, cfg.audio.speaker_rate, cfg.audio.speaker_frame_ms)
        self.mic = VirtualMicrophone(
            clock, echo=self.speaker.excerpt,
            echo_gain=0.0 if cfg.echo.gain_db is None else 10 ** (cfg.echo.gain_db / 20),
            echo_delay_ms=cfg.echo.delay_ms, noise_rms=_noise_rms(cfg, turns), seed=cfg.echo.seed)
        self.speaker.on_play = self._on_play
        self.endpointer = self.stages.make_endpointer()
        self.barge_in = BargeInDetector(cfg.barge_in, self.mic.frame_ms)
        self._barge_vad = make_vad(cfg.barge_in.vad_kind) if cfg.barge_in.vad_kind else None
        self._states = [_TurnState(t, loop.create_future(), loop.create_future()) for t in turns]
        self._user_turn = -1
        self._responding: _Response | None = None
        self._utterances: asyncio.Queue = asyncio.Queue()
        self._histories: dict[str, list[dict[str, str]]] = {}
        self._seeds: dict[str, int] = {}
        self._watchdogs: list[asyncio.Task] = []

        clock.start()
        tasks = [asyncio.create_task(self._consume_mic(), name="mic"),
                 asyncio.create_task(self.speaker.run(), name="speaker"),
                 asyncio.create_task(self._agent_loop(), name="agent")]
        try:
            await self._play_user_turns()
        finally:
            self.mic.close()
            self.speaker.close()
            for t in [tasks[2], *self._watchdogs]:
                t.cancel()
            await asyncio.gather(*tasks, *self._watchdogs, return_exceptions=True)
        inp = self.mic.timeline()
        n_out = int(round(len(inp) * self.speaker.rate / 16_000))
        return SessionResult(trace, inp, self.speaker.timeline(n_out), self.speaker.rate, list(turns))

    # --- the user side: the scripted scenario ---------------------------------------------------
    async def _play_user_turns(self) -> None:
        cfg, clock = self.config, self.clock
        next_start = cfg.audio.lead_in_ms
        for n, st in enumerate(self._states):
            spec = st.spec
            if n:
                prev = self._states[n - 1]
                gap = cfg.audio.turn_gap_ms if spec.offset_ms is None else spec.offset_ms
                if spec.start == "after_agent_starts":
                    await asyncio.wait({prev.started, prev.done}, return_when=asyncio.FIRST_COMPLETED)
                    base = prev.started.result() if prev.started.done() else prev.done.result()
                else:
                    base = await prev.done
                next_start = max(base, clock.now_ms()) + gap
            await clock.sleep_until(next_start)
            while self.mic.busy:
                await asyncio.sleep(self.mic.frame_ms / 1000.0)
            start_ms = self.mic.play(spec.clip.audio)
            self._user_turn = n
            duration_ms = len(spec.clip.audio) / 16.0
            s0, s1 = spec.speech_bounds_ms
            self.trace.append(TurnPlanned(start_ms, n, spec.clip.name, spec.variant.name, spec.warmup,
                                          duration_ms, start_ms + s0, start_ms + s1,
                                          spec.clip.reference_text, spec.start == "after_agent_starts"))
            if self._responding is None:
                self._state(n, "idle", "listening")
            deadline = start_ms + duration_ms + cfg.vad.min_silence_ms + NO_ENDPOINT_GRACE_MS
            self._watchdogs.append(asyncio.create_task(self._no_endpoint_watchdog(n, deadline)))
        last = self._states[-1].done if self._states else None
        if last is not None:
            end = await last
            await clock.sleep_until(max(end, clock.now_ms()) + cfg.audio.turn_gap_ms)

    async def _no_endpoint_watchdog(self, turn: int, deadline_ms: float) -> None:
        """End a turn whose speech the endpointer never closed (logged as no transcript)."""
        await self.clock.sleep_until(deadline_ms)
        st = self._states[turn]
        if not st.handled:
            st.handled = True
            self._finish(turn)

    def _on_play(self, turn: int, request: int, t_ms: float) -> None:
        started = self._states[turn].started
        if not started.done():
            started.set_result(t_ms)

    def _finish(self, turn: int) -> None:
        for fut in (self._states[turn].done, self._states[turn].started):
            if not fut.done():
                fut.set_result(self.clock.now_ms())

    # --- input side -----------------------------------------------------------------------------
    async def _consume_mic(self) -> None:
        """Feed every microphone frame to the endpointer and, while the agent speaks,
        to the barge-in detector."""
        async for frame in self.mic.frames():
            for ev in self.endpointer.process(frame.samples):
                if isinstance(ev, SpeechStart):
                    self.trace.append(SpeechStarted(self.clock.now_ms(), self._user_turn, ev.audio_ms))
                elif isinstance(ev, SpeechEnd) and self._user_turn >= 0:
                    self._on_utterance(self._user_turn, ev, self.endpointer.utterance_audio())
            self._check_barge_in(frame.samples)

    def _on_utterance(self, turn: int, ev: SpeechEnd, audio: np.ndarray) -> None:
        st = self._states[turn]
        if st.handled:
            return  # the turn's speech was already taken (e.g. split by a pause)
        if self._responding is not None and self.speaker.playing:
            # the agent is talking and did not yield: a half-duplex agent ignores this
            st.handled = True
            self._finish(turn)
            return
        st.handled = True
        self.trace.append(SpeechEnded(self.clock.now_ms(), turn, ev.audio_ms, ev.decided_ms))
        self._utterances.put_nowait((turn, audio))

    def _check_barge_in(self, samples: np.ndarray) -> None:
        if not self.config.barge_in.enabled:
            return
        # a separate detector VAD sees every frame, so its state is current when needed
        p = (self._barge_vad.speech_probability(samples) if self._barge_vad
             else self.endpointer.last_probability)
        r = self._responding
        if r is None or not self.speaker.playing:
            self.barge_in.reset()
            return
        if self.barge_in.process(p, agent_playing=True):
            self.barge_in.reset()
            detected = self.clock.now_ms()
            self.trace.append(BargeInDetected(detected, r.turn, p))
            self._state(r.turn, "speaking", "interrupted")
            self.speaker.stop(detected)  # within one output frame of the detection
            r.stream.cancel()
            r.tts_task.cancel()
            r.interrupted.set()

    def _state(self, turn: int, old: str, new: str) -> str:
        self.trace.append(StateChanged(self.clock.now_ms(), turn, old, new))
        return new

    # --- the agent: one utterance at a time ----------------------------------------------------
    async def _agent_loop(self) -> None:
        while True:
            turn, audio = await self._utterances.get()
            await self._handle_utterance(turn, audio)

    async def _handle_utterance(self, turn: int, utterance: np.ndarray) -> None:
        cfg, clock, trace = self.config, self.clock, self.trace
        spec = self._states[turn].spec
        state = self._state(turn, "listening", "processing")
        trace.append(STTStarted(clock.now_ms(), turn, len(utterance) / 16.0))
        text = await self.stages.stt.transcribe(utterance)
        trace.append(TranscriptFinal(clock.now_ms(), turn, text))
        if not text:
            self._state(turn, state, "idle")
            self._finish(turn)
            return
        name = spec.variant.name
        history = self._histories.setdefault(name, [])
        seed = cfg.llm.seed + self._seeds.get(name, 0)
        if not spec.warmup:
            self._seeds[name] = self._seeds.get(name, 0) + 1
        messages = [{"role": "system", "content": cfg.llm.system_prompt}, *history,
                    {"role": "user", "content": text}]
        said, interrupted = await self._respond(turn, spec.variant, messages, seed)
        if cfg.llm.history and not spec.warmup:
            history += [{"role": "user", "content": text}, {"role": "assistant", "content": said}]
        self._state(turn, "interrupted" if interrupted else "speaking", "idle")
        self._finish(turn)

    # --- output side ----------------------------------------------------------------------------
    async def _respond(self, turn: int, variant: Variant, messages: list[dict[str, str]],
                       seed: int) -> tuple[str, bool]:
        """Stream the LLM reply through the trigger policy into TTS and the speaker.

        Returns what the agent said (all of it, or what played before a barge-in) and
        whether it was interrupted.
        """
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
        resp = self._responding = _Response(turn, stream, tts_task)
        trace.append(LLMStarted(await stream.started(), turn))
        reply, n_tokens = "", 0
        it = aiter(stream)
        pending = asyncio.ensure_future(anext(it))
        cut = asyncio.ensure_future(resp.interrupted.wait())
        try:
            while True:
                deadline = policy.next_deadline_ms()
                timeout = None if deadline is None else max(deadline - clock.now_ms(), 0.0) / 1000.0
                done, _ = await asyncio.wait({pending, cut}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if cut in done or pending not in done:
                    if cut in done:
                        break
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
            if resp.interrupted.is_set():
                await self._drain(stream, pending)
                pending = None
            else:
                end_ms = stream.finished_ms if stream.finished_ms is not None else clock.now_ms()
                for w in words.flush():
                    trace.append(WordEmitted(end_ms, turn, w.index, w.text))
                trace.append(LLMFinished(end_ms, turn, n_tokens, False, reply))
                hand_to_tts(policy.flush(clock.now_ms()))
                chunks.put_nowait(None)
                await asyncio.wait({tts_task, cut}, return_when=asyncio.FIRST_COMPLETED)
                if not resp.interrupted.is_set():
                    self.speaker.close_response()
                    await asyncio.wait({played, cut}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
            cut.cancel()
            self._responding = None
        if not resp.interrupted.is_set():
            return reply.strip(), False
        await asyncio.gather(tts_task, return_exceptions=True)
        await self.stages.tts.idle()  # the in-flight synthesis has returned (its audio is dropped)
        if not trace.of(LLMFinished, turn):
            trace.append(LLMFinished(stream.finished_ms or clock.now_ms(), turn, n_tokens, True, reply))
        said = played_text(trace, turn)
        trace.append(ResponseCancelled(clock.now_ms(), turn, said, reply.strip()))
        return said, True

    @staticmethod
    async def _drain(stream, pending) -> None:
        """After ``cancel()``: consume the stream to its end so the generation worker has
        stopped (at most one more token) before the reply is closed."""
        stream.cancel()
        try:
            if pending is not None:
                await pending
            async for _ in stream:
                pass
        except StopAsyncIteration:
            pass
        await stream.join()

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


def played_text(trace: Trace, turn: int) -> str:
    """The words of ``turn``'s reply that were actually played before it stopped.

    A TTS request that played fully contributes its text; one cut off mid-way
    contributes the share of its words proportional to the share of its samples
    played (rounded down).
    """
    stop = next((e for e in reversed(trace.of(PlaybackStopped, turn))), None)
    starts = {e.request: e.sample_index for e in trace.of(PlaybackStarted, turn)}
    sizes = {e.request: e.samples for e in trace.of(TTSAudio, turn)}
    texts = {e.request: e.text for e in trace.of(TTSStarted, turn)}
    out = []
    for req in sorted(starts):
        n = sizes.get(req, 0)
        played_n = n if stop is None else max(0, min(stop.sample_index - starts[req], n))
        words = texts.get(req, "").split()
        k = len(words) if played_n >= n else int(len(words) * played_n / max(n, 1))
        out.extend(words[:k])
    return " ".join(out)


def _noise_rms(cfg: ExperimentConfig, turns: list[TurnSpec]) -> float:
    """White-noise RMS for ``echo.noise_snr_db``, against the mean speech RMS of the clips."""
    if cfg.echo.noise_snr_db is None or not turns:
        return 0.0
    rms = []
    for t in turns:
        s0, s1 = (int(x * 16) for x in t.speech_bounds_ms)
        seg = t.clip.audio[s0:s1]
        if len(seg):
            rms.append(float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))))
    return float(np.mean(rms)) * 10 ** (-cfg.echo.noise_snr_db / 20) if rms else 0.0
