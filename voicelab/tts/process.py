"""TTS in a worker process: a crash or a hang in synthesis cannot take the agent down."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from voicelab.config import TTSConfig
from voicelab.tts.base import TTS, request_timeout_s

START_TIMEOUT_S = 120.0
"""Longest wait for the worker to load and warm its model."""


class TTSFailure(RuntimeError):
    """A synthesis request failed: the engine raised, timed out, or its process died."""


def _worker(conn: Connection, config: dict[str, Any]) -> None:
    """The child: load ``make_tts(config)``, warm it, then answer texts with audio bytes."""
    from voicelab.tts import make_tts

    try:
        tts = make_tts(TTSConfig.model_validate(config))
        tts.warmup()
        conn.send(("ready", tts.sample_rate, str(getattr(tts, "model_path", "")), getattr(tts, "info", {})))
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", f"{type(err).__name__}: {err}"))
        return
    while True:
        try:
            text = conn.recv()
        except (EOFError, OSError):
            return
        if text is None:
            return
        try:
            conn.send(("audio", np.ascontiguousarray(tts.synthesize_sync(text), dtype=np.float32).tobytes()))
        except Exception as err:  # noqa: BLE001 - one failed request; the worker goes on
            conn.send(("error", f"{type(err).__name__}: {err}"))


class ProcessTTS(TTS):
    """The ``tts.engine`` of ``config`` run in a spawned worker process (``tts.isolation: process``).

    Requests go over a pipe one at a time (text in, float32 ``(samples,)`` at
    :attr:`sample_rate` Hz out) from one dedicated thread of this process, so a request
    is awaited like :class:`~voicelab.tts.base.ThreadedTTS`'s. A request that raises in
    the worker, exceeds its limit (``timeout_s`` plus ``per_word_s`` per word, as
    :func:`~voicelab.tts.base.request_timeout_s`; the worker is then killed) or finds the worker dead
    raises :class:`TTSFailure`; :meth:`close` stops the worker. What the pipe costs per
    request is measured by ``benchmarks/tts_isolation.py``.

    Raises (constructor):
        TTSFailure: the worker could not load its model (the message says why) or did not
            start within :data:`START_TIMEOUT_S`.
    """

    def __init__(self, config: TTSConfig, timeout_s: float | None = None, per_word_s: float = 0.0) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self.per_word_s = per_word_s
        ctx = mp.get_context("spawn")  # never fork a process holding torch / onnxruntime threads
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, config.model_dump(mode="json")),
                                   name="voicelab-tts", daemon=True)
        t0 = time.perf_counter()
        self.process.start()
        child.close()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-pipe")
        reply = self._receive(START_TIMEOUT_S, "start")
        if reply[0] != "ready":
            self.close()
            raise TTSFailure(f"the TTS worker failed to start: {reply[1]}")
        _, self.sample_rate, self.model_path, self.info = reply
        self.name = f"{config.engine} (process)"
        self.start_ms = (time.perf_counter() - t0) * 1000.0

    def _receive(self, timeout: float | None, what: str) -> tuple:
        try:
            if not self._conn.poll(timeout):
                self.process.kill()
                raise TTSFailure(f"the TTS worker took longer than {timeout:g} s to {what} (killed)")
            return self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            raise TTSFailure(f"the TTS worker died (exit code {self.process.exitcode})") from None

    def synthesize_sync(self, text: str) -> np.ndarray:
        """Blocking: one request to the worker.

        Raises:
            TTSFailure: the engine raised, the request timed out, or the worker is gone.
        """
        try:
            self._conn.send(text)
        except (OSError, BrokenPipeError):
            raise TTSFailure(f"the TTS worker died (exit code {self.process.exitcode})") from None
        reply = self._receive(request_timeout_s(text, self.timeout_s, self.per_word_s), "synthesize")
        if reply[0] == "error":
            raise TTSFailure(reply[1])
        return np.frombuffer(reply[1], dtype=np.float32)

    async def synthesize(self, text: str) -> np.ndarray:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.synthesize_sync, text)

    async def idle(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    def warmup(self) -> None:
        """Nothing: the worker warms its model before it reports ready."""

    def close(self) -> None:
        """Stop the worker (asked, then killed after 5 s) and the pipe thread."""
        try:
            self._conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(5.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self._conn.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
