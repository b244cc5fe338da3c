"""The failing network sink of ``voicelab serve`` (``faults.sink``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from voicelab.faults.plan import FaultPlan
from voicelab.faults.stages import faulty_request

Send = Callable[[str | bytes], Awaitable[None]]
"""Sends one WebSocket frame to the client."""


class FaultySend:
    """``send`` with ``plan``'s failures, one request per frame: raise
    (:class:`~voicelab.faults.plan.InjectedFault`), hang ``hang_ms`` then raise, drop the frame
    (``empty``), or take ``slow_factor`` times as long (``slow``)."""

    def __init__(self, send: Send, plan: FaultPlan) -> None:
        self.send, self.plan = send, plan

    async def __call__(self, frame: str | bytes) -> None:
        await faulty_request(self.plan, lambda: self.send(frame), None)
