"""The layout shows the architecture: imports run down the data path, modules stay small."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "voicelab"
MAX_MODULE_LINES = 400


def test_imports_run_down_the_data_path():
    """import-linter's layers contract in pyproject.toml: no import from a lower layer
    (stages, session, measurement, reports) back up to a higher one (drivers)."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail("import-linter is not installed: `make setup` installs the test extra")
    proc = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_no_module_over_the_size_limit():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    too_big = {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_big, f"modules over {MAX_MODULE_LINES} lines: {too_big}"


def test_top_level_holds_only_the_core_and_the_cli():
    """Everything else has a room: stages, session, measure, reports, lab, assets. The core's two
    modules: clock (the session's time base) and units (the input rate, ms <-> samples)."""
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py", "cli.py", "clock.py", "units.py"]
    for core in ("config", "events"):  # packages: the settings and the trace outgrew one module each
        assert (PACKAGE / core / "__init__.py").is_file(), f"voicelab.{core} is a package"


def test_the_input_rate_is_defined_once():
    """16 kHz has one definition (voicelab.units.INPUT_RATE); no module assigns the number again."""
    import re

    pattern = re.compile(r"^\s*[A-Z_]*RATE\s*(:\s*int\s*)?=\s*16_?000\b", re.M)
    owners = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if pattern.search(p.read_text()))
    # corpus/recordings.py: GOFORWARD_RATE is a fact about one source file (pocketsphinx's goforward.raw)
    assert owners == ["corpus/recordings.py", "units.py"]
