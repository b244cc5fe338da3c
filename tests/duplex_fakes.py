"""A small fake corpus for the duplex tests: items with the fields the duplex code reads and
synthetic audio (seeded noise bursts as "speech", digital silence elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SR_MS = 16


@dataclass(frozen=True)
class FakeItem:
    id: str
    kind: str
    flags: tuple[str, ...]
    speech_ms: tuple[float, float]
    recording: str
    transcript: str = "fake words"
    pause_ms: float = 0.0
    cut_ms: float | None = None
    silences: tuple[tuple[float, float, str], ...] = ()
    duration_ms: float = 0.0
    amplitude: float = 0.1
    audio: np.ndarray = field(default=None, compare=False, repr=False)


def _audio(speech_ms: tuple[float, float], duration_ms: float, amplitude: float, seed: int,
           gap: tuple[float, float] | None = None) -> np.ndarray:
    x = np.zeros(int(duration_ms * SR_MS), dtype=np.float32)
    a, b = int(speech_ms[0] * SR_MS), int(speech_ms[1] * SR_MS)
    x[a:b] = amplitude * np.random.default_rng(seed).standard_normal(b - a).astype(np.float32)
    if gap is not None:
        x[int(gap[0] * SR_MS):int(gap[1] * SR_MS)] = 0.0
    return x


def eot(item_id: str, speech_ms: tuple[float, float], flags: tuple[str, ...] = (), amplitude: float = 0.1,
        seed: int = 0) -> FakeItem:
    dur = speech_ms[1] + 2000.0
    return FakeItem(item_id, "eot", flags, speech_ms, f"/c/sources/{item_id}.wav", duration_ms=dur,
                    amplitude=amplitude, silences=((speech_ms[1], dur, "eot"),),
                    audio=_audio(speech_ms, dur, amplitude, seed))


def hold(item_id: str, rec: str, speech_ms: tuple[float, float], cut_ms: float, pause_ms: float,
         natural_gap: tuple[float, float], seed: int = 0) -> FakeItem:
    """A hold item: ``natural_gap`` (containing ``cut_ms``) in the recording, widened by the pause."""
    g = (natural_gap[0], natural_gap[1] + pause_ms)
    s = (speech_ms[0], speech_ms[1] + pause_ms)
    dur = s[1] + 2000.0
    return FakeItem(item_id, "hold", (), s, f"/c/sources/{rec}.wav", pause_ms=pause_ms, cut_ms=cut_ms,
                    silences=((g[0], g[1], "hold"), (s[1], dur, "eot")), duration_ms=dur,
                    audio=_audio(s, dur, 0.1, seed, gap=g))


def fake_corpus() -> list[FakeItem]:
    """6 eot turns (4 recordings... each its own), 2 backchannels, 1 short non-backchannel,
    2 hold items, 1 too-long eot item (outside TURN_SPEECH_MS)."""
    items = [eot(f"rec{i}", (200.0 + 10 * i, 1500.0 + 100 * i), seed=i) for i in range(6)]
    items += [eot("yes", (100.0, 400.0), ("short", "backchannel"), seed=10),
              eot("okay", (120.0, 500.0), ("short", "backchannel"), seed=11),
              eot("hello there", (100.0, 900.0), ("short",), seed=12),
              eot("long", (0.0, 12000.0), seed=13)]
    items += [hold("rec0+700ms@800", "rec0", (200.0, 1500.0), 800.0, 700.0, (760.0, 840.0), seed=20),
              hold("rec3+300ms@900", "rec3", (230.0, 1800.0), 900.0, 300.0, (850.0, 950.0), seed=21)]
    return items
