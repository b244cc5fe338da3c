"""The echo canceller interface."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class EchoCanceller(ABC):
    """Removes the echo of ``reference`` (what the loudspeaker played) from ``near`` (the
    microphone), block by block, adapting as it goes.

    Attributes:
        name: engine name for summaries; ``frame_samples``: the engine's block, samples;
        ``latency_samples``: how much later than its input the output comes out;
        ``info``: its settings, for summaries and the trace.
    """

    name: str = "aec"
    frame_samples: int
    latency_samples: int = 0
    info: dict

    @abstractmethod
    def process(self, near: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Cancel one block.

        Args:
            near: float32 ``(n,)`` microphone samples at the canceller's rate, full scale ±1.
            reference: float32 ``(n,)`` played samples over the same interval, same rate.

        Returns:
            float32 ``(n,)``: ``near`` with the echo removed.

        Raises:
            ValueError: lengths differ or are not a multiple of :attr:`frame_samples`.
        """

    def close(self) -> None:
        """Free native state (idempotent)."""

    def _check(self, near: np.ndarray, reference: np.ndarray) -> None:
        if len(near) != len(reference) or len(near) % self.frame_samples:
            raise ValueError(f"{self.name}: near ({len(near)}) and reference ({len(reference)}) must be the "
                             f"same length, a multiple of {self.frame_samples} samples")
