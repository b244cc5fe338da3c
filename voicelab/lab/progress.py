"""Per-turn progress of a scripted session: a tqdm bar with the last turn's voice-to-voice."""

from __future__ import annotations

import math

from tqdm import tqdm

from voicelab.events import Event
from voicelab.live import turn_completed
from voicelab.measure.live import LiveTurnMeter


class TurnProgress:
    """A trace listener that advances a tqdm bar (on stderr) as each turn ends, showing the
    turn's voice-to-voice (ms) and how many turns got a reply.

    A turn ends when :func:`voicelab.live.turn_completed` says so (its state returns to
    ``idle``), once; its voice-to-voice is measured from its own events
    (:class:`~voicelab.measure.live.LiveTurnMeter`), the same figure ``turns.csv`` will hold.
    ``total``: turns planned; ``desc``: the bar's label; ``min_barge_in_ms``: the run config's
    ``barge_in.min_barge_in_ms`` (ms); ``disable=True`` shows nothing (quiet runs, notebooks).
    """

    def __init__(self, total: int, desc: str, min_barge_in_ms: float, disable: bool = False) -> None:
        self.bar = tqdm(total=total, desc=desc, unit="turn", disable=disable, leave=True)
        self._meter = LiveTurnMeter(min_barge_in_ms)
        self._done: set[int] = set()
        self.answered = 0
        self.text = ""
        """What the bar shows after the turn count (also with ``disable``)."""

    def __call__(self, e: Event) -> None:
        self._meter.add(e)
        if turn_completed(e) and e.turn not in self._done:
            self._done.add(e.turn)
            row = self._meter.finish(e.turn) or {}
            v2v = row.get("voice_to_voice_latency_ms", math.nan)
            self.answered += isinstance(v2v, float) and math.isfinite(v2v)
            last = f"last V2V {v2v:.0f} ms" if math.isfinite(v2v) else "last turn unanswered"
            self.text = f"{last}, answered {self.answered}/{len(self._done)}"
            self.bar.set_postfix_str(self.text, refresh=False)
            self.bar.update(1)

    @property
    def turns_done(self) -> int:
        return len(self._done)

    def close(self) -> None:
        self.bar.close()
