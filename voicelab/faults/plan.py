"""Which requests of a stage fail: the ``at`` list, and seeded draws for ``probability``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from voicelab.config import StageFault

STAGE_IDS = {"stt": 1, "llm": 2, "tts": 3, "sink": 4}
"""Part of each draw's seed, so the stages' draws are independent."""

FaultListener = Callable[[str, int, str], None]
"""``(stage, request, kind)`` when a fault is injected (a session logs ``FaultInjected``)."""


class InjectedFault(RuntimeError):
    """The failure a ``raise`` or ``hang`` fault makes a request raise."""


class FaultPlan:
    """Counts one stage's requests and says which fail.

    Request k fails if k is in ``spec.at`` or a draw from ``numpy.random.default_rng([seed,
    stage id, k])`` is under ``spec.probability``: the same config fails the same requests
    in every run, whatever else the run does. ``listeners`` hear every injected fault.
    """

    def __init__(self, stage: str, spec: StageFault, seed: int) -> None:
        self.stage, self.spec, self.seed = stage, spec, seed
        self.requests = 0
        self.injected: list[int] = []
        self.listeners: list[FaultListener] = []

    def fails(self, request: int) -> bool:
        """Whether request ``request`` (0-based) fails (pure: no counting)."""
        if request in self.spec.at:
            return True
        p = self.spec.probability
        return p > 0 and float(np.random.default_rng([self.seed, STAGE_IDS[self.stage], request]).random()) < p

    def next(self) -> tuple[int, bool]:
        """Count a new request: its number and whether it fails (listeners are told)."""
        k = self.requests
        self.requests += 1
        hit = self.fails(k)
        if hit:
            self.injected.append(k)
            for listener in list(self.listeners):
                listener(self.stage, k, self.spec.kind)
        return k, hit
