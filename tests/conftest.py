"""Fixtures shared by the test modules (pytest loads this file; no test imports it).

- ``free_port``: a TCP port on 127.0.0.1 that was free a moment ago (:func:`ports.free_port`).
- ``pg_url``: a throw-away PostgreSQL server's URL per test module (:mod:`postgres`).

Plain helpers stay plain modules next to the tests and are imported by name:
``scripted_stages`` (the scripted stages and the fake clip), ``ports``, ``postgres``,
``chromium``, ``html_checks``, ``duplex_fakes``.
"""

from __future__ import annotations

import pytest

from ports import free_port as _free_port
from postgres import pg_bindir, postgres_server


@pytest.fixture()
def free_port() -> int:
    """A TCP port on 127.0.0.1 for a server the test starts (see :func:`ports.free_port`)."""
    return _free_port()


@pytest.fixture(scope="module")
def pg_url():
    """A throw-away PostgreSQL server's URL for a test module (skips, saying why, without
    Debian's server binaries)."""
    if pg_bindir() is None:
        pytest.skip("no PostgreSQL server binaries: `make postgres` installs Debian's postgresql")
    with postgres_server() as url:
        yield url
