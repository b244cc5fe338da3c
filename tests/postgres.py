"""A throw-away PostgreSQL server for the store tests: ``initdb`` + ``pg_ctl`` in a temp dir.

Uses Debian's ``postgresql`` package (``make postgres`` installs it). initdb refuses to run
as root, so as root the cluster belongs to the ``postgres`` system user (``runuser``). The
server listens on loopback at a free port, trusts local connections, and is stopped (and its
files removed with the temp dir) when the context ends (the ``pg_url`` fixture in conftest.py).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ports import free_port


def pg_bindir() -> Path | None:
    """Directory of Debian's PostgreSQL server binaries (newest major version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a cluster in a new temp dir; yield its SQLAlchemy URL (database ``postgres``)."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (make postgres installs Debian's postgresql)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="voicelab-pg-"))  # directly under /tmp: the postgres user can enter it
    data, port = tmp / "pgdata", free_port()
    if as_root:
        shutil.chown(tmp, "postgres")
        os.chmod(tmp, 0o700)

    def run(*cmd: str) -> None:
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "voicelab", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "server.log"), "-w", "-t", "60",
            "-o", f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        yield f"postgresql://voicelab@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)

