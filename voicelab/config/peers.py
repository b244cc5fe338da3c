"""Settings of peer engines: other frameworks' agents run in the same session for comparison."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from voicelab.config.base import Strict

ENGINES = ("voicelab", "pipecat")
"""The engines a variant may choose: voicelab's own agent core, or a stock Pipecat pipeline
(:mod:`voicelab.peers.pipecat`, needs the ``pipecat`` extra)."""


class PipecatConfig(Strict):
    """A stock Pipecat 1.14 pipeline (``engine: pipecat``), with voicelab's models.

    Defaults are Pipecat's own: sentence aggregation before TTS (``sentencex``), Silero VAD
    with ``stop_secs`` 0.2 s, Smart Turn v3.2 as the end-of-turn strategy and Whisper beam
    search with 5 beams (``WhisperSTTService``).
    """

    text_aggregation: Literal["sentence", "token"] = Field(
        "sentence", description="what KokoroTTSService synthesizes at once: whole sentences (Pipecat's default) "
        "or every LLM text chunk as it arrives")
    vad_stop_secs: float = Field(0.2, gt=0.0, le=5.0, description="Silero VADParams.stop_secs: silence (s) "
                                 "before the VAD reports the user stopped speaking")
    vad_start_secs: float = Field(0.2, gt=0.0, le=5.0, description="Silero VADParams.start_secs")
    vad_confidence: float = Field(0.7, gt=0.0, lt=1.0, description="Silero VADParams.confidence")
    turn: Literal["silence", "smart-turn"] = Field(
        "smart-turn", description="end of turn: `smart-turn` = Smart Turn v3.2 asked when the VAD stops "
        "(Pipecat's default), `silence` = the VAD stop alone")
    speech_timeout_secs: float = Field(0.6, ge=0.0, le=5.0, description="turn: silence: "
                                       "SpeechTimeoutUserTurnStopStrategy.user_speech_timeout, silence (s) after the "
                                       "VAD stop before the turn ends (Pipecat's default 0.6)")
    stt_beam_size: int = Field(5, ge=1, le=10, description="Whisper beam size (Pipecat passes 5 unless told)")
    reply_timeout_ms: float = Field(8000.0, gt=0.0, description="a turn whose speech ended without a reply "
                                    "starting this long after the VAD stop is over (no transcript, or no reply)")
