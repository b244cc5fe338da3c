"""transformers causal LM with token-by-token streaming from a worker thread."""

from __future__ import annotations

import asyncio
import os
import threading

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from voicelab.assets.paths import resolve_model_path
from voicelab.clock import SessionClock
from voicelab.config import LLMConfig
from voicelab.llm.base import LLM, Token, TokenStream
from voicelab.llm.prefix_cache import PrefixCache

_END = object()


class _CancelCriteria(StoppingCriteria):
    """Stops ``generate`` at the next token once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool,
                          device=input_ids.device)


class _LoopStreamer(BaseStreamer):
    """Decodes tokens incrementally and hands each text delta to the event loop.

    Each delta is stamped with the session clock in the generation thread, when the
    model produced it. Deltas ending in an incomplete UTF-8 sequence (``\\ufffd``)
    are held until the next token completes them (as transformers' TextStreamer does).
    """

    def __init__(self, tokenizer, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue,
                 clock: SessionClock) -> None:
        self._tok = tokenizer
        self._loop = loop
        self._queue = queue
        self._clock = clock
        self._ids: list[int] = []
        self._printed = ""
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt
            self._prompt_seen = True
            return
        self._ids.extend(value.reshape(-1).tolist())
        text = self._tok.decode(self._ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return
        delta, self._printed = text[len(self._printed):], text
        if delta:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, Token(self._clock.now_ms(), delta))

    def end(self) -> None:
        text = self._tok.decode(self._ids, skip_special_tokens=True)
        delta = text[len(self._printed):]
        if delta:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, Token(self._clock.now_ms(), delta))
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (_END, self._clock.now_ms()))


class _ThreadTokenStream(TokenStream):
    def __init__(self, llm: TransformersLLM, messages, seed: int, clock: SessionClock) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._cancel = threading.Event()
        self._started = self._loop.create_future()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(llm, messages, seed, clock),
                                       name="llm-generate", daemon=True)
        self.thread.start()

    def _run(self, llm: TransformersLLM, messages, seed: int, clock: SessionClock) -> None:
        try:
            self._loop.call_soon_threadsafe(self._set_started, clock.now_ms())
            if llm.config.nice:
                # Linux: PRIO_PROCESS with a thread id sets that thread's niceness. Relative to
                # the niceness it started with, so a niced process (a Ray worker runs at 15)
                # keeps generation below TTS rather than above it.
                tid = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + llm.config.nice))
            inputs = llm.encode(messages)
            streamer = _LoopStreamer(llm.tokenizer, self._loop, self._queue, clock)
            torch.manual_seed(seed)
            llm.generate(inputs, streamer, StoppingCriteriaList([_CancelCriteria(self._cancel)]))
        except BaseException as err:  # noqa: BLE001 - surfaced to the consumer
            self._error = err
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (_END, clock.now_ms()))
            self._loop.call_soon_threadsafe(self._set_started, float("nan"))

    def _set_started(self, t: float) -> None:
        if not self._started.done():
            self.started_ms = t
            self._started.set_result(t)

    async def started(self) -> float:
        return await self._started

    async def __anext__(self) -> Token:
        item = await self._queue.get()
        if isinstance(item, tuple) and item[0] is _END:
            self.finished_ms = item[1]
            self.cancelled = self._cancel.is_set()
            if self._error is not None:
                raise RuntimeError(f"LLM generation failed: {self._error}") from self._error
            raise StopAsyncIteration
        return item

    def cancel(self) -> None:
        self._cancel.set()

    async def join(self) -> None:
        """Wait until the generation thread has exited."""
        await asyncio.to_thread(self.thread.join)


class TransformersLLM(LLM):
    """A chat model through transformers, sampled with temperature / top-p.

    Defaults (temperature 0.3, top_p 0.9, max_new_tokens 250) come from the
    project's issue #2. ``torch.set_num_threads(config.threads)`` is applied at load;
    the weights are cast to ``config.dtype`` at load (the KV cache, prefix cache included,
    then holds that dtype too).
    """

    name = "transformers"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.model_path = resolve_model_path(config.model)
        torch.set_num_threads(config.threads)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
        self.model = AutoModelForCausalLM.from_pretrained(str(self.model_path),
                                                          dtype=getattr(torch, config.dtype))
        self.model.eval()
        self.prefix_cache = PrefixCache() if config.prefix_cache else None
        self.last_cached_tokens = 0
        """Prompt tokens the last ``generate`` took from the prefix cache (0: none)."""

    def encode(self, messages: list[dict[str, str]]) -> dict[str, torch.Tensor]:
        """Chat-template the messages into ``input_ids``/``attention_mask`` (shape ``[1, n]``)."""
        enc = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                 return_tensors="pt", return_dict=True)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def generate(self, inputs: dict[str, torch.Tensor], streamer: BaseStreamer | None,
                 stopping: StoppingCriteriaList | None = None, max_new_tokens: int | None = None):
        """Blocking ``model.generate`` with the configured sampling (temperature, top-p and the
        optional ``repetition_penalty`` / ``no_repeat_ngram_size``).

        With ``llm.prefix_cache``, the longest cached token prefix of the prompt is not
        encoded again (:mod:`voicelab.llm.prefix_cache`), and this generation's cache is
        kept for the next turn. Returns the token ids, shape ``[1, prompt + new]``.
        """
        c = self.config
        sample = c.temperature > 0
        extra: dict = {}
        self.last_cached_tokens = 0
        if self.prefix_cache is not None:
            cache, n = self.prefix_cache.lookup(inputs["input_ids"][0])
            extra = {"past_key_values": cache if cache is not None else DynamicCache(),
                     "return_dict_in_generate": True}
            self.last_cached_tokens = n
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                streamer=streamer,
                stopping_criteria=stopping,
                max_new_tokens=max_new_tokens or c.max_new_tokens,
                do_sample=sample,
                temperature=c.temperature if sample else None,
                top_p=c.top_p if sample else None,
                top_k=None,
                repetition_penalty=c.repetition_penalty if c.repetition_penalty != 1.0 else None,
                no_repeat_ngram_size=c.no_repeat_ngram_size or None,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                **extra,
            )
        if self.prefix_cache is None:
            return out
        self.prefix_cache.store(out.sequences[0], out.past_key_values)
        return out.sequences

    def stream(self, messages, *, seed: int, clock: SessionClock) -> TokenStream:
        return _ThreadTokenStream(self, messages, seed, clock)

    def warmup(self) -> None:
        self.generate(self.encode([{"role": "user", "content": "Hello"}]), None, max_new_tokens=8)
