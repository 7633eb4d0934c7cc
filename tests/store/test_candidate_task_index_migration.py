"""Migration 0014h on SQLite and PostgreSQL: task_candidates gets an index by task id, so the step that closes
a task drops its candidate rows without reading every open task's rows; a downgrade takes it away."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, inspect

from workflows.engine.step import _DROP_CANDIDATES
from workflows.store.schema import alembic_config, upgrade_schema

pytestmark = pytest.mark.db


def _indexes(engine: Engine) -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes("task_candidates")}


def _migrate(engine: Engine, verb: str, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, verb)(cfg, revision)


def test_0014h_indexes_candidate_rows_by_task_and_goes_down_again(db_engine: Engine) -> None:
    assert "ix_task_candidates_task" in _indexes(db_engine)
    _migrate(db_engine, "downgrade", "0014g")
    try:
        assert "ix_task_candidates_task" not in _indexes(db_engine)
        _migrate(db_engine, "upgrade", "0014h")
        assert "ix_task_candidates_task" in _indexes(db_engine)
    finally:
        upgrade_schema(db_engine)  # back to the head: on PostgreSQL the next tests share this database


def test_the_step_drops_a_closed_tasks_rows_through_the_index(db_engine: Engine) -> None:
    """SQLite without ANALYZE statistics (a live database never gets them) scanned the whole table before."""
    if db_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL picks a sequential scan on a table this small whatever the indexes")
    # The step's statement (workflows/engine/step.py) with two ids bound.
    statement = str(_DROP_CANDIDATES.compile(db_engine)).replace("(__[POSTCOMPILE_ids])", "(7, 8)")
    assert statement == "DELETE FROM task_candidates WHERE task_candidates.task_id IN (7, 8)"
    with db_engine.connect() as db:
        plan = db.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
    [(*_, step)] = plan  # one step: a search of the index, no SCAN of the table
    assert step.startswith("SEARCH task_candidates USING") and "ix_task_candidates_task (task_id=?)" in step
