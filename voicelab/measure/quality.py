"""Quality beside latency: TTS round-trip WER of the audio the agent actually played."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pandas as pd
import soxr

from voicelab.session import SessionResult
from voicelab.events import PlaybackStopped
from voicelab.measure.metrics import wer
from voicelab.stt.base import STT


def played_reply(session: SessionResult, turns: pd.DataFrame, turn: int) -> np.ndarray:
    """The agent audio played for ``turn`` (first sample to PlaybackStopped), as 16 kHz float32.

    Empty if the turn played nothing.
    """
    row = turns.loc[turns["turn"] == turn].iloc[0]
    stops = session.trace.of(PlaybackStopped, turn)
    if not stops or math.isnan(row["first_audio_played_ms"]):
        return np.zeros(0, dtype=np.float32)
    start = round(row["first_audio_played_ms"] * session.agent_rate / 1000.0)
    audio = session.agent_audio[start: stops[-1].sample_index]
    return soxr.resample(audio, session.agent_rate, 16_000).astype(np.float32)


def roundtrip_wer(session: SessionResult, turns: pd.DataFrame, stt: STT) -> pd.Series:
    """Per turn: WER of ``stt``'s reference transcript (:meth:`~voicelab.stt.base.STT.transcribe_reference`,
    e.g. Whisper's 30 s window even for an agent on ``stt.window: fit``) of the played
    reply against ``response_text``.

    Run after the session (off the session clock). NaN where nothing was said or played.
    """
    out = []
    for _, row in turns.iterrows():
        audio = played_reply(session, turns, int(row["turn"]))
        said = row["response_text"] if isinstance(row["response_text"], str) else ""
        if not len(audio) or not said.strip():
            out.append(math.nan)
            continue
        heard = asyncio.run(stt.transcribe_reference(audio))
        out.append(wer(said, heard))
    return pd.Series(out, index=turns.index, name="tts_roundtrip_wer", dtype=float)
