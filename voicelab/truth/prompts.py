"""Studio prompts with fricative edges for the reference evaluation, and their targets.

Material: the Asterisk core sound prompts (Debian ``asterisk-core-sounds-en-wav``, one
professional voice, 8 kHz 16-bit, CC-BY-SA-3.0) with their transcripts
(``asterisk-core-sounds-en``: ``core-sounds-en.txt``, lines ``name: text``).

Selection (:func:`select_prompts`), by spelling of the transcript's last/first word
(letters only, lower case); a word is *fricative-final* when it ends in one of
:data:`FINAL_SPELLINGS` (/s/, /z/, /f/, /sh/, /th/: "bus", "please", "box", "off",
"finish", "month") and *fricative-initial* when it starts with one of
:data:`INITIAL_SPELLINGS` (/s/, /z/, /f/, /sh/, /th/, /h/: "say", "for", "phone",
"the", "hello", "cell") and is not in :data:`SILENT_H` ("hour"). Tone-only entries
(``[...]``), spelled letters, digits and prompts shorter than two words are left out.

Target (:func:`studio_bounds_ms`): the recordings have a floor near -95 dBFS (16-bit
dither) and no noise, so speech is where the signal rises out of it: the first and
last :data:`TARGET_FRAME_MS` frame whose RMS level is more than
:data:`TARGET_MARGIN_DB` above the recording's floor (its :data:`TARGET_FLOOR_PERCENTILE`
th percentile frame level). 10 ms is the frame of the reference itself (and of the
annotations it is scored on); see :data:`TARGET_MARGIN_DB` for the margin.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicelab.units import samples_to_ms

FINAL_SPELLINGS = ("s", "z", "x", "ce", "se", "ze", "sh", "th", "f", "ff", "fe", "ph", "ough")
"""Word endings read as a final fricative (/s/ /z/ /ks/ /f/ /sh/ /th/); "ough" only as in
"enough"/"tough" (checked against :data:`FINAL_EXCEPTIONS`)."""

FINAL_EXCEPTIONS = frozenset({"through", "though", "although", "thorough", "dough", "borough",
                              "bathe", "breathe", "with"})
"""Words whose spelling matches :data:`FINAL_SPELLINGS` but that end in a vowel (-ough)
or that are not reliably fricative-final in connected speech."""

INITIAL_SPELLINGS = ("s", "z", "f", "ph", "sh", "th", "h", "ce", "ci", "cy")
"""Word beginnings read as an initial fricative (/s/ /z/ /f/ /sh/ /th/ /dh/ /h/)."""

SILENT_H = frozenset({"hour", "hours", "honest", "honor", "honour", "heir", "herb"})

TARGET_FRAME_MS = 10.0
TARGET_FLOOR_PERCENTILE = 0.0
"""The floor is the quietest frame (percentile 0): the prompts hold only a few frames
of silence, so any higher percentile can land inside the speech."""
TARGET_MARGIN_DB = 30.0
"""How far above the recording's floor a frame must be to be speech. The prompts' floor
is near -95 dBFS and their loud speech near -12 dBFS; the final /s/ of a prompt sits
at -35 to -50 dBFS (45-60 dB above the floor), and the decay after a word (room tail
of the vocal booth, de-noising residue) falls below floor + 40 dB within one or two
frames. 40 dB also matches the dynamic range the band-energy source keeps below loud
speech (``energy.RANGE_DB`` = 45 dB)."""

PAD_MS = 500.0
"""Room added before and after each prompt: the prompts are cut within 20-50 ms of the
speech, which leaves Silero no lead-in and the noise estimates no noise. The padding
is Gaussian noise (seed 0) at the RMS level of the recording's quietest frame, i.e.
its own floor continued."""


@dataclass(frozen=True)
class Prompt:
    """One selected prompt: ``name`` (path under the sounds directory, no ``.wav``),
    its transcript ``text`` and its ``kind``: ``"fricative-final"``,
    ``"fricative-initial"`` or ``"fricative-both"``."""

    name: str
    text: str
    kind: str


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^a-z']", "", t.lower()).strip("'") for t in text.split()) if w]


def fricative_final(word: str) -> bool:
    """Whether ``word`` (lower-case letters) ends in a fricative by its spelling."""
    w = word.removesuffix("'s") + ("s" if word.endswith("'s") else "")
    if w in FINAL_EXCEPTIONS:
        return False
    if w.endswith("ough"):
        return w in {"enough", "tough", "rough", "cough"}
    return len(w) > 1 and w.endswith(FINAL_SPELLINGS)


def fricative_initial(word: str) -> bool:
    """Whether ``word`` (lower-case letters) starts with a fricative by its spelling."""
    return word not in SILENT_H and word.startswith(INITIAL_SPELLINGS)


def read_transcripts(path: Path) -> dict[str, str]:
    """``{name: text}`` from ``core-sounds-en.txt`` (or its ``.gz``); ``;`` lines are comments.

    Raises:
        FileNotFoundError: no such file.
    """
    raw = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    out = {}
    for line in raw.splitlines():
        if line.startswith(";") or ":" not in line:
            continue
        name, text = line.split(":", 1)
        out[name.strip()] = text.strip()
    return out


def select_prompts(transcripts: dict[str, str], sounds_dir: Path | None = None) -> list[Prompt]:
    """The prompts whose first or last word is a fricative (see the module docstring),
    sorted by name; with ``sounds_dir``, only those whose ``<name>.wav`` exists there."""
    out = []
    for name, text in sorted(transcripts.items()):
        if "[" in text or name.startswith(("letters/", "digits/", "phonetic/", "silence/")):
            continue
        words = _words(text)
        if len(words) < 2 or (sounds_dir is not None and not (sounds_dir / f"{name}.wav").is_file()):
            continue
        fin, ini = fricative_final(words[-1]), fricative_initial(words[0])
        if fin or ini:
            kind = "fricative-both" if fin and ini else "fricative-final" if fin else "fricative-initial"
            out.append(Prompt(name, text, kind))
    return out


def studio_bounds_ms(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """The target speech bounds (ms) of a clean studio recording (see the module docstring).

    Args:
        audio: float mono, shape ``(n,)``, at ``rate`` Hz, without added padding.

    Raises:
        ValueError: no frame rises :data:`TARGET_MARGIN_DB` above the floor.
    """
    win = int(rate * TARGET_FRAME_MS / 1000)
    m = len(audio) // win
    frames = np.asarray(audio[: m * win], dtype=np.float64).reshape(m, win)
    level = 10 * np.log10(np.maximum((frames ** 2).mean(axis=1), 1e-14))
    audible = level[level > -120.0]
    if not len(audible):
        raise ValueError("the recording is digitally silent")
    floor = float(np.percentile(audible, TARGET_FLOOR_PERCENTILE))
    hot = np.flatnonzero(level > floor + TARGET_MARGIN_DB)
    if not len(hot):
        raise ValueError(f"no frame is {TARGET_MARGIN_DB:.0f} dB above the floor ({floor:.1f} dBFS)")
    return float(hot[0] * TARGET_FRAME_MS), float((hot[-1] + 1) * TARGET_FRAME_MS)


def load_prompt(sounds_dir: Path, prompt: Prompt) -> tuple[np.ndarray, tuple[float, float]]:
    """A prompt as the reference sees it and its target: float32 mono at 16 kHz, shape
    ``(n,)``, padded with :data:`PAD_MS` of its own floor at each end (soxr "HQ" from the
    recording's own rate), and :func:`studio_bounds_ms` of the unpadded native-rate
    recording shifted by the padding (ms).

    Raises:
        voicelab.audio.load.AudioError: missing or unreadable file.
        ValueError: see :func:`studio_bounds_ms`.
    """
    import soundfile as sf
    import soxr

    from voicelab.audio.load import AudioError
    from voicelab.units import INPUT_RATE

    path = sounds_dir / f"{prompt.name}.wav"
    try:
        native, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"cannot read prompt {path}: {err}") from err
    native = native.mean(axis=1)
    a, b = studio_bounds_ms(native, rate)
    audio = soxr.resample(native, rate, INPUT_RATE, quality="HQ") if rate != INPUT_RATE else native
    win = int(rate * TARGET_FRAME_MS / 1000)
    rms = np.sqrt((native[: len(native) // win * win].reshape(-1, win) ** 2).mean(axis=1))
    floor = float(rms[rms > 1e-6].min()) if (rms > 1e-6).any() else 0.0
    n = int(INPUT_RATE * PAD_MS / 1000)
    pad = np.random.default_rng(0).standard_normal(2 * n) * floor
    return np.concatenate([pad[:n], audio, pad[n:]]).astype(np.float32), (a + PAD_MS, b + PAD_MS)


def find_prompt_files(root: Path) -> tuple[Path, Path]:
    """``(sounds_dir, transcripts)`` under ``root``, the directory the two Debian packages
    were extracted into (``dpkg-deb -x``): ``**/en_US_f_Allison`` (or ``**/sounds/en``)
    and ``**/core-sounds-en.txt[.gz]``.

    Raises:
        FileNotFoundError: either is missing.
    """
    sounds = next((p for pat in ("**/en_US_f_Allison", "**/sounds/en") for p in sorted(root.glob(pat))
                   if p.is_dir()), None)
    text = next((p for pat in ("**/core-sounds-en.txt", "**/core-sounds-en.txt.gz") for p in sorted(root.glob(pat))),
                None)
    if sounds is None or text is None:
        raise FileNotFoundError(f"no Asterisk prompts under {root}: extract asterisk-core-sounds-en-wav and "
                                "asterisk-core-sounds-en there (apt-get download ...; dpkg-deb -x PKG.deb DIR)")
    return sounds, text


def evaluation_prompts(root: Path, per_kind: int = 12) -> list[tuple[Prompt, np.ndarray, tuple[float, float]]]:
    """The prompts of the reference evaluation: the first ``per_kind`` (by name) of the
    fricative-final ones (``"fricative-both"`` counts as final) and of the
    fricative-initial ones, each loaded by :func:`load_prompt`, leaving out a recording
    cut inside its speech (target within one frame of the recording's first or last
    sample; e.g. a final /s/ running into the file's end has no known end).

    Raises:
        FileNotFoundError: see :func:`find_prompt_files`.
    """
    sounds, text = find_prompt_files(root)
    counts = {"final": 0, "initial": 0}
    out = []
    for p in select_prompts(read_transcripts(text), sounds):
        kind = "initial" if p.kind == "fricative-initial" else "final"
        if counts[kind] >= per_kind:
            continue
        audio, (a, b) = load_prompt(sounds, p)
        if a - PAD_MS < TARGET_FRAME_MS or (samples_to_ms(len(audio)) - PAD_MS) - b < TARGET_FRAME_MS:
            continue
        counts[kind] += 1
        out.append((p, audio, (a, b)))
    return out
