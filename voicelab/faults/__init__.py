"""Injected failures (the ``faults:`` config): which requests fail (:mod:`~voicelab.faults.plan`)
and the wrappers that fail them: the agent's stages (:mod:`~voicelab.faults.stages`) and
``voicelab serve``'s network sink (:mod:`~voicelab.faults.sink`).

The agent's degradation (``voicelab.session``): an STT failure drops the turn and the agent
keeps listening; an LLM failure is answered with an apology; a TTS failure or hang ends the
reply's audio (the reply goes on as text) and TTS is restarted
(:class:`voicelab.tts.supervised.SupervisedTTS`).
"""

from __future__ import annotations

import dataclasses

from voicelab.config import FaultsConfig
from voicelab.faults.plan import FaultListener, FaultPlan, InjectedFault
from voicelab.faults.sink import FaultySend
from voicelab.faults.stages import FaultyLLM, FaultySTT, FaultyTTS
from voicelab.session.turns import Stages
from voicelab.tts.supervised import SupervisedTTS


def fault_plans(config: FaultsConfig) -> dict[str, FaultPlan]:
    """One :class:`FaultPlan` per stage the config names."""
    return {stage: FaultPlan(stage, spec, config.seed)
            for stage, spec in (("stt", config.stt), ("llm", config.llm), ("tts", config.tts)) if spec is not None}


def with_faults(stages: Stages, config: FaultsConfig) -> Stages:
    """``stages`` with the stages ``config`` names wrapped to fail (``stages`` itself is left
    as it was: sweeps share it across runs). A supervised TTS gets a supervisor of its own
    around the failing engine, so injected TTS failures are timed out and restarted like
    real ones (:meth:`~voicelab.tts.supervised.SupervisedTTS.around`). Closing the returned
    TTS closes only what it started (a restarted engine), never the shared one."""
    plans = fault_plans(config)
    if not plans:
        return stages
    changes: dict = {"fault_plans": plans}
    if "stt" in plans:
        changes["stt"] = FaultySTT(stages.stt, plans["stt"])
    if "llm" in plans:
        changes["llm"] = FaultyLLM(stages.llm, plans["llm"])
    if "tts" in plans:
        plan = plans["tts"]
        wrap = lambda tts: FaultyTTS(tts, plan)  # noqa: E731
        if isinstance(stages.tts, SupervisedTTS):
            tts = SupervisedTTS.around(stages.tts, wrap)
            tts.inner = FaultyTTS(stages.tts.inner, plan, owns_inner=False)  # the shared engine stays open
            changes["tts"] = tts
        else:
            changes["tts"] = FaultyTTS(stages.tts, plan, owns_inner=False)
    return dataclasses.replace(stages, **changes)


__all__ = ["FaultListener", "FaultPlan", "FaultyLLM", "FaultySend", "FaultySTT", "FaultyTTS", "InjectedFault",
           "fault_plans", "with_faults"]
