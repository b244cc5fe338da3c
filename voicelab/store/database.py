"""Opening the conversation store: a database URL -> an engine with the schema in place."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from voicelab.assets.cache import voicelab_home
from voicelab.store.schema import SCHEMA_VERSION, Base, Meta


class StoreError(RuntimeError):
    """The database cannot be opened, is of another schema version, or a URL is malformed."""


def default_url() -> str:
    """The embedded default: SQLite in ``$VOICELAB_HOME/voicelab.db`` (see
    :func:`voicelab.assets.cache.voicelab_home`)."""
    return f"sqlite:///{voicelab_home() / 'voicelab.db'}"


def open_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default :func:`default_url`) with the schema created if the
    database is empty. ``postgresql://`` without a driver uses psycopg 3.

    SQLite runs in WAL mode (readers do not wait for the writer) with foreign keys on.

    Raises:
        StoreError: a malformed URL, a database that cannot be reached, or one written by
            another schema version (:data:`voicelab.store.schema.SCHEMA_VERSION`).
    """
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreError(f"--db {url!r}: not a database URL ({err}); e.g. sqlite:///path.db or "
                         "postgresql://user@host/db") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as err:
        raise StoreError(f"--db {url!r}: {err}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as s, s.begin():
            found = s.scalar(select(Meta.value).where(Meta.key == "schema_version"))
            if found is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            elif found != str(SCHEMA_VERSION):
                raise StoreError(f"{parsed.render_as_string(hide_password=True)} holds schema version {found}; "
                                 f"this voicelab writes version {SCHEMA_VERSION}")
    except SQLAlchemyError as err:
        engine.dispose()
        raise StoreError(f"cannot open {parsed.render_as_string(hide_password=True)}: "
                         f"{type(err.orig or err).__name__}: {str(err.orig or err).strip()}") from None
    return engine


def _sqlite_pragmas(conn, _record) -> None:
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
