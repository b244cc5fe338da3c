"""The event base class: a frozen record on the session clock, registered by class name for JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Event:
    """Base record. ``t_ms``: session-clock time at which the event happened."""

    t_ms: float
    _registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        Event._registry[cls.__name__] = cls

    def to_dict(self) -> dict:
        """JSON-ready dict with a ``type`` key naming the event class."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}

    @staticmethod
    def from_dict(d: dict) -> Event:
        """Inverse of :meth:`to_dict`. Raises ``KeyError`` for an unknown type."""
        d = dict(d)
        cls = Event._registry[d.pop("type")]
        return cls(**d)
