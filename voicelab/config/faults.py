"""``faults:``: injected stage failures, as an experiment (voicelab.faults)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from voicelab.config.base import Strict


class StageFault(Strict):
    """One stage's injected failures: which requests fail (``at``, and each other one with
    ``probability``) and how (``kind``)."""

    kind: Literal["raise", "hang", "empty", "slow"] = Field(
        ..., description="how a failing request fails: raise = at once; hang = returns nothing for hang_ms, then "
        "raises (a stage timeout, e.g. tts.timeout_ms, cuts it sooner); empty = returns nothing (an empty "
        "transcript, no tokens, no audio); slow = takes slow_factor times as long (the extra time is waited after "
        "the real work; for the LLM, after each token)")
    at: list[int] = Field(default_factory=list, description="0-based request numbers of this stage that fail")
    probability: float = Field(0.0, ge=0.0, le=1.0, description="each other request fails with this probability "
                               "(drawn from faults.seed, the stage and the request number: reproducible)")
    hang_ms: float = Field(30000.0, gt=0.0, description="kind hang: how long a request hangs before it raises")
    slow_factor: float = Field(3.0, gt=1.0, description="kind slow: how many times as long a request takes")

    @model_validator(mode="after")
    def _some_request_fails(self) -> StageFault:
        if not self.at and self.probability == 0.0:
            raise ValueError("give `at` (request numbers) or a `probability` > 0: as written nothing fails")
        if any(k < 0 for k in self.at):
            raise ValueError(f"`at` holds 0-based request numbers, got {self.at}")
        return self


class FaultsConfig(Strict):
    """Failures injected into the agent's stages (none by default). Every injected fault is a
    ``FaultInjected`` trace event; how the agent degrades is in ``turns.csv`` (``failed``,
    ``degraded``, ``recovery_ms``)."""

    seed: int = Field(0, description="seed of the probabilistic faults")
    stt: StageFault | None = Field(None, description="STT's failures; every transcription (barge-in interim ones "
                                   "included) is a request; a failure drops the turn, the agent keeps listening; "
                                   "null = none")
    llm: StageFault | None = Field(None, description="the LLM's failures; every reply (speculative ones included) is "
                                   "a request; a failure is answered with an apology; null = none")
    tts: StageFault | None = Field(None, description="TTS's failures; every synthesis request (a chunk, or chunks "
                                   "joined by coalesce) is one; a failure ends the reply's audio (it goes on as "
                                   "text) and restarts TTS; null = none")
    sink: StageFault | None = Field(
        None, description="`voicelab serve`'s network sink: every frame sent to a client (text or audio, from "
        "session_started on) is a request. raise: the send fails, the connection is closed and the session is "
        "stored as ended by `send_failed`; hang: the send stalls hang_ms (later frames queue behind it), then "
        "fails the same way; empty: the frame is dropped; slow: each send takes slow_factor times as long")

    def any(self) -> bool:
        """True when a stage of the agent (stt, llm, tts) fails; the sink is the server's."""
        return any(f is not None for f in (self.stt, self.llm, self.tts))
