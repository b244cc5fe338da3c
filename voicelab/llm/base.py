"""The token-streaming LLM stage protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from voicelab.clock import SessionClock


@dataclass(frozen=True)
class Token:
    """A decoded text delta and the session time (ms) at which the model produced it."""

    t_ms: float
    text: str


class TokenStream(ABC):
    """An async iterator of :class:`Token` for one reply, cancellable mid-stream.

    ``started_ms`` / ``finished_ms`` are the session times at which the request
    reached the model (before prompt tokenization) and generation ended, stamped
    where the model runs. After the iterator ends,
    ``cancelled`` tells whether :meth:`cancel` cut it short.
    """

    started_ms: float | None = None
    finished_ms: float | None = None
    cancelled: bool = False

    def __aiter__(self) -> AsyncIterator[Token]:
        return self

    @abstractmethod
    async def __anext__(self) -> Token: ...

    @abstractmethod
    def cancel(self) -> None:
        """Stop generation as soon as possible (the worker stops at the next token)."""

    async def join(self) -> None:
        """Wait until the generation worker (if any) has exited."""

    async def started(self) -> float:
        """Wait until generation has started; return ``started_ms``."""
        raise NotImplementedError


class LLM(ABC):
    """Generates a reply to a chat, streaming decoded text deltas."""

    name: str = "llm"

    @abstractmethod
    def stream(self, messages: list[dict[str, str]], *, seed: int, clock: SessionClock) -> TokenStream:
        """Start generating a reply to ``messages`` (OpenAI-style role/content dicts).

        ``seed`` fixes sampling so the same history gives the same reply.
        """

    def warmup(self) -> None:
        """Run one throw-away generation so the first real call is not a cold start."""
