"""Building the pipeline stages from a config: one registry per stage kind, and loading them.

Below the drivers (``lab``, ``serve``, ``bench``), above the session and the stage
packages (``stt``, ``llm``, ``tts``, ``vad``, ``trigger``): every driver builds its stages here.

| stage kind | registry (name -> factory) | picked by |
|---|---|---|
| STT | `STT_ENGINES` | `stt.engine` (default `whisper`) |
| LLM | `LLM_ENGINES` | `llm.engine` (default `transformers`) |
| TTS | `TTS_ENGINES` | `tts.engine` |
| turn detector | `TURN_DETECTORS` | `vad.turn_detector` (`none`: no detector) |
| VAD of the endpointer | `VAD_KINDS` | `vad.kind` |
| trigger policy | `TRIGGER_POLICIES` | `trigger.policy` |

Each registry is a :class:`Registry`; an unknown name raises :class:`UnknownName` (a
``ValueError`` and a ``KeyError``) listing the known ones. The VAD, trigger and TTS
registries wrap the tables their own packages read (:data:`voicelab.vad.VADS`,
:data:`voicelab.trigger.TRIGGERS`, :data:`voicelab.tts.ENGINES`), so a session, which
sits below this package, finds what is registered here. Adding an engine is one factory in
one table (each kind's module says where; :mod:`voicelab.stages.stt` shows one), plus, for
TTS, VAD and trigger policies, its name in the config's ``Literal`` (``stt.engine`` and
``llm.engine`` are free names, checked at load).

- :func:`load_stages`: load and warm the models a config names, once;
- :func:`with_config_endpointer` / :func:`endpointer_factory`: the per-session
  endpointer built from ``vad:`` and ``speculate:`` settings.
"""

from voicelab.stages.endpointer import (
    VAD_KINDS,
    VAD_PARAMS,
    endpointer_factory,
    make_config_vad,
    with_config_endpointer,
)
from voicelab.stages.llm import LLM_ENGINES, make_llm
from voicelab.stages.loading import load_stages, stage_makers
from voicelab.stages.registry import Registry, UnknownName
from voicelab.stages.stt import STT_ENGINES, make_stt
from voicelab.stages.trigger import TRIGGER_POLICIES
from voicelab.stages.tts import TTS_ENGINES, make_tts_stage
from voicelab.stages.turn import TURN_DETECTORS, make_turn_detector

__all__ = [
    "LLM_ENGINES", "STT_ENGINES", "TRIGGER_POLICIES", "TTS_ENGINES", "TURN_DETECTORS", "VAD_KINDS", "VAD_PARAMS",
    "Registry", "UnknownName", "endpointer_factory", "load_stages", "make_config_vad", "make_llm", "make_stt",
    "make_tts_stage", "make_turn_detector", "stage_makers", "with_config_endpointer",
]
