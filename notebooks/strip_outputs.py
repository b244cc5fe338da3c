"""Strip notebook outputs before committing, keeping only the checked ones.

Usage: ``.venv/bin/python notebooks/strip_outputs.py notebooks/*.ipynb``

Keeps the outputs of cells marked ``# NBVAL_CHECK_OUTPUT`` (small, deterministic in quick
mode: nbval compares them in ``make test``) and drops every other output and the saved
widget state, so committed notebooks stay small and free of timings. Code cells are
numbered 1, 2, ... in order (nbval refuses a reference cell with outputs but no count).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def strip(path: Path) -> None:
    nb = json.loads(path.read_text())
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        count += 1
        checked = "NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
        cell["execution_count"] = count
        cell["metadata"] = {}
        if not checked:
            cell["outputs"] = []
        for out in cell["outputs"]:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = count
    nb["metadata"].pop("widgets", None)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        strip(Path(arg))
