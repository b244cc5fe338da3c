"""The recordings of the corpus and their transcripts, taken from the extracted packages.

:func:`collect` copies each recording that has a transcript into the corpus directory
(``sources/<source>/...``) and lists it as a :class:`Recording`. Recordings without a
transcript are left out (:data:`SKIPPED` says which and why).

- ``asterisk``: every prompt of ``usr/share/asterisk/sounds/en_US_f_Allison/`` named in
  ``core-sounds-en.txt`` (``name: Transcript.``); the lines that describe a tone
  (``[this is a simple beep tone]``, ``<beep ascending>``) and the ``silence/*`` files are
  left out, bracketed symbols are dropped (``at [@]`` -> ``at``).
- ``pocketsphinx``: ``test/data/librivox/*.wav`` with ``*.txt``; ``test/data/cards/*.wav``
  with ``cards.transcription``; ``test/data/goforward.raw`` (16 kHz 16-bit mono raw PCM,
  written as WAV) with the text its decoder tests assert, ``"go forward ten meters"``
  (``test/unit/test_fwdtree.c``).
- ``bundled``: voicelab's own clips (``voicelab/data/speech``) not already taken from a
  package (the bundled LibriVox clips are the sdist's, byte for byte).
"""

from __future__ import annotations

import gzip
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voicelab.audio.clips import SPEECH_DIR

ASTERISK_SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
ASTERISK_TRANSCRIPTS = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
ASTERISK_COPYRIGHT = "usr/share/doc/asterisk-core-sounds-en-wav/copyright"
SDIST_ROOT = "pocketsphinx-5.1.1"
GOFORWARD_TEXT = "go forward ten meters"
"""The transcript of ``goforward.raw``: what ``test/unit/test_fwdtree.c`` asserts."""
GOFORWARD_RATE = 16_000
"""``goforward.raw`` is 16 kHz 16-bit little-endian mono (pocketsphinx's default input)."""

SKIPPED = {
    "asterisk silence/*.wav and tone prompts": "no speech (transcript in [brackets] or <angles>, or none)",
    "pocketsphinx test/regression/chan3.wav": "no transcript in the sdist (only feature files)",
    "pocketsphinx test/data/forever, vad, null/bad/evil/awful.wav, numbers.raw, something.raw, "
    "tidigits/dhd.2934z.raw": "no transcript in the sdist",
}
"""Recordings of the packages that are left out, and why."""

LICENCES = {
    "asterisk": "CC-BY-SA-3.0",
    "pocketsphinx": "LibriVox: public domain; cards, goforward: BSD-2-Clause (CMU pocketsphinx LICENSE)",
    "bundled": "see voicelab/data/speech/NOTICE",
}
BUNDLED_LICENCES = {
    "cmu": "CMU ARCTIC: free for any use, keeping its copyright notice (Copyright 2003 CMU)",
    "librivox": "public domain (LibriVox)",
}
"""Licence of a bundled clip by its name's first part (see voicelab/data/speech/NOTICE)."""


@dataclass(frozen=True)
class Recording:
    """One recorded utterance with its transcript.

    Attributes:
        id: ``<source>/<name>`` (e.g. ``asterisk/digits/5``).
        source: ``asterisk``, ``pocketsphinx`` or ``bundled``.
        licence: the licence of the recording.
        transcript: the reference text as published (punctuation kept).
        path: the audio file, relative to the corpus directory (any rate; loaded at 16 kHz).
    """

    id: str
    source: str
    licence: str
    transcript: str
    path: str


def asterisk_transcripts(text: str) -> dict[str, str]:
    """``name -> transcript`` from ``core-sounds-en.txt``: ``name: Text.`` lines, ``;``
    comments skipped, bracketed symbols and sounds (``[@]``, ``<beep ascending>``) dropped,
    lines left empty by that (tones) left out."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith(";") or ":" not in line:
            continue
        name, text = (s.strip() for s in line.split(":", 1))
        text = re.sub(r"\s+", " ", re.sub(r"\[[^\]]*\]|<[^>]*>", "", text)).strip()
        if text and name:
            out[name] = text
    return out


def _copy(src: Path, root: Path, rel: str) -> str:
    dst = root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return rel


def collect_asterisk(wav_tree: Path, text_tree: Path, root: Path, licence: str) -> list[Recording]:
    """The Asterisk prompts with a transcript, copied to ``root/sources/asterisk/``.

    Raises:
        FileNotFoundError: the transcript file or the sounds directory is missing.
    """
    texts = asterisk_transcripts(gzip.decompress((text_tree / ASTERISK_TRANSCRIPTS).read_bytes()).decode())
    sounds = wav_tree / ASTERISK_SOUNDS
    if not sounds.is_dir():
        raise FileNotFoundError(f"{sounds}: no Asterisk sounds in the package")
    _copy(text_tree / ASTERISK_TRANSCRIPTS, root, "sources/asterisk/core-sounds-en.txt.gz")
    if (wav_tree / ASTERISK_COPYRIGHT).is_file():
        _copy(wav_tree / ASTERISK_COPYRIGHT, root, "sources/asterisk/copyright")
    out = []
    for name, text in sorted(texts.items()):
        wav = sounds / f"{name}.wav"
        if wav.is_file() and not name.startswith("silence/"):
            rel = _copy(wav, root, f"sources/asterisk/{name}.wav")
            out.append(Recording(f"asterisk/{name}", "asterisk", licence, text, rel))
    return out


def _sphinx_line(line: str) -> tuple[str, str]:
    """``<s> words </s> (id)`` -> ``(id, words)``."""
    m = re.fullmatch(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\((\S+)\)\s*", line)
    if m is None:
        raise ValueError(f"not a sphinx transcription line: {line!r}")
    return m.group(2), m.group(1).strip()


def collect_pocketsphinx(tree: Path, root: Path, licence: str) -> list[Recording]:
    """The sdist's transcribed recordings (see the module docstring), copied to
    ``root/sources/pocketsphinx/``.

    Raises:
        FileNotFoundError: the sdist's test data directory is missing.
    """
    data = tree / SDIST_ROOT / "test" / "data"
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: no test data in the pocketsphinx sdist")
    if (tree / SDIST_ROOT / "LICENSE").is_file():
        _copy(tree / SDIST_ROOT / "LICENSE", root, "sources/pocketsphinx/LICENSE")
    out = []
    for wav in sorted((data / "librivox").glob("*.wav")):
        txt = wav.with_suffix(".txt")
        if txt.is_file():
            rel = _copy(wav, root, f"sources/pocketsphinx/librivox/{wav.name}")
            out.append(Recording(f"pocketsphinx/librivox/{wav.stem}", "pocketsphinx",
                                 "public domain (LibriVox)", txt.read_text().strip(), rel))
    cards = data / "cards" / "cards.transcription"
    if cards.is_file():
        for line in cards.read_text().splitlines():
            if line.strip():
                name, text = _sphinx_line(line)
                if (data / "cards" / f"{name}.wav").is_file():
                    rel = _copy(data / "cards" / f"{name}.wav", root, f"sources/pocketsphinx/cards/{name}.wav")
                    out.append(Recording(f"pocketsphinx/cards/{name}", "pocketsphinx", licence, text, rel))
    raw = data / "goforward.raw"
    if raw.is_file():
        pcm = np.frombuffer(raw.read_bytes(), dtype="<i2")
        dst = root / "sources/pocketsphinx/goforward.wav"
        dst.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(dst), pcm, GOFORWARD_RATE, subtype="PCM_16")
        out.append(Recording("pocketsphinx/goforward", "pocketsphinx", licence, GOFORWARD_TEXT,
                             "sources/pocketsphinx/goforward.wav"))
    return out


def collect_bundled(root: Path, taken: set[str], speech_dir: Path = SPEECH_DIR) -> list[Recording]:
    """voicelab's bundled clips whose audio sha256 (of the file's samples) is not in
    ``taken``, copied with their transcript to ``root/sources/bundled/``."""
    out = []
    for wav in sorted(speech_dir.glob("*.wav")):
        if samples_sha256(wav) in taken:
            continue
        txt = wav.with_suffix(".txt")
        if txt.is_file():
            rel = _copy(wav, root, f"sources/bundled/{wav.name}")
            licence = BUNDLED_LICENCES.get(wav.stem.split("_")[0], LICENCES["bundled"])
            out.append(Recording(f"bundled/{wav.stem}", "bundled", licence, txt.read_text().strip(), rel))
    return out


def samples_sha256(path: Path) -> str:
    """sha256 of a sound file's samples (int16) and rate: equal for the same recording in
    another container or under another name."""
    import hashlib

    data, rate = sf.read(str(path), dtype="int16")
    return hashlib.sha256(data.tobytes() + str(rate).encode()).hexdigest()
