"""Shared fixtures: a real SQLite file per test (or the CI PostgreSQL), settings, sessions, clock."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from tests.collections_desk import Collections
from webui import create_app
from workflows.cli.demo import seed_demo_users
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.settings import Settings, load_settings
from workflows.store.db import make_engine, make_session_factory, transaction
from workflows.store.models import Base
from workflows.store.schema import upgrade_schema
from workflows.users import issue_token

if TYPE_CHECKING:
    from tests.smtp import RecordingSink

pytest_plugins = ["tests.smtp"]


def worker_database_url(url: str) -> str:
    """`url` with the pytest-xdist worker's id appended to its database name (`postgres_gw0`), so parallel
    workers never share a PostgreSQL database; unchanged when not running under xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker:
        return url
    target = make_url(url)
    return target.set(database=f"{target.database}_{worker}").render_as_string(hide_password=False)


# CI sets this to run the database tests a second time against a real PostgreSQL server; each xdist worker
# uses a database of its own on that server (created by `postgres_engine`, dropped at the session's end).
SERVER_URL = os.environ.get("CREDITFLOW_TEST_DATABASE_URL", "")
POSTGRES_URL = worker_database_url(SERVER_URL)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy, which is far faster than migrating."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    settings = load_settings({}, database={"url": f"sqlite:///{path}"})
    engine = make_engine(settings.database)
    upgrade_schema(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file we copy
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    own_database = POSTGRES_URL != SERVER_URL
    if own_database:
        recreate_database(SERVER_URL, POSTGRES_URL)
    settings = load_settings({}, database={"url": POSTGRES_URL})
    engine = make_engine(settings.database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_schema(engine)
    yield engine
    engine.dispose()
    if own_database:
        drop_databases(SERVER_URL, POSTGRES_URL)


def recreate_database(server_url: str, url: str) -> None:
    """Create the worker's database on the server, dropping one a killed earlier run left behind."""
    drop_databases(server_url, url)
    name = make_url(url).database
    server = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()


def drop_databases(server_url: str, url: str) -> None:
    """Drop the worker's database and the second one tests/batch/test_scheduler_lock.py makes beside it."""
    name = make_url(url).database
    server = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            for database in (name, f"{name}_second_scheduler"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        server.dispose()


# Sequences a test drew from (last_value is NULL until the first nextval and again after setval(..., false)),
# even in a table it emptied again: restarted at 1 as TRUNCATE ... RESTART IDENTITY would, so ids start at 1.
_RESTART_USED_SEQUENCES = (
    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences"
    " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def empty_postgres(engine: Engine) -> None:
    """Empty every table and restart the id sequences, as in a freshly migrated database.

    A TRUNCATE costs per table it names (PostgreSQL gives each a new file): naming all 56 took ~180 ms per
    test, ~6 min of CI's PostgreSQL stage. A test fills a handful, so one statement first lists the tables
    that hold rows (a few ms) and only those are truncated.
    """
    filled_tables = " UNION ALL ".join(
        f"SELECT '{table.name}' WHERE EXISTS (SELECT 1 FROM {table.name})"
        for table in Base.metadata.sorted_tables
    )
    with engine.begin() as conn:
        filled = list(conn.scalars(text(filled_tables)))
        if filled:
            conn.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
        conn.execute(text(_RESTART_USED_SEQUENCES))


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path, postgres_engine: Engine | None) -> Settings:
    """Settings for one test: its own database (a fresh SQLite copy, or an emptied PostgreSQL)."""
    if postgres_engine is not None:
        empty_postgres(postgres_engine)
        url = POSTGRES_URL
    else:
        db = tmp_path / "creditflow.db"
        shutil.copy(migrated_sqlite, db)
        url = f"sqlite:///{db}"
    return load_settings(
        {},
        database={"url": url},
        web={"secret_key": "test-secret"},
        mail={"sink_port": 0},
        scheduler={"lock_file": str(tmp_path / "scheduler.lock")},
    )


@pytest.fixture
def db_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)


@pytest.fixture
def clock() -> datetime:
    """A fixed start time; tests move time by passing later `now` values, never by sleeping."""
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SteppingClock:
    """A clock the app reads on every request; tests move it forward instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def no_gc() -> Iterator[None]:
    """No garbage collection during the test: for tests that bound a call's CPU time (time.thread_time).
    Late in a CI run an xdist worker's heap is large, and a full collection that happened to fall into the
    timed call cost one test 1.5 s of its thread's CPU (its budget: 1 s; the call alone takes ms)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
def app_clock(clock: datetime) -> SteppingClock:
    return SteppingClock(clock)


@pytest.fixture
def app(settings: Settings, app_clock: SteppingClock) -> Iterator[Flask]:
    application = create_app(settings, clock=app_clock)
    application.config["TESTING"] = True
    yield application
    application.extensions["creditflow"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def demo_tokens(app: Flask, clock: datetime) -> dict[str, str]:
    """The demo users (README.md), each with an API token: {username: token}."""
    factory = app.extensions["creditflow"].rt.factory
    with factory() as session, session.begin():
        names = seed_demo_users(session, clock)
        return {name: issue_token(session, name, clock) for name in names}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that gets a database is a `db` test, so CI can rerun exactly those on PostgreSQL."""
    for item in items:
        if "settings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the lines tests record as `record_property("summary", ...)`; under pytest-xdist the reports
    (with their properties) reach this hook in the controlling process, which writes the terminal."""
    if report.when == "call":
        _SUMMARIES.extend(str(value) for name, value in report.user_properties if name == "summary")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _SUMMARIES:
        terminalreporter.write_line(line)


@pytest.fixture
def shipped(app: Flask, clock: datetime) -> None:
    """Deploy every diagram under bpmn/, as `creditflow init` does."""
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), build_operations(), deployed_by="system", now=clock)


@pytest.fixture
def desk(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    app_clock: SteppingClock,
    smtp_sink: RecordingSink,
) -> Collections:
    """A collections desk on the test app (tests/collections_desk.py)."""
    return Collections(app, client, demo_tokens, app_clock, smtp_sink)
