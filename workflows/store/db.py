"""Database engine and sessions: SQLite (WAL, BEGIN IMMEDIATE) or PostgreSQL, chosen by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from workflows.settings import DatabaseSettings
from workflows.store.shown_json import read_json

# The largest integers the columns hold on both databases; inputs are checked against them before any
# query, since a bigger one fails inside it ("integer out of range" on PostgreSQL, OverflowError on SQLite).
MAX_INTEGER = 2**31 - 1  # INTEGER: ids (primary and foreign keys) and counts
MAX_BIGINT = 2**63 - 1  # BIGINT: money as hundredths (Decimal2)


def make_engine(settings: DatabaseSettings) -> Engine:
    """Create the SQLAlchemy engine; SQLite gets WAL, a busy timeout and write-locking transactions."""
    url = settings.url
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings.busy_timeout_s)
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, json_deserializer=read_json)


def _sqlite_engine(url: str, busy_timeout_s: int) -> Engine:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    in_memory = path in ("", ":memory:")
    if not in_memory:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # An in-memory database lives in one connection, so it keeps SQLAlchemy's single-connection pool.
    pool_args: dict[str, Any] = {} if in_memory else {"pool_size": 10, "max_overflow": 20}
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
        json_deserializer=read_json,
        **pool_args,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute(f"PRAGMA busy_timeout={busy_timeout_s * 1000}")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        # Take transaction control away from pysqlite: it would BEGIN only before the first write,
        # letting a read-then-write transaction race (measured: 1,442 of 1,800 updates lost).
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front; readers keep a deferred snapshot and never block writers.
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def make_session_factory(engine: Engine, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (views render after the transaction); each
    session's `info` starts as a copy of `info` (mail.sender: the company that signs letters)."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


WRITE_OPTION = "creditflow_write"


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work that writes: commit on success, roll back everything on any exception.

    On SQLite it starts with BEGIN IMMEDIATE, so its reads and writes are serialised with other writers.
    Sessions opened without it are for reading only.
    """
    with factory() as session, session.begin():
        session.connection(execution_options={WRITE_OPTION: True})
        yield session


def is_postgres(session: Session) -> bool:
    """True when the session talks to PostgreSQL (row locks and advisory locks are available)."""
    return session.get_bind().dialect.name == "postgresql"


def ping(engine: Engine) -> None:
    """Run one trivial query (a health check).

    Raises:
        sqlalchemy.exc.OperationalError: the database cannot be reached.
    """
    with engine.connect() as connection:
        connection.execute(select(1))
