"""``pysbd-golden-rules-en``: pySBD's 48 English "Golden Rules", from PyPI ``pysbd``'s sdist.

:func:`~voicelab.assets.asset_path` returns the file ``golden_rules_en.json``:
``{"source": str, "cases": [{"text": str, "sentences": [str, ...]}, ...]}``, the 48 cases of
``GOLDEN_EN_RULES`` in ``benchmarks/english_golden_rules.py`` of the ``pysbd==0.3.3`` source
distribution (MIT licence, Nipun Sadvilkar; the English "Golden Rules" for sentence boundary
disambiguation of pySBD's test suite), read with :func:`ast.literal_eval` (nothing of the
package is run or installed). Used by :mod:`voicelab.trigger.golden` and
``tests/test_trigger_golden_rules.py``.
"""

from __future__ import annotations

import ast
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

from voicelab.assets.cache import AssetError, AssetSpec
from voicelab.assets.fetch import Download

GOLDEN_JSON = "golden_rules_en.json"
GOLDEN_JSON_SHA256 = "2e70b9a6677f4ba1f62e29e285093e5ec31a6e3a6d7ccc9b3a060e1b403fa911"
PYSBD_SDIST = Download("pypi-sdist", "pysbd==0.3.3", "pysbd-0.3.3.tar.gz",
                       "56ab48a28a8470f0042a4cb7c9da8a6dde8621ecf87a86d75f201cbf1837e77f")
"""pySBD's last source distribution on PyPI (0.3.4 ships only a wheel, without the rules)."""
MEMBER = "pysbd-0.3.3/benchmarks/english_golden_rules.py"
SOURCE = ("pySBD 0.3.3 (PyPI sdist, MIT licence, Nipun Sadvilkar), benchmarks/english_golden_rules.py, "
          "GOLDEN_EN_RULES: the English 'Golden Rules' for sentence boundary disambiguation")


def golden_rules(module_source: str) -> list[dict]:
    """The cases of the ``GOLDEN_EN_RULES = [(text, [sentence, ...]), ...]`` assignment in
    ``module_source``, as ``{"text", "sentences"}`` dicts, in order.

    Raises:
        AssetError: no such assignment, or it is not a list of (str, list of str) pairs.
    """
    for node in ast.parse(module_source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "GOLDEN_EN_RULES" for t in node.targets):
            rules = ast.literal_eval(node.value)
            break
    else:
        raise AssetError("no GOLDEN_EN_RULES list in pySBD's english_golden_rules.py")
    if not (isinstance(rules, list) and all(isinstance(t, str) and isinstance(s, list)
                                            and all(isinstance(x, str) for x in s) for t, s in rules)):
        raise AssetError("pySBD's GOLDEN_EN_RULES is not a list of (text, [sentence, ...]) pairs")
    return [{"text": t, "sentences": s} for t, s in rules]


def _build_golden_rules(sources: Sequence[Path], out: Path) -> None:
    (sdist,) = sources
    with tarfile.open(sdist) as tf:
        member = tf.extractfile(MEMBER)
        if member is None:
            raise AssetError(f"{sdist.name} has no {MEMBER}")
        cases = golden_rules(member.read().decode("utf-8"))
    text = json.dumps({"source": SOURCE, "cases": cases}, indent=1, ensure_ascii=False) + "\n"
    (out / GOLDEN_JSON).write_text(text, encoding="utf-8")


SPEC = AssetSpec(
    name="pysbd-golden-rules-en",
    description="pySBD's 48 English Golden Rules (sentence boundaries), JSON",
    downloads=(PYSBD_SDIST,),
    builder=_build_golden_rules,
    files={GOLDEN_JSON: GOLDEN_JSON_SHA256},
    entry=GOLDEN_JSON,
)
