"""An empty creditflow database for a benchmark: schema, demo users and the shipped diagrams."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from handlers.registry import build_operations

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from workflows.cli.demo import seed_demo_users  # noqa: E402
from workflows.definitions.deploy import deploy_files, read_files  # noqa: E402
from workflows.definitions.shipped import shipped_bundles  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from workflows.store.schema import upgrade_schema  # noqa: E402
from workflows.users import SYSTEM_ACTOR  # noqa: E402


def fresh_database(url: str, now: datetime) -> Engine:
    """The engine of a rebuilt database (PostgreSQL: its public schema is dropped first, so give the
    benchmark a database of its own) with the demo users and the shipped diagrams deployed."""
    engine = make_engine(load_settings({}, database={"url": url}).database)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_schema(engine)
    with transaction(make_session_factory(engine)) as session:
        seed_demo_users(session, now)
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), build_operations(), deployed_by=SYSTEM_ACTOR, now=now)
    return engine
