"""open_case writes the new dunning case with one Core INSERT (handlers/dunning._insert_case, issue 19): the
row is the one the ORM's INSERT of a DunningCase wrote, and the step's next handlers find the case in the
session without reading it again; nor do the start's two reviews ask for an open promise of the new case
(handlers/dunning_overdue.open_promise_id), while a promise made by any other handler is found."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, select

from handlers.dunning import _NEW_CASE, _insert_case
from handlers.dunning_overdue import changes_no_invoice, open_promise_id
from handlers.registry import build_operations
from tests.batch.test_scale_guards import NOW, seed_book
from workflows.batch import daily_starts
from workflows.credit.models import DunningCase
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.engine.runner import Runtime
from workflows.engine.service_tasks import TaskContext
from workflows.settings import Settings
from workflows.store.db import transaction

pytestmark = pytest.mark.db


def _row(case: DunningCase) -> dict[str, Any]:
    return {c.key: getattr(case, c.key) for c in inspect(DunningCase).column_attrs if c.key not in ("id",)}


def test_the_core_insert_writes_every_column_of_the_case() -> None:
    written = {c.name for c in _NEW_CASE.table.columns} - {"id"}  # type: ignore[attr-defined]
    assert written == {c.key for c in inspect(DunningCase).column_attrs} - {"id"}


def test_the_core_insert_writes_the_row_the_orm_wrote(settings: Settings, db_engine: Engine) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    ids = seed_book(rt.factory, NOW, customers=2)
    with transaction(rt.factory) as session:
        ctx = TaskContext(
            session=session,
            now=NOW,
            instance_id=None,  # type: ignore[arg-type]
            process_key="dunning",
            business_key=None,
            bpmn_id="open_case",
            task_key="t",
            started_by="system",
            settings=settings,
        )
        core = _insert_case(ctx, ids["C0000"], "EUR")
        orm = DunningCase(customer_id=ids["C0001"], instance_id=None, currency="EUR", opened_at=NOW)
        session.add(orm)
        session.flush()
        core_id, orm_id = core.id, orm.id
        assert inspect(core).persistent and not session.dirty  # as if loaded: nothing to write at the flush
        in_session = {**_row(core), "customer_id": None}
    with rt.factory() as session:
        stored = [session.get(DunningCase, i) for i in (core_id, orm_id)]
        core_row, orm_row = ({**_row(c), "customer_id": None} for c in stored if c is not None)
    assert core_row == orm_row == in_session


def test_a_case_start_reads_its_new_case_by_key_from_the_session(
    settings: Settings, db_engine: Engine
) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    seed_book(rt.factory, NOW)  # 9 of 12 customers due
    by_key: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith("SELECT") and "WHERE dunning_cases.id =" in statement:
            by_key.append(statement)
        if statement.startswith("SELECT") and "FROM dunning_promises" in statement:
            by_key.append(statement)

    event.listen(db_engine, "before_cursor_execute", count)
    try:
        summary = daily_starts.chunked_dunning_run(rt, NOW.date(), NOW)
    finally:
        event.remove(db_engine, "before_cursor_execute", count)
    assert summary["cases_started"] == 9 and summary["failed_customers"] == []
    assert by_key == []
    with rt.factory() as session:
        cases = session.scalars(select(DunningCase).order_by(DunningCase.id)).all()
    assert [(c.level, c.status, c.last_notice_at) for c in cases] == [(1, "open", NOW)] * 9


def _in_step(session: Any, settings: Settings, call: int, reads: dict[Any, Any]) -> TaskContext:
    return TaskContext(
        session=session,
        now=NOW,
        instance_id=None,  # type: ignore[arg-type]
        process_key="dunning",
        business_key=None,
        bpmn_id="review_case",
        task_key="t",
        started_by="system",
        settings=settings,
        reads=reads,
        call=call,
    )


def test_no_open_promise_is_kept_only_while_handlers_that_make_none_run(
    settings: Settings, db_engine: Engine
) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    ids = seed_book(rt.factory, NOW, customers=1)
    with transaction(rt.factory) as session:
        case = _insert_case(_in_step(session, settings, 0, {}), ids["C0000"], "EUR")
        step: dict[Any, Any] = {}
        first = _in_step(session, settings, 1, step)
        changes_no_invoice(first)
        assert open_promise_id(first, case.id) is None
        promise = DunningPromise(
            case_id=case.id,
            promised_date=NOW.date(),
            amount=Decimal("10.00"),
            currency="EUR",
            overdue=Decimal("10.00"),
            status=PromiseStatus.OPEN,
            outside=[],
            recorded_by="collector1",
            recorded_at=NOW,
        )
        session.add(promise)  # as a handler that makes promises would (dunning.record_promise)
        session.flush()
        second = _in_step(session, settings, 2, step)
        changes_no_invoice(second)
        assert open_promise_id(second, case.id) is None  # kept: handler 2 says it makes no promise
        fourth = _in_step(session, settings, 4, step)  # handler 3 said nothing: asked again
        changes_no_invoice(fourth)
        assert open_promise_id(fourth, case.id) == promise.id
        fifth = _in_step(session, settings, 5, step)
        changes_no_invoice(fifth)
        assert open_promise_id(fifth, case.id) == promise.id  # a promise found is never kept
        assert open_promise_id(_in_step(session, settings, 0, {}), case.id) == promise.id
