"""Response streaming: one reply from LLM tokens through the trigger policy to the speaker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voicelab.config import Variant
from voicelab.events import (
    ChunkTriggered,
    LLMFinished,
    LLMStarted,
    LLMToken,
    ResponseCancelled,
    TurnFailed,
    WordEmitted,
)
from voicelab.llm.base import TokenStream
from voicelab.session.context import SessionContext
from voicelab.session.played import played_text
from voicelab.session.tts_worker import tts_worker
from voicelab.trigger import make_trigger
from voicelab.trigger.base import TextChunk
from voicelab.trigger.words import WordTracker


@dataclass
class Response:
    """The reply being generated and played, with what a barge-in must cancel."""

    turn: int
    stream: TokenStream
    tts_task: asyncio.Task
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)
    text: str = ""  # generated so far

    def cancel(self) -> None:
        """Stop generation (a stopping criterion), drop pending TTS, wake the streamer."""
        self.stream.cancel()
        self.tts_task.cancel()
        self.interrupted.set()


class ResponseStreamer:
    """Streams replies: LLM tokens -> words -> trigger policy -> TTS worker -> speaker.

    Responsibilities:

    1. run the LLM token stream and log every token and complete word;
    2. hand the chunks the trigger policy releases (on a token, or at its deadline) to
       a :func:`~voicelab.session.tts_worker.tts_worker`, so synthesis of chunk k
       overlaps generation of k+1;
    3. wait until the reply has played, or, once :meth:`Response.cancel` was called
       (a barge-in), wind generation and synthesis down and log what was said.

    :attr:`current` is the reply in flight (None between replies).
    """

    def __init__(self, ctx: SessionContext) -> None:
        self._ctx = ctx
        self.current: Response | None = None

    def _apologize(self, turn: int, reply: str, words: WordTracker, policy, hand_to_tts) -> str:
        """After an LLM failure: :data:`APOLOGY` goes through the words and the trigger
        policy like generated text (so TTS says it, if TTS works); the reply so far + it."""
        now = self._ctx.clock.now_ms()
        text = APOLOGY if reply else APOLOGY.lstrip()
        for w in words.push(text):
            self._ctx.trace.append(WordEmitted(now, turn, w.index, w.text))
        hand_to_tts(policy.push(text, now))
        return reply + text

    async def respond(self, turn: int, variant: Variant, messages: list[dict[str, str]],
                      seed: int, held: bool = False) -> tuple[str, bool]:
        """Stream the LLM reply to ``messages`` through the trigger policy into TTS and the speaker.

        ``held``: a speculative reply; the speaker holds its audio until released.
        Returns what the agent said (all of it, or what played before a barge-in) and
        whether it was interrupted.
        """
        ctx = self._ctx
        clock, trace = ctx.clock, ctx.trace
        policy = make_trigger(variant.trigger.policy, **variant.trigger.params())
        words = WordTracker()
        played = ctx.speaker.open_response(turn, held=held)
        chunks: asyncio.Queue[tuple[int, TextChunk] | None] = asyncio.Queue()
        tts_task = asyncio.create_task(tts_worker(ctx, turn, chunks), name=f"tts-{turn}")
        n_chunks = 0

        def hand_to_tts(ready: list[TextChunk]) -> None:
            nonlocal n_chunks
            for c in ready:
                trace.append(ChunkTriggered(clock.now_ms(), turn, n_chunks, c.text,
                                            c.first_word, c.last_word))
                chunks.put_nowait((n_chunks, c))
                n_chunks += 1

        stream = ctx.stages.llm.stream(messages, seed=seed, clock=clock)
        resp = self.current = Response(turn, stream, tts_task)
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
                except Exception as err:  # noqa: BLE001 - the LLM failed: say sorry instead
                    pending = None
                    trace.append(TurnFailed(clock.now_ms(), turn, "llm", f"{type(err).__name__}: {err}"))
                    reply = self._apologize(turn, reply, words, policy, hand_to_tts)
                    resp.text = reply
                    break
                pending = asyncio.ensure_future(anext(it))
                trace.append(LLMToken(tok.t_ms, turn, n_tokens, tok.text))
                n_tokens += 1
                reply += tok.text
                resp.text = reply
                for w in words.push(tok.text):
                    trace.append(WordEmitted(tok.t_ms, turn, w.index, w.text))
                hand_to_tts(policy.push(tok.text, clock.now_ms()))
            if resp.interrupted.is_set():
                await _drain(stream, pending)
                pending = None
            else:
                end_ms = clock.now_ms() if pending is None or stream.finished_ms is None else stream.finished_ms
                for w in words.flush():
                    trace.append(WordEmitted(end_ms, turn, w.index, w.text))
                trace.append(LLMFinished(end_ms, turn, n_tokens, False, reply))
                hand_to_tts(policy.flush(clock.now_ms()))
                chunks.put_nowait(None)
                await asyncio.wait({tts_task, cut}, return_when=asyncio.FIRST_COMPLETED)
                if not resp.interrupted.is_set():
                    ctx.speaker.close_response()
                    await asyncio.wait({played, cut}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the session ended mid-reply (e.g. its client went away)
            stream.cancel()
            tts_task.cancel()
            await asyncio.gather(tts_task, stream.join(), return_exceptions=True)
            if not trace.of(LLMFinished, turn):
                trace.append(LLMFinished(clock.now_ms(), turn, n_tokens, True, reply))
            raise
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
            cut.cancel()
            self.current = None
        if not resp.interrupted.is_set():
            return reply.strip(), False
        await asyncio.gather(tts_task, return_exceptions=True)
        await ctx.stages.tts.idle()  # the in-flight synthesis has returned (its audio is dropped)
        if not trace.of(LLMFinished, turn):
            trace.append(LLMFinished(stream.finished_ms or clock.now_ms(), turn, n_tokens, True, reply))
        said = played_text(trace, turn)
        trace.append(ResponseCancelled(clock.now_ms(), turn, said, reply.strip()))
        return said, True


APOLOGY = " Sorry, I could not answer that. Could you say it again?"
"""What the agent says when its LLM fails mid-turn (after whatever it had said)."""


async def _drain(stream: TokenStream, pending: asyncio.Future | None) -> None:
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
