"""HTML and Markdown building blocks shared by both reports.

The inline stylesheet (:data:`CSS`), escaping (:func:`escape` for HTML,
:func:`md_text` for one line of GitHub-flavoured markdown), tables
(:func:`html_table`, :func:`md_table`, :func:`kv_table` with :func:`format_value`)
and embedded figures (:func:`html_figure`: a base64 PNG, so the HTML has no external
resources).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["CSS", "ENVIRONMENT_SECTIONS", "escape", "format_value", "html_figure", "html_table", "kv_table",
           "md_table", "md_text"]

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1F2937;
max-width:1180px;margin:24px auto;padding:0 20px;line-height:1.45;font-size:14px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 8px;border-bottom:2px solid #E5E7EB;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px;color:#374151}
.sub{color:#6B7280;margin:0 0 16px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px}
th,td{border-bottom:1px solid #E5E7EB;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#F3F4F6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-size:12px;color:#374151}
.env{display:flex;flex-wrap:wrap;gap:8px 28px}.env table{min-width:260px}
.warn{background:#FEF3C7;border-left:4px solid #D97706;padding:4px 10px;margin:4px 0;font-size:12.5px}
.headline{font-size:15px;background:#ECFDF5;border-left:4px solid #10B981;padding:8px 12px;margin:10px 0}
.scroll{overflow-x:auto}
tr.warmup td{color:#9CA3AF;background:#FAFAFA}
.badge{display:inline-block;font-size:10.5px;padding:0 6px;border-radius:8px;background:#E5E7EB;color:#4B5563}
figure{margin:10px 0 22px}figure img{max-width:100%;height:auto;border:1px solid #F3F4F6}
figcaption{color:#6B7280;font-size:12.5px}
pre{background:#F9FAFB;border:1px solid #E5E7EB;padding:10px;font-size:12px;overflow-x:auto}
td.text{max-width:320px;min-width:160px}
"""


def escape(x: Any) -> str:
    """``str(x)`` escaped for HTML text and attribute values."""
    return html.escape(str(x), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_text(x: Any) -> str:
    """Markdown text on one line: HTML-escaped; backslash, backtick, ``*``, ``|`` and
    ``_`` outside words backslashed (brackets stay: without a link target they are text)."""
    text = " ".join(str(x).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> str:
    """A GFM table; with ``numeric`` every column after the first is right-aligned."""
    align = ["---:" if numeric and i else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(md_text(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> str:
    """An HTML table in a horizontal scroller; with ``numeric`` every column after the
    first is right-aligned."""
    def cls(i: int) -> str:
        return " class=num" if numeric and i else ""

    head = "".join(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<div class=scroll><table><tr>{head}</tr>{body}</table></div>"


def format_value(v: Any, *, nested: bool = True) -> str:
    """A value of a key-value table: a dict as ``k=v, ...`` (its values formatted too
    when ``nested``, else as ``str``), a list as ``a, b``, a float with one decimal and
    thousands separators."""
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={format_value(x) if nested else x}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


ENVIRONMENT_SECTIONS = ("node", "machine", "threads", "versions", "models", "tts")
"""The environment stamp's tables after the run's own, in order (keys of the summary):
``node`` is the CPU model and the speed flags it has (:func:`voicelab.lab.node.node_info`)."""


def kv_table(title: str, rows: Iterable[tuple[Any, Any]]) -> str:
    """A two-column table headed by ``title``: one ``<th>`` key and ``<td>`` value a row."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table><tr><th colspan=2>{escape(title)}</th></tr>{body}</table>"


def html_figure(png_base64: str, alt: str, caption: str = "") -> str:
    """A ``<figure>`` embedding a base64 PNG, with a caption when one is given."""
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{png_base64}">{cap}</figure>'
