"""Loading the model stages a config names, once, for every session that shares them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from voicelab.assets.cache import display_path
from voicelab.config import ExperimentConfig
from voicelab.events import ModelLoaded
from voicelab.session.turns import Stages
from voicelab.stages.endpointer import endpointer_factory
from voicelab.stages.llm import make_llm
from voicelab.stages.stt import make_stt
from voicelab.stages.tts import make_tts_stage
from voicelab.stages.turn import NO_DETECTOR, make_turn_detector


def stage_makers(config: ExperimentConfig) -> list[tuple[str, str, Callable[[], Any]]]:
    """``(stage, label, build)`` of each model stage ``config`` needs, in load order: stt,
    llm, tts, and turn unless ``vad.turn_detector`` is ``"none"``. ``label`` names the model
    for the log; ``build`` loads it (not warmed up) through its stage kind's registry
    (:mod:`voicelab.stages.stt`, :mod:`~voicelab.stages.llm`, :mod:`~voicelab.stages.tts`,
    :mod:`~voicelab.stages.turn`)."""
    makers = [("stt", config.stt.model, lambda: make_stt(config.stt)),
              ("llm", config.llm.model, lambda: make_llm(config.llm)),
              ("tts", config.tts.resolved_model(), lambda: make_tts_stage(config.tts))]
    if config.vad.turn_detector != NO_DETECTOR:
        makers.append(("turn", config.vad.turn_detector, lambda: make_turn_detector(config.vad)))
    return makers


def load_stages(config: ExperimentConfig, log: Callable[[str], None] = print) -> tuple[Stages, list[ModelLoaded]]:
    """Load and warm the model stages ``config`` names once (by default Whisper, the
    transformers LLM, Kokoro, and Smart Turn when ``vad.turn_detector`` asks for it), each
    through its stage kind's registry; the endpointer comes from ``config.vad`` and
    ``config.speculate``.

    Returns the stages and one :class:`ModelLoaded` record per model (load and
    warm-up wall time in ms), for the trace.

    Raises:
        voicelab.assets.AssetError: a model asset is missing or corrupt.
        voicelab.stages.registry.UnknownName: the config names an engine no registry has.
    """
    loaded, built = [], {}
    for stage, model, make in stage_makers(config):
        log(f"loading {stage}: {model} ...")
        t0 = time.perf_counter()
        obj = make()
        t1 = time.perf_counter()
        obj.warmup()
        t2 = time.perf_counter()
        built[stage] = obj
        loaded.append(ModelLoaded(0.0, stage, display_path(obj.model_path), (t1 - t0) * 1e3, (t2 - t1) * 1e3))
        log(f"  {stage} loaded in {(t1 - t0):.2f} s, warmed in {(t2 - t1):.2f} s")
    return Stages(endpointer_factory(config.vad, config.speculate), built["stt"], built["llm"], built["tts"],
                  built.get("turn")), loaded
