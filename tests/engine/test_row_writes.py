"""A step's instance and completed task are written as prepared UPDATEs past the ORM (issue 19): the same
row, the same optimistic lock and the same object state as the ORM's flush would leave."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select, text
from sqlalchemy.orm.exc import StaleDataError

from workflows.engine import runner
from workflows.engine.row_writes import write_changed
from workflows.store.db import transaction
from workflows.store.models import InboxItem, ProcessInstance
from workflows.users import SYSTEM

START = {
    "customer_name": "Row Writes Ltd",
    "order_value": 250000,
    "standard_terms_days": 30,
    "requested_terms_days": 45,
    "justification": "issue 19",
}


def _started(app: Flask, clock: datetime) -> int:
    rt = app.extensions["creditflow"].rt
    return runner.start_instance(rt, "payment_terms_exception", START, actor=SYSTEM, now=clock).id


def test_changed_columns_go_in_one_update_with_the_lock_bumped(
    app: Flask, shipped: None, clock: datetime
) -> None:
    instance_id = _started(app, clock)
    factory = app.extensions["creditflow"].rt.factory
    sent: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split()))

    with transaction(factory) as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        lock = instance.lock_version
        later = clock + timedelta(hours=1)
        instance.updated_at = later
        instance.data = {**instance.data, "note": "written past the ORM"}
        instance.status = instance.status  # set to the value it had: no change, as in a flush
        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            write_changed(session, instance)
            session.flush()  # nothing left for the ORM: no statement
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)
        assert not session.dirty and instance.lock_version == lock + 1
    [update] = sent
    assert update.startswith("UPDATE process_instances SET") and "status" not in update, update
    assert "lock_version" in update.split("WHERE")[1], update
    with factory() as session:
        stored = session.get(ProcessInstance, instance_id)
        assert stored is not None
        assert (stored.lock_version, stored.updated_at) == (lock + 1, later)
        assert stored.data["note"] == "written past the ORM"


def test_a_row_changed_by_another_transaction_is_a_stale_data_error(
    app: Flask, shipped: None, clock: datetime
) -> None:
    instance_id = _started(app, clock)
    factory = app.extensions["creditflow"].rt.factory
    with pytest.raises(StaleDataError), transaction(factory) as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        # What another step's commit would have done since this one read the row.
        session.execute(
            text("UPDATE process_instances SET lock_version = lock_version + 1 WHERE id = :id"),
            {"id": instance_id},
        )
        instance.updated_at = clock + timedelta(hours=1)
        write_changed(session, instance)


def test_an_unversioned_row_and_an_unchanged_one(app: Flask, shipped: None, clock: datetime) -> None:
    instance_id = _started(app, clock)
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        [item] = session.query(InboxItem).filter_by(instance_id=instance_id).all()
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        item.assignee, item.decision = "analyst1", "approve"
        write_changed(session, item, instance)  # the instance is unchanged: nothing to write
        assert not session.dirty
    with factory() as session:
        stored = session.get(InboxItem, item.id)
        assert stored is not None and (stored.assignee, stored.decision) == ("analyst1", "approve")


def test_a_start_rolled_back_in_a_savepoint_leaves_no_object_behind(
    app: Flask, shipped: None, clock: datetime
) -> None:
    """A batch starts each instance in a savepoint (workflows/batch/daily_starts.py): a start rolled back
    must leave the session as a rolled-back flush would, so the next start (on SQLite it gets the same
    id back) attaches its instance."""
    rt = app.extensions["creditflow"].rt
    persisted: list[Any] = []
    with transaction(rt.factory) as session:
        event.listen(session, "pending_to_persistent", lambda _s, obj: persisted.append(obj))
        with pytest.raises(RuntimeError), session.begin_nested():
            first = runner.start_instance(
                rt, "payment_terms_exception", START, actor=SYSTEM, now=clock, session=session
            )
            raise RuntimeError("this customer's start fails")
        assert first not in session
        second = runner.start_instance(
            rt, "payment_terms_exception", START, actor=SYSTEM, now=clock, session=session
        )
        assert second in session and not session.dirty and not session.new
    assert persisted[0] is first and persisted[-1] is second
    with rt.factory() as session:
        assert session.scalars(select(ProcessInstance.id)).all() == [second.id]
