"""Scoring the sentence trigger on pySBD's English "Golden Rules", streamed token by token."""

from __future__ import annotations

import json
import re
from pathlib import Path

from voicelab.trigger.sentence import SentenceTrigger

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def llm_like_tokens(text: str) -> list[str]:
    """Split text like a BPE LLM stream: words with their leading space, punctuation alone."""
    tokens = _TOKEN.findall(text)
    assert "".join(tokens) == text
    return tokens


def split_streaming(text: str) -> list[str]:
    """Stream ``text`` token by token through a :class:`SentenceTrigger`; return stripped chunks."""
    trig = SentenceTrigger(min_words=1)
    chunks = []
    for i, tok in enumerate(llm_like_tokens(text)):
        chunks += trig.push(tok, float(i))
    chunks += trig.flush(float(len(text)))
    return [c.text.strip() for c in chunks]


def golden_rules_score(path: str | Path) -> tuple[int, int, list[int]]:
    """``(passed, total, failed case indices)`` on the golden-rules JSON at ``path``."""
    cases = json.loads(Path(path).read_text())["cases"]
    failed = [i for i, c in enumerate(cases) if split_streaming(c["text"]) != c["sentences"]]
    return len(cases) - len(failed), len(cases), failed
