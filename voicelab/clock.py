"""The session clock, and a virtual-time event loop for exact tests.

The session clock reads the running asyncio loop's monotonic ``time()``; t = 0 is
the moment the first input sample is captured (:meth:`SessionClock.start`).
Worker threads may call :meth:`SessionClock.now_ms` (``loop.time()`` is
``time.monotonic()`` for the standard loop, which is thread-safe).

:class:`VirtualTimeLoop` is a selector event loop whose clock only advances when
every task is waiting on a timer: ``asyncio.sleep(d)`` then takes exactly ``d`` of
virtual time and no wall time. Fake stages that ``await asyncio.sleep(delay)``
therefore produce traces with exact, reproducible timestamps.
"""

from __future__ import annotations

import asyncio
import selectors


class SessionClock:
    """Milliseconds since the session started, on the running loop's clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._t0 = self._loop.time()

    def start(self, elapsed_ms: float = 0.0, at: float | None = None) -> None:
        """Set t = ``elapsed_ms`` at loop time ``at`` (default: now): t = 0 is when the first
        input sample was captured, ``elapsed_ms`` before ``at`` (e.g. a first network packet of
        that duration arrived at ``at``)."""
        self._t0 = (self._loop.time() if at is None else at) - elapsed_ms / 1000.0

    def now_ms(self) -> float:
        """Current session time in ms (thread-safe on a real loop)."""
        return (self._loop.time() - self._t0) * 1000.0

    async def sleep_until(self, t_ms: float) -> None:
        """Sleep until session time ``t_ms`` (returns at once if it has passed)."""
        delay = t_ms - self.now_ms()
        if delay > 0:
            await asyncio.sleep(delay / 1000.0)


class _VirtualSelector:
    """Wraps a real selector: ready I/O is served at once, otherwise time jumps."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._selector = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout: float | None = None):
        ready = self._selector.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # nothing scheduled: only another thread can wake us
            return self._selector.select(None)
        self._loop._virtual_now += timeout
        return []

    def __getattr__(self, name: str):
        return getattr(self._selector, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time (for tests with scripted fake stages).

    Work done in other threads is not on the virtual clock; fakes must be async
    and express their cost as ``await asyncio.sleep(seconds)``.
    """

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self._virtual_now


def run_virtual(coro):
    """Run ``coro`` to completion on a fresh :class:`VirtualTimeLoop`."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
