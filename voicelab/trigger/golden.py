"""Scoring the sentence trigger on pySBD's English "Golden Rules", streamed token by token.

The rules file is the asset ``pysbd-golden-rules-en`` (48 cases of pySBD 0.3.3's
``GOLDEN_EN_RULES``, MIT licence, built at set-up from its PyPI sdist by
:mod:`voicelab.assets.golden_rules`): ``{"source", "cases": [{"text", "sentences"}, ...]}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from voicelab.trigger.sentence import SentenceTrigger

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
"""A word with its leading whitespace, one punctuation mark with its leading
whitespace, or trailing whitespace: how a BPE LLM streams " Mr", ".", " Smith"."""


def llm_like_tokens(text: str) -> list[str]:
    """Split ``text`` like a BPE LLM stream; the tokens concatenate back to ``text``.

    Example: ``"Mr. Smith"`` -> ``["Mr", ".", " Smith"]``.
    """
    return _TOKEN.findall(text)


def split_streaming(text: str) -> list[str]:
    """Stream ``text`` token by token through ``SentenceTrigger(min_words=1)``.

    Returns:
        The chunk texts, stripped: the sentences as the trigger hands them to TTS.
    """
    trig = SentenceTrigger(min_words=1)
    chunks = []
    for i, tok in enumerate(llm_like_tokens(text)):
        chunks += trig.push(tok, float(i))
    chunks += trig.flush(float(len(text)))
    return [c.text.strip() for c in chunks]


def _load_cases(path: str | Path) -> list[dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))["cases"]


def _failed(cases: list[dict]) -> list[int]:
    return [i for i, c in enumerate(cases) if split_streaming(c["text"]) != c["sentences"]]


def failed_golden_rules(path: str | Path) -> list[int]:
    """Indices of the cases in the rules file at ``path`` that :func:`split_streaming` gets wrong.

    Raises:
        FileNotFoundError: no file at ``path``.
    """
    return _failed(_load_cases(path))


def golden_rules_score(path: str | Path) -> tuple[int, int]:
    """``(passed, total)`` on the golden-rules JSON at ``path``.

    Raises:
        FileNotFoundError: no file at ``path``.
    """
    cases = _load_cases(path)
    return len(cases) - len(_failed(cases)), len(cases)
