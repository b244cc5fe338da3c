"""The scripted stages and the fake clip the session, serve and bench tests share (known delays, no models).

By default STT answers "hello agent" after 300 ms; the LLM streams "Hello there, how are you?"
(first token after 100 ms, then one every 50 ms, end 50 ms later); TTS returns its audio 230 ms
after a request, 10 ms of audio per character; the endpointer runs the oracle VAD with the
defaults (threshold 0.5, 250 ms to start, 500 ms of silence to end, 100 ms pad). A test that
needs other delays, tokens or endpointer settings passes them to :func:`scripted_stages`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voicelab.audio.clips import Clip
from voicelab.config import LLMConfig
from voicelab.llm.scripted import ScriptedLLM
from voicelab.session import Stages
from voicelab.stt.scripted import ScriptedSTT
from voicelab.tts.scripted import ScriptedTTS
from voicelab.vad.endpointing import Endpointer
from voicelab.vad.oracle import OracleVAD

REPLY_TOKENS = ["Hello", " there", ",", " how", " are", " you", "?"]
ENDPOINTER = {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100}
"""The endpointer's settings unless :func:`scripted_stages` is told otherwise."""


def scripted_stages(*, stt_ms: float = 300.0, tokens: Sequence[str] = REPLY_TOKENS, token_ms: float = 50.0,
                    tts_ms_per_char: float = 10.0, turn_detector=None, **endpointer) -> Stages:
    """New scripted stages (each call its own STT, LLM and TTS, so their call logs are the test's).

    Args:
        stt_ms: ScriptedSTT delay (ms); it always answers "hello agent".
        tokens: the LLM's tokens (first after 100 ms, then one per ``token_ms``, end 50 ms later).
        token_ms: ms between LLM tokens.
        tts_ms_per_char: ms of TTS audio per character (its first audio 230 ms after a request).
        turn_detector: ``Stages.turn_detector`` (None: none).
        **endpointer: :class:`Endpointer` keyword arguments over :data:`ENDPOINTER` (e.g.
            ``min_silence_ms``, ``max_silence_ms``, ``speculate_ms``).
    """
    settings = {**ENDPOINTER, **endpointer}
    return Stages(lambda: Endpointer(OracleVAD(), **settings),
                  ScriptedSTT("hello agent", delay_ms=stt_ms),
                  ScriptedLLM(tokens, ttft_ms=100, token_ms=token_ms, end_ms=50),
                  ScriptedTTS(base_ms=230, audio_ms_per_char=tts_ms_per_char),
                  turn_detector)


def speech_clip(name: str = "fake") -> Clip:
    """1.64 s at 16 kHz, float32: silence with 1000 ms of constant 0.1 ("speech" to the oracle
    VAD) from 320 ms; reference text "hello agent"."""
    audio = np.zeros(int(1.64 * 16000), dtype=np.float32)
    audio[int(0.32 * 16000): int(1.32 * 16000)] = 0.1
    return Clip.from_array(name, audio, "hello agent")


def after_prompt(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The chat messages after the default prompt prefix (system prompt and example exchanges,
    :meth:`voicelab.config.LLMConfig.prompt_prefix`), which must open ``messages``: the history
    and the user's turn."""
    prefix = LLMConfig().prompt_prefix()
    assert messages[:len(prefix)] == prefix, messages[:len(prefix)]
    return messages[len(prefix):]
