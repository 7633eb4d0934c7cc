"""The re-check before each group of a daily start (`daily_starts.already_handled`): what it finds, and
that on SQLite it reads the instances of the group's customers by business key, so a day's groups do not
each walk every instance of the process the day started so far (issue 19: that made a day quadratic).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from workflows.batch import daily_starts
from workflows.batch.chunk_units import Chunk
from workflows.credit import dunning, limit_review
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.versions import latest_definition
from workflows.store.models import InstanceStatus, ProcessInstance

DAY = date(2026, 3, 2)
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _instance(session: Session, key: str, customer: int, status: str, started: datetime) -> ProcessInstance:
    definition = latest_definition(session, key)
    assert definition is not None
    return ProcessInstance(
        definition_id=definition.id,
        process_key=key,
        version=1,
        business_key=str(customer),
        status=status,
        state="",
        data={},
        waits=[],
        started_by="system",
        started_at=started,
        updated_at=started,
    )


def test_a_group_is_handled_by_its_own_process_keys_instances_only(
    session_factory: sessionmaker[Session],
) -> None:
    yesterday = MORNING - timedelta(days=1)
    with session_factory() as session, session.begin():
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), build_operations(), deployed_by="system", now=yesterday)
        for key, customer, status, started in [
            (dunning.PROCESS_KEY, 1, InstanceStatus.RUNNING, MORNING),  # dunned today
            (dunning.PROCESS_KEY, 2, InstanceStatus.RUNNING, yesterday),  # before the day
            (limit_review.PROCESS_KEY, 3, InstanceStatus.RUNNING, MORNING),  # another key
            (limit_review.PROCESS_KEY, 4, InstanceStatus.ERROR, yesterday),  # an open review
            (dunning.PROCESS_KEY, 5, InstanceStatus.COMPLETED, yesterday),
        ]:
            session.add(_instance(session, key, customer, status, started))
    customers = (1, 2, 3, 4, 5, 6)
    with session_factory() as session:
        dunned = daily_starts.already_handled(session, Chunk(dunning.PROCESS_KEY, DAY, customers))
        reviewed = daily_starts.already_handled(session, Chunk(limit_review.PROCESS_KEY, DAY, customers))
    assert dunned == {1}
    assert reviewed == {3, 4}


@pytest.mark.parametrize("process_key", [dunning.PROCESS_KEY, limit_review.PROCESS_KEY])
def test_the_recheck_reads_instances_by_business_key_on_sqlite(
    db_engine: Engine, session_factory: sessionmaker[Session], process_key: str
) -> None:
    if db_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan; PostgreSQL plans by cost")
    seen: list[tuple[str, Any]] = []

    def grab(_conn: object, _cursor: object, statement: str, parameters: Any, *_rest: object) -> None:
        if "FROM process_instances" in statement:
            seen.append((statement, parameters))

    event.listen(db_engine, "before_cursor_execute", grab)
    try:
        with session_factory() as session:
            daily_starts.already_handled(session, Chunk(process_key, DAY, tuple(range(1, 21))))
    finally:
        event.remove(db_engine, "before_cursor_execute", grab)
    assert len(seen) == 1
    statement, parameters = seen[0]
    with db_engine.connect() as conn:
        plan = " / ".join(
            row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    # Not ix_instances_key_status (process_key=?): every instance of the key the day started so far.
    assert "ix_instances_business_key" in plan, plan
