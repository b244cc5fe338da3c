"""Checks shared by the report tests: a self-contained HTML document and its images."""

from __future__ import annotations

import base64
import re

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def embedded_pngs(doc: str) -> list[str]:
    """Assert ``doc`` is one self-contained HTML page (no external URL, script or
    stylesheet link) whose every ``<img>`` is an embedded PNG; return the ``src``s."""
    assert doc.startswith("<!DOCTYPE html>") and doc.rstrip().endswith("</html>")
    assert "http://" not in doc and "https://" not in doc
    assert "<script" not in doc.lower() and "<link" not in doc.lower()
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', doc)
    assert len(srcs) == doc.count("<img")
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    return srcs
