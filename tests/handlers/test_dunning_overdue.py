"""A dunning step reads the case's overdue invoices once (handlers/dunning_overdue.py, issue 19): the read is
reused by the next handlers only while each of them changes no invoice; any other handler of the step, a
new step, or a context built outside a step reads again."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, select

from handlers.dunning_overdue import changes_no_invoice, overdue_invoices
from handlers.registry import build_operations
from tests.batch.test_scale_guards import NOW, seed_book
from workflows.batch import daily_starts
from workflows.credit.models import DunningEvent, Invoice, InvoiceStatus
from workflows.credit.receivables import invoice_json
from workflows.credit.receivables import overdue_invoices as orm_overdue_invoices
from workflows.engine.runner import Runtime
from workflows.engine.service_tasks import TaskContext
from workflows.settings import Settings
from workflows.store.db import transaction

# The column list of handlers/dunning_overdue._OVERDUE as SQLAlchemy writes it (the ORM's select of an
# Invoice, which the handlers used before, lists the same first columns, so it would be counted too).
OVERDUE_READ = "SELECT invoices.id, invoices.customer_id, invoices.number, invoices.amount"


def test_a_dunning_case_start_reads_its_overdue_invoices_once(settings: Settings, db_engine: Engine) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    seed_book(rt.factory, NOW)  # 9 of 12 customers due: each start opens, reviews, escalates, sends, reviews
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith(OVERDUE_READ):
            reads.append(statement)

    event.listen(db_engine, "before_cursor_execute", count)
    try:
        summary = daily_starts.chunked_dunning_run(rt, NOW.date(), NOW)
    finally:
        event.remove(db_engine, "before_cursor_execute", count)
    assert summary["cases_started"] == 9 and summary["failed_customers"] == []
    # Five reads a start before (open, review, escalate, notice, review again): one now.
    assert len(reads) == 9
    with rt.factory() as session:  # what the handlers read is what they recorded: both invoices, each case
        opened = session.scalars(select(DunningEvent.detail).where(DunningEvent.kind == "opened")).all()
        sent = session.scalars(select(DunningEvent.detail).where(DunningEvent.kind == "notice_sent")).all()
    assert len(opened) == len(sent) == 9
    assert all(len(d["invoices"]) == 2 for d in [*opened, *sent])


def _context(session: Any, settings: Settings, call: int, reads: dict[Any, Any]) -> TaskContext:
    return TaskContext(
        session=session,
        now=NOW,
        instance_id=1,
        process_key="dunning",
        business_key=None,
        bpmn_id="review_case",
        task_key="t",
        started_by="system",
        settings=settings,
        reads=reads,
        call=call,
    )


def test_another_handler_between_two_reads_makes_the_second_read_again(
    settings: Settings, db_engine: Engine
) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    customer = seed_book(rt.factory, NOW)["C0000"]
    with transaction(rt.factory) as session:
        step: dict[Any, Any] = {}
        first = overdue_invoices(_context(session, settings, 1, step), customer)
        assert [i.number for i in first] == ["INV-0-0", "INV-0-1"]
        paid = session.scalars(select(Invoice).where(Invoice.number == "INV-0-0")).one()
        paid.status, paid.open_amount = InvoiceStatus.PAID, Decimal("0.00")
        session.flush()
        # Handler 2 changes no invoice (it says so): the read of handler 1 holds for it.
        second = _context(session, settings, 2, step)
        changes_no_invoice(second)
        assert overdue_invoices(second, customer) is first
        # Handler 3 is any other (it does not say so); handler 4 reads again and sees the payment.
        fourth = _context(session, settings, 4, step)
        changes_no_invoice(fourth)
        assert [i.number for i in overdue_invoices(fourth, customer)] == ["INV-0-1"]
        # A new step keeps nothing of the last one; nor does a context built outside a step (call 0).
        paid.status, paid.open_amount = InvoiceStatus.OPEN, Decimal("500.00")
        session.flush()
        assert len(overdue_invoices(_context(session, settings, 1, {}), customer)) == 2
        outside = _context(session, settings, 0, {})
        assert overdue_invoices(outside, customer) is not overdue_invoices(outside, customer)


def test_the_read_and_the_notice_lines_match_the_orm_invoices(settings: Settings, db_engine: Engine) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    customer = seed_book(rt.factory, NOW)["C0001"]
    today = NOW.date()
    with transaction(rt.factory) as session:
        held = session.scalars(select(Invoice).where(Invoice.number == "INV-1-1")).one()
        held.disputed_amount = Decimal("120.50")  # an open dispute holds part of it out of dunning
        late = session.scalars(select(Invoice).where(Invoice.number == "INV-1-0")).one()
        late.due_date = today - timedelta(days=90)
        session.flush()
        orm = orm_overdue_invoices(session, customer, today)
        core = overdue_invoices(_context(session, settings, 1, {}), customer)
        assert [i.number for i in core] == [i.number for i in orm] == ["INV-1-0", "INV-1-1"]
        for mine, theirs in zip(core, orm, strict=True):
            assert mine.undisputed_amount == theirs.undisputed_amount
            assert mine.notice_line(today) == {
                **invoice_json(theirs, today),
                "open_amount": f"{theirs.undisputed_amount:.2f}",
            }
        assert core[1].notice_line(today)["open_amount"] == "379.50"
        assert dataclasses.is_dataclass(core[0])
