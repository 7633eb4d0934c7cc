"""The numbered migrations build exactly the schema the models describe, and upgrading is idempotent."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

import workflows.credit.models  # noqa: F401  (puts the credit tables on Base.metadata)
from workflows.store.models import Base
from workflows.store.schema import upgrade_schema


def test_migrations_match_the_models(db_engine: Engine) -> None:
    upgrade_schema(db_engine)  # a second upgrade of a migrated database changes nothing
    with db_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
