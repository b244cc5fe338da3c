"""Quality beside latency: TTS round-trip WER of the audio the agent actually played."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pandas as pd
import soxr

from voicelab.events import PlaybackStopped
from voicelab.measure.metrics import wer
from voicelab.session import SessionResult
from voicelab.stt.base import STT
from voicelab.units import INPUT_RATE


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
    return soxr.resample(audio, session.agent_rate, INPUT_RATE).astype(np.float32)


WINDOW_S = 28.0
"""Longest piece transcribed at once: Whisper's window is 30 s, and faster-whisper's own
sliding over longer audio loses whole sentences of choppy speech (a reply synthesized token
by token, 33 s long, came back as 7 of its 40 words)."""


def split_for_whisper(audio: np.ndarray, rate: int = INPUT_RATE, window_s: float = WINDOW_S,
                      min_s: float = 15.0, frame_ms: float = 50.0) -> list[np.ndarray]:
    """``audio`` (float32 ``(n,)``) in pieces of at most ``window_s``, each cut at the quietest
    ``frame_ms`` frame (lowest energy) between ``min_s`` and ``window_s`` into the piece."""
    pieces, frame = [], max(1, round(rate * frame_ms / 1000.0))
    while len(audio) > window_s * rate:
        lo, hi = int(min_s * rate) // frame, int(window_s * rate) // frame
        energy = (audio[: hi * frame].reshape(hi, frame) ** 2).sum(axis=1)
        cut = (lo + int(np.argmin(energy[lo:]))) * frame
        pieces.append(audio[:cut])
        audio = audio[cut:]
    return pieces + [audio]


def roundtrip_wer(session: SessionResult, turns: pd.DataFrame, stt: STT) -> pd.Series:
    """Per turn: WER of ``stt``'s reference transcript (:meth:`~voicelab.stt.base.STT.transcribe_reference`,
    e.g. Whisper's 30 s window even for an agent on ``stt.window: fit``) of the played
    reply against ``response_text``; a reply longer than :data:`WINDOW_S` is transcribed in pieces
    cut at pauses (:func:`split_for_whisper`).

    Run after the session (off the session clock). NaN where nothing was said or played.
    """
    out = []
    for _, row in turns.iterrows():
        audio = played_reply(session, turns, int(row["turn"]))
        said = row["response_text"] if isinstance(row["response_text"], str) else ""
        if not len(audio) or not said.strip():
            out.append(math.nan)
            continue
        heard = " ".join(asyncio.run(stt.transcribe_reference(piece)) for piece in split_for_whisper(audio))
        out.append(wer(said, heard))
    return pd.Series(out, index=turns.index, name="tts_roundtrip_wer", dtype=float)
