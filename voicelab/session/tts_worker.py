"""The TTS worker: synthesizes a reply's text chunks in order and queues their audio."""

from __future__ import annotations

import asyncio
import math
from collections import deque

from voicelab.events import TTSAudio, TTSFailed, TTSStarted
from voicelab.session.context import ConversationState, SessionContext
from voicelab.trigger.base import TextChunk
from voicelab.tts.process import TTSFailure


async def tts_worker(ctx: SessionContext, turn: int,
                     chunks: asyncio.Queue[tuple[int, TextChunk] | None]) -> None:
    """Synthesize ``turn``'s chunks in order, one request at a time, and queue their audio.

    ``chunks`` yields ``(chunk_index, chunk)`` pairs and ``None`` after the last one.
    Synthesis of request k overlaps generation of the chunks after it.

    With ``tts.coalesce``, chunks that queued up while the previous request was
    synthesizing are joined into the next request, up to ``tts.coalesce_growth``
    times the previous request's words. Where Kokoro synthesizes faster than real time
    (RTF 0.2-0.3 on 2 threads of a Zen 5, ``docs/results/tts_first_chunk``), a request about
    twice as long as the previous one is ready before the previous one has finished playing.

    If a request fails (:class:`~voicelab.tts.process.TTSFailure`: the engine raised,
    timed out, or is restarting), :class:`~voicelab.events.TTSFailed` is logged and the rest
    of the reply is not synthesized: it goes on as text only (the chunks are still
    triggered and logged), and the audio already queued plays out.
    """
    trace, clock, cfg, tts = ctx.trace, ctx.clock, ctx.config.tts, ctx.stages.tts
    pending: deque[tuple[int, TextChunk]] = deque()
    request, prev_words, end, degraded = 0, 0, False, False

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
        if degraded:  # text only from here on
            continue
        text = "".join(c.text for _, c in batch).strip()
        trace.append(TTSStarted(clock.now_ms(), turn, request, tuple(i for i, _ in batch), text))
        try:
            audio = await tts.synthesize(text)
        except TTSFailure as err:
            trace.append(TTSFailed(clock.now_ms(), turn, request, str(err)))
            degraded = True
            continue
        trace.append(TTSAudio(clock.now_ms(), turn, request, len(audio), tts.sample_rate))
        if request == 0 and not ctx.speaker.held:  # a held (speculative) reply: at its commit
            ctx.transition(turn, ConversationState.PROCESSING, ConversationState.SPEAKING)
        ctx.speaker.enqueue(turn, request, audio)
        request, prev_words = request + 1, words


def _n_words(chunk: TextChunk) -> int:
    return chunk.last_word - chunk.first_word + 1
