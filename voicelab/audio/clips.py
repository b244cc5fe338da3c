"""The bundled real speech clips (see ``voicelab/data/speech/NOTICE``) and clip lookup."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from voicelab.audio.load import AudioError, load_audio
from voicelab.units import INPUT_RATE

SPEECH_DIR = Path(str(resources.files("voicelab") / "data" / "speech"))


@dataclass(frozen=True)
class Clip:
    """A user utterance: an audio file, its reference transcript (``""`` if unknown) and,
    if annotated, its true speech ``(start_ms, end_ms)`` within the clip."""

    name: str
    path: Path
    reference_text: str
    speech_bounds_ms: tuple[float, float] | None = None

    @cached_property
    def audio(self) -> np.ndarray:
        """16 kHz mono float32 samples (loaded once)."""
        return load_audio(self.path, INPUT_RATE)

    @classmethod
    def from_array(cls, name: str, audio: np.ndarray, reference_text: str = "") -> Clip:
        """A clip from 16 kHz mono float32 samples already in memory (no file)."""
        clip = cls(name=name, path=Path(f"<memory:{name}>"), reference_text=reference_text)
        clip.__dict__["audio"] = np.asarray(audio, dtype=np.float32)
        return clip


def bundled_clip_names() -> list[str]:
    """Names of the bundled clips, sorted."""
    return sorted(p.stem for p in SPEECH_DIR.glob("*.wav"))


def resolve_clip(name_or_path: str | Path) -> Clip:
    """A bundled clip by name, or any audio file by path.

    The reference transcript is read from a ``.txt`` file beside the audio, and
    annotated speech boundaries from a sidecar ``.json`` file with ``speech_start_ms`` and
    ``speech_end_ms`` (ms from the clip's first sample), if present: they override the
    computed reference (:mod:`voicelab.truth`).

    Raises:
        AudioError: neither a bundled clip name nor an existing file, or a sidecar that
            is not valid JSON or lacks the two numbers.
    """
    p = Path(name_or_path)
    if not p.is_file():
        bundled = SPEECH_DIR / f"{name_or_path}.wav"
        if not bundled.is_file():
            raise AudioError(
                f"no such clip: {name_or_path!r} (not a file; bundled clips: "
                f"{', '.join(bundled_clip_names())})"
            )
        p = bundled
    txt = p.with_suffix(".txt")
    ref = txt.read_text().strip() if txt.is_file() else ""
    ann = p.with_suffix(".json")
    bounds = None
    if ann.is_file():
        try:
            d = json.loads(ann.read_text())
            bounds = (float(d["speech_start_ms"]), float(d["speech_end_ms"]))
        except (ValueError, KeyError, TypeError) as err:
            raise AudioError(f"{ann}: not a valid speech-boundary sidecar ({type(err).__name__}: {err}); "
                             "it needs numbers speech_start_ms and speech_end_ms "
                             "(`voicelab truth CLIP --write --force` rewrites it)") from None
        if not 0 <= bounds[0] < bounds[1]:
            raise AudioError(f"{ann}: speech_end_ms ({bounds[1]}) must be after speech_start_ms "
                             f"({bounds[0]}) >= 0")
    return Clip(name=p.stem, path=p, reference_text=ref, speech_bounds_ms=bounds)


def concatenate(clips: list[Clip], pauses_ms: list[int]) -> Clip:
    """One long utterance made of ``clips`` with digital silence between them: clip 0, then
    ``pauses_ms[0]`` ms of zeros, clip 1, and so on (16 kHz). Its reference transcript is the
    clips' joined with spaces; its name joins theirs with ``+``.

    Raises:
        ValueError: no clips, or not one pause fewer than clips, or a negative pause.
    """
    if not clips or len(pauses_ms) != len(clips) - 1 or any(p < 0 for p in pauses_ms):
        raise ValueError(f"need one or more clips and one pause (ms, >= 0) between each two; got "
                         f"{len(clips)} clips and pauses {pauses_ms}")
    parts = [clips[0].audio]
    for pause, clip in zip(pauses_ms, clips[1:]):
        parts += [np.zeros(pause * INPUT_RATE // 1000, np.float32), clip.audio]
    return Clip.from_array("+".join(c.name for c in clips), np.concatenate(parts),
                           " ".join(c.reference_text for c in clips))
