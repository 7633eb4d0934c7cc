"""Shared fixtures: a real SQLite file per test (or the CI PostgreSQL), settings, sessions, clock."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
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

# CI sets this to run the database tests a second time against a real PostgreSQL server.
POSTGRES_URL = os.environ.get("CREDITFLOW_TEST_DATABASE_URL", "")


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
    settings = load_settings({}, database={"url": POSTGRES_URL})
    engine = make_engine(settings.database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path, postgres_engine: Engine | None) -> Settings:
    """Settings for one test: its own database (a fresh SQLite copy, or an emptied PostgreSQL)."""
    if postgres_engine is not None:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with postgres_engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
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
