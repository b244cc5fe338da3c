"""Output directories checked before any model loads: a run that cannot write fails in a second."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

MIN_FREE_MB = 200
"""Least free space an output directory needs (MB): a run writes its traces, tables, report and
WAVs (the quickstart: about 15 MB with audio), a sweep many runs of it."""


class OutputError(RuntimeError):
    """An output directory cannot be created or written, or its disk is (nearly) full."""


def check_output_dir(path: Path, min_free_mb: float = MIN_FREE_MB) -> None:
    """Create ``path`` if needed and make sure a file can be written there and the disk has
    ``min_free_mb`` free.

    Raises:
        OutputError: the directory cannot be created (names the reason: a file in the way,
            permission), is not writable, or has less than ``min_free_mb`` MB free.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"output directory {path}: a file of that name is in the way") from None
    except OSError as err:
        raise OutputError(f"output directory {path} cannot be created: {err.strerror or err}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as err:
        raise OutputError(f"output directory {path} is not writable: {err.strerror or err}") from None
    free_mb = shutil.disk_usage(path).free / 2**20
    if free_mb < min_free_mb:
        raise OutputError(f"output directory {path}: only {free_mb:.0f} MB free on its disk, "
                          f"a run needs at least {min_free_mb:.0f} MB")
