"""The scheduler lock belongs to the database: one scheduler per database, whatever the working directory.

Two servers on two databases both run their schedulers; two on one database run one. On SQLite the lock
file sits next to the database file; on PostgreSQL an advisory lock is held in the database itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from handlers.registry import build_operations
from workflows.batch.scheduler import LOCK_SUFFIX, SingleSchedulerLock
from workflows.engine.runner import Runtime
from workflows.settings import Settings, load_settings
from workflows.store.db import make_engine


class Servers:
    """Runtimes as separate `creditflow serve` processes would build them from the shipped defaults."""

    def __init__(self) -> None:
        self.engines: list[Engine] = []
        self.locks: list[SingleSchedulerLock] = []

    def lock_for(self, url: str) -> SingleSchedulerLock:
        settings = load_settings({}, database={"url": url})  # the default [scheduler] lock_file
        engine = make_engine(settings.database)
        self.engines.append(engine)
        self.locks.append(SingleSchedulerLock(Runtime(engine, settings, build_operations())))
        return self.locks[-1]

    def close(self) -> None:
        for lock in self.locks:
            lock.release()
        for engine in self.engines:
            engine.dispose()


@pytest.fixture
def servers() -> Iterator[Servers]:
    started = Servers()
    yield started
    started.close()


def test_two_servers_on_two_sqlite_databases_in_one_directory_both_run_their_scheduler(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # one working directory, as `make run` twice in one checkout
    first, second = servers.lock_for("sqlite:///first.db"), servers.lock_for("sqlite:///second.db")

    assert (first.acquire(), second.acquire()) == (True, True)
    assert (tmp_path / f"first.db{LOCK_SUFFIX}").exists() and (tmp_path / f"second.db{LOCK_SUFFIX}").exists()
    assert not (tmp_path / "var").exists()  # nothing in the working directory


def test_two_servers_on_one_sqlite_database_from_two_directories_run_one_scheduler(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "shared" / "creditflow.db"
    database.parent.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    first = servers.lock_for(f"sqlite:///{database}")
    assert first.acquire() is True

    monkeypatch.chdir(database.parent)  # the second server names the same file relative to its directory
    second = servers.lock_for("sqlite:///creditflow.db")
    assert second.acquire() is False
    first.release()
    assert second.acquire() is True


def test_an_in_memory_database_always_has_its_own_scheduler(servers: Servers) -> None:
    assert servers.lock_for("sqlite://").acquire() is True


@pytest.fixture
def second_postgres_url(settings: Settings) -> str:
    """Another database on the test PostgreSQL server (created once), beside the test's own."""
    url = make_url(settings.database.url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("two PostgreSQL databases need the PostgreSQL test server (CREDITFLOW_TEST_DATABASE_URL)")
    name = f"{url.database}_second_scheduler"
    engine = make_engine(settings.database)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def test_postgres_scheduler_lock_is_one_per_database(
    servers: Servers, settings: Settings, second_postgres_url: str
) -> None:
    first, same = servers.lock_for(settings.database.url), servers.lock_for(settings.database.url)
    other = servers.lock_for(second_postgres_url)

    assert first.acquire() is True
    assert same.acquire() is False  # a second server on the same database stands by
    assert other.acquire() is True  # a server on another database runs its own scheduler
    first.release()
    assert same.acquire() is True
