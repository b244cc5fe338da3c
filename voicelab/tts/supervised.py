"""A supervised TTS stage: failures and hangs fail one request, and the engine is restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from voicelab.tts.base import TTS, request_timeout_s
from voicelab.tts.process import TTSFailure

RestartListener = Callable[[int, bool, float, float, str], None]
"""``(attempt, ok, restart_ms, down_ms, error)`` after each restart attempt."""


class TTSUnavailable(TTSFailure):
    """TTS is being restarted after a failure, or gave up: this request is not tried."""


class SupervisedTTS(TTS):
    """Wraps the TTS engine ``factory`` builds (loaded and warmed) and keeps it running.

    A request that raises or takes longer than its limit (:func:`~voicelab.tts.base.request_timeout_s`: ``timeout_s``
    plus ``per_word_s`` per word of its text) raises :class:`TTSFailure`
    (the session then goes on as text only). The first failure starts a restart: after
    ``backoff_s``, then doubling (``backoff_s * 2**k``, at most ``attempts`` tries), a new
    engine is built off the event loop; meanwhile requests raise :class:`TTSUnavailable`
    at once. After ``attempts`` failed tries TTS stays down (every request raises).
    ``subscribe`` listeners hear each attempt (a session logs them as
    :class:`~voicelab.events.TTSRestarted`). One instance is shared by every session of
    a server, so one failure restarts the engine once.

    Attributes:
        inner: the running engine (replaced by a restart).
        failures: requests that failed (not counting :class:`TTSUnavailable`).
        gave_up: every restart attempt failed.
    """

    def __init__(self, factory: Callable[[], TTS], timeout_s: float | None = None, attempts: int = 5,
                 backoff_s: float = 0.25, per_word_s: float = 0.0) -> None:
        self._factory = factory
        self.inner = factory()
        self.timeout_s, self.attempts, self.backoff_s = timeout_s, attempts, backoff_s
        self.per_word_s = per_word_s
        self.failures = 0
        self.gave_up = False
        self._restart: asyncio.Task | None = None
        self._listeners: list[RestartListener] = []

    @classmethod
    def around(cls, other: SupervisedTTS, wrap: Callable[[TTS], TTS]) -> SupervisedTTS:
        """A supervisor of ``wrap(engine)`` for ``other``'s running engine, with its settings;
        a restart builds ``wrap(new engine)``. ``other`` keeps its engine (a run that injects
        faults does not touch the stages other runs share)."""
        new = cls.__new__(cls)
        new._factory = lambda: wrap(other._factory())
        new.inner = wrap(other.inner)
        new.timeout_s, new.attempts, new.backoff_s = other.timeout_s, other.attempts, other.backoff_s
        new.per_word_s = other.per_word_s
        new.failures, new.gave_up, new._restart, new._listeners = 0, False, None, []
        return new

    # what callers read of the engine
    @property
    def sample_rate(self) -> int:  # type: ignore[override]
        return self.inner.sample_rate

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    @property
    def model_path(self) -> Any:
        return getattr(self.inner, "model_path", "")

    @property
    def info(self) -> dict:
        return getattr(self.inner, "info", {"engine": type(self.inner).__name__})

    def subscribe(self, listener: RestartListener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: RestartListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def restarting(self) -> bool:
        return self._restart is not None

    async def synthesize(self, text: str) -> np.ndarray:
        """The engine's audio for ``text`` (float32 ``(samples,)`` at :attr:`sample_rate` Hz).

        Raises:
            TTSUnavailable: a restart is running, or TTS gave up.
            TTSFailure: the engine raised or timed out (a restart starts).
        """
        if self.gave_up:
            raise TTSUnavailable(f"TTS is down: {self.attempts} restart attempts failed")
        if self._restart is not None:
            raise TTSUnavailable("TTS is restarting after a failure")
        inner = self.inner
        limit = request_timeout_s(text, self.timeout_s, self.per_word_s)
        try:
            if limit is None:
                return await inner.synthesize(text)
            return await asyncio.wait_for(inner.synthesize(text), limit)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - any engine failure fails this request only
            reason = (f"no audio within {limit:g} s" if isinstance(err, TimeoutError)
                      else f"{type(err).__name__}: {err}")
            self.failures += 1
            if inner is self.inner and self._restart is None:
                self._restart = asyncio.get_running_loop().create_task(self._restart_loop(inner), name="tts-restart")
            raise TTSFailure(reason) from err

    async def idle(self) -> None:
        await self.inner.idle()

    def warmup(self) -> None:
        self.inner.warmup()

    async def wait_restarted(self) -> None:
        """Return once no restart is running."""
        if self._restart is not None:
            await asyncio.shield(self._restart)

    def _build(self) -> TTS:
        tts = self._factory()
        tts.warmup()
        return tts

    async def _restart_loop(self, failed: TTS) -> None:
        clock = asyncio.get_running_loop().time  # the session clock's time base
        down_at = clock()
        try:
            for attempt in range(1, self.attempts + 1):
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                t0 = clock()
                try:
                    new, error = await asyncio.to_thread(self._build), ""
                except Exception as err:  # noqa: BLE001 - the next attempt, or give up
                    new, error = None, f"{type(err).__name__}: {err}"
                now = clock()
                for listener in list(self._listeners):
                    listener(attempt, new is not None, (now - t0) * 1000.0, (now - down_at) * 1000.0, error)
                if new is not None:
                    self.inner = new
                    await asyncio.to_thread(_close, failed)
                    return
            self.gave_up = True
        finally:
            self._restart = None

    def close(self) -> None:
        """Stop a running restart and the engine (its worker process, if any)."""
        if self._restart is not None:
            self._restart.cancel()
        _close(self.inner)


def _close(tts: TTS) -> None:
    close = getattr(tts, "close", None)
    if close is not None:
        close()
