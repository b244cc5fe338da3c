"""Finding a clip's reference speech boundaries: sidecar, cache, or the three sources."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from voicelab.assets import voicelab_home
from voicelab.audio.clips import Clip
from voicelab.config import STTConfig
from voicelab.truth.consensus import SpeechReference, consensus
from voicelab.truth.energy import energy_runs
from voicelab.truth.fricative import fricative_frames
from voicelab.truth.serialize import reference_from_dict, reference_to_dict
from voicelab.truth.silero import silero_pass
from voicelab.units import INPUT_RATE

_SOURCES = ("consensus.py", "energy.py", "fricative.py", "silero.py", "serialize.py")


@functools.cache
def algorithm_version() -> str:
    """sha256 (12 hex digits) of the truth modules' source: any change to a source or to
    the consensus rule invalidates every cached reference."""
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:12]

WHISPER_MODEL = "whisper-tiny.en"
"""The Whisper model of the word source (the default STT asset)."""


class ReferenceFinder:
    """Computes reference boundaries of 16 kHz clips (see :mod:`voicelab.truth.consensus`).

    Whisper (its own instance, ``threads`` CTranslate2 threads) loads on first use.
    Results are cached in ``cache_dir`` (default ``$VOICELAB_HOME/truth/``) by the sha256
    of the samples, :func:`algorithm_version` and the Whisper model, so a sweep computes each
    clip once. ``cache=False`` recomputes (and writes nothing).
    """

    def __init__(self, whisper_model: str = WHISPER_MODEL, threads: int = 2, cache: bool = True,
                 cache_dir: Path | None = None) -> None:
        self.whisper_model = whisper_model
        self.threads = threads
        self.cache = cache
        self.cache_dir = cache_dir
        self._stt = None

    def find(self, audio: np.ndarray, sample_rate: int = INPUT_RATE) -> SpeechReference:
        """The reference of ``audio`` (float32 mono, 16 kHz, shape ``(n,)``).

        Raises:
            ValueError: wrong rate or shape, or no speech found by any source.
            voicelab.assets.AssetError: the Whisper asset is missing.
        """
        if sample_rate != INPUT_RATE:
            raise ValueError(f"reference boundaries need {INPUT_RATE} Hz audio, got {sample_rate} Hz; "
                             "resample first (voicelab.audio.load.load_audio does)")
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1 or not len(audio):
            raise ValueError(f"expected non-empty mono audio of shape (n,), got {audio.shape}")
        path = self._cache_path(audio)
        if path is not None and path.is_file():
            try:
                return reference_from_dict(json.loads(path.read_text()))
            except (ValueError, KeyError, TypeError):
                pass  # a stale or damaged entry: recompute
        silero = silero_pass(audio)
        energy = energy_runs(audio, silero.segments_ms)
        ref = consensus(silero.segments_ms, energy, self._whisper().word_timings_sync(audio),
                        silero.last_speech_frame_end_ms, fricative_frames(audio, silero.segments_ms, energy.steady),
                        silero_closed=silero.closed)
        if path is not None:
            _write_atomic(path, json.dumps(reference_to_dict(ref)))
        return ref

    def _whisper(self):
        if self._stt is None:
            from voicelab.stt.whisper import WhisperSTT

            self._stt = WhisperSTT(STTConfig(model=self.whisper_model, threads=self.threads))
        return self._stt

    def _cache_path(self, audio: np.ndarray) -> Path | None:
        if not self.cache:
            return None
        h = hashlib.sha256(audio.tobytes())
        h.update(f"{algorithm_version()}:{self.whisper_model}".encode())
        return (self.cache_dir or voicelab_home() / "truth") / f"{h.hexdigest()}.json"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def clip_reference(clip: Clip, finder: ReferenceFinder | None = None) -> SpeechReference:
    """The reference of a clip: its sidecar ``<clip>.json`` if it has one (method
    ``"sidecar"``, e.g. the bundled LibriVox annotations), else the consensus.

    Raises:
        ValueError, voicelab.assets.AssetError: see :meth:`ReferenceFinder.find`.
    """
    if clip.speech_bounds_ms is not None:
        return SpeechReference(*clip.speech_bounds_ms, method="sidecar",
                               onset_by="sidecar", offset_by="sidecar")
    return (finder or ReferenceFinder()).find(clip.audio)
