"""The store's writer thread: database work off the event loop, in submission order."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

Op = Callable[[Session], Any]
BATCH = 500
"""Most operations committed in one transaction (they are queued faster than one commit
each would take: a reply's trace is a few hundred events)."""


class StoreWriter:
    """Runs database operations on one thread, in the order they were submitted.

    :meth:`submit` never blocks (the audio path calls it); :meth:`call` returns a
    :class:`~concurrent.futures.Future` of an operation's result, so a read issued after
    writes sees them. Operations queued together commit in one transaction; if that
    transaction fails, each is retried alone, and the failing ones are logged and counted
    in :attr:`errors` (a lost write never stops a session); a :meth:`call` that fails
    hands its exception to its future instead.
    """

    def __init__(self, engine: Engine, log: Callable[[str], None] = print) -> None:
        self.engine = engine
        self.errors: list[str] = []
        self._log = log
        self._queue: queue.SimpleQueue[tuple[Op, Future | None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="voicelab-store", daemon=True)
        self._thread.start()

    def submit(self, op: Op) -> None:
        """Queue ``op(session)``; returns at once."""
        self._queue.put((op, None))

    def call(self, op: Op) -> Future:
        """Queue ``op(session)``; the future holds its result (or its exception)."""
        future: Future = Future()
        self._queue.put((op, future))
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is written."""
        self.call(lambda s: None).result(timeout)

    def close(self) -> None:
        """Write what is queued, then stop the thread and release the engine."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.engine.dispose()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = []
            while item is not None:
                batch.append(item)
                if len(batch) >= BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._write(batch)
            if item is None:
                return

    def _write(self, batch: list[tuple[Op, Future | None]]) -> None:
        if not batch:
            return
        try:
            with Session(self.engine, expire_on_commit=False) as s, s.begin():
                results = [op(s) for op, _ in batch]
        except Exception:  # noqa: BLE001 - retried one by one below, to keep every good write
            results = None
        if results is not None:
            for (_, future), result in zip(batch, results):
                if future is not None:
                    future.set_result(result)
            return
        for op, future in batch:
            try:
                with Session(self.engine, expire_on_commit=False) as s, s.begin():
                    result = op(s)
            except Exception as err:  # noqa: BLE001 - logged; the session goes on
                if future is not None:  # the caller gets it
                    future.set_exception(err)
                    continue
                message = f"store: a write failed: {type(err).__name__}: {err}"
                self.errors.append(message)
                self._log(message)
            else:
                if future is not None:
                    future.set_result(result)
