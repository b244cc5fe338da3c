"""A registry: the factories of one stage kind by name (an engine, a VAD kind, a policy)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

F = TypeVar("F", bound=Callable)


class UnknownName(ValueError, KeyError):
    """A name no entry of a registry has; the message names the kind and lists the known names.

    Both a ``ValueError`` (a bad config value, as :func:`voicelab.vad.make_vad` raises) and
    a ``KeyError`` (a failed lookup by key)."""

    def __str__(self) -> str:  # KeyError would show the message's repr
        return str(self.args[0]) if self.args else ""


class Registry(Generic[F]):
    """Factories by name for one stage kind.

    ``entries`` (default: a new dict) is used as is, not copied: a registry can wrap a
    lower layer's table (``voicelab.vad.VADS``, ``voicelab.trigger.TRIGGERS``,
    ``voicelab.tts.ENGINES``) so that what is registered here is what the lower layer's
    own ``make_*`` function finds.

    Args:
        kind: what a name picks, for error messages (e.g. ``"STT engine"``).
        entries: the name -> factory table to hold.
    """

    def __init__(self, kind: str, entries: dict[str, F] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, F] = entries if entries is not None else {}

    @overload
    def register(self, name: str, factory: None = None, *, replace: bool = False) -> Callable[[F], F]: ...

    @overload
    def register(self, name: str, factory: F, *, replace: bool = False) -> F: ...

    def register(self, name: str, factory: F | None = None, *, replace: bool = False) -> F | Callable[[F], F]:
        """Register ``factory`` under ``name``; without ``factory``, a decorator that does.

        Returns the factory (so a decorated function stays what it was).

        Raises:
            ValueError: ``name`` is taken and ``replace`` is false, or ``name`` is empty.
        """
        def add(f: F) -> F:
            if not name:
                raise ValueError(f"a {self.kind} needs a non-empty name")
            if name in self._entries and not replace:
                raise ValueError(f"{self.kind} {name!r} is already registered (pass replace=True to replace it)")
            self._entries[name] = f
            return f
        return add if factory is None else add(factory)

    def unregister(self, name: str) -> F:
        """Remove ``name`` and return its factory.

        Raises:
            UnknownName: ``name`` is not registered (the message lists the names).
        """
        factory = self.get(name)
        del self._entries[name]
        return factory

    def get(self, name: str) -> F:
        """The factory registered under ``name``.

        Raises:
            UnknownName: ``name`` is not registered (the message lists the names).
        """
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "(none)"
            raise UnknownName(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
