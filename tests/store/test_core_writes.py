"""An ORM object handed to the session for a Core-inserted row (workflows.store.core_writes.py) leaves the
session when the transaction that inserted the row is rolled back, as the unit of work's own new objects do;
so the next insert, which SQLite gives the same id, is held again without a stale object in its way."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.orm import Session

from tests.batch.test_scale_guards import NOW, seed_book
from workflows.credit.models import DunningCase
from workflows.store.core_writes import persistent_as_inserted, update_as_loaded
from workflows.store.db import make_session_factory

pytestmark = pytest.mark.db
_NEW = insert(DunningCase.__table__).returning(DunningCase.__table__.c.id)  # type: ignore[arg-type]


def _case(session: Session, customer_id: int) -> DunningCase:
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "instance_id": None,
        "status": "closed",  # not active: any number of them per customer
        "level": 0,
        "fees": Decimal("0.00"),
        "currency": "EUR",
        "blocked_customer": False,
        "promised_date": None,
        "promised_amount": None,
        "last_notice_at": None,
        "opened_at": NOW,
        "closed_at": None,
        "outcome": None,
        "grade": None,
    }
    case = DunningCase(id=session.execute(_NEW, values).scalar_one(), **values)
    persistent_as_inserted(session, case)
    return case


@pytest.fixture
def customer(db_engine: Engine) -> int:
    return seed_book(make_session_factory(db_engine), NOW, customers=1)["C0000"]


def test_a_rolled_back_savepoint_takes_its_inserted_objects(db_engine: Engine, customer: int) -> None:
    with make_session_factory(db_engine)() as session, session.begin():
        kept = _case(session, customer)
        with session.begin_nested() as savepoint:
            gone = _case(session, customer)
            gone.level = 2  # changed and flushed in the savepoint too
            session.flush()
            savepoint.rollback()
        assert inspect(gone).detached and inspect(kept).persistent
        again = _case(session, customer)  # SQLite: gone's id again; no stale object holds it
        again.level = 1
        session.flush()
        assert session.get(DunningCase, again.id) is again
    with make_session_factory(db_engine)() as session:
        rows = session.execute(select(DunningCase.id, DunningCase.level).order_by(DunningCase.id)).all()
    assert [tuple(r) for r in rows] == [(kept.id, 0), (again.id, 1)]


def test_a_released_savepoint_rolled_back_with_its_transaction(db_engine: Engine, customer: int) -> None:
    with make_session_factory(db_engine)() as session:
        with session.begin():
            with session.begin_nested():
                inner = _case(session, customer)
            outer = _case(session, customer)
            session.rollback()
        assert inspect(inner).detached and inspect(outer).detached
        with session.begin():
            stored = _case(session, customer)
        assert inspect(stored).persistent and session.info.get("core_written_rows") is None
        with session.begin():
            assert session.scalar(select(func.count()).select_from(DunningCase)) == 1


def test_a_core_update_is_on_the_object_and_undone_with_its_savepoint(
    db_engine: Engine, customer: int
) -> None:
    with make_session_factory(db_engine)() as session:
        with session.begin():
            case = _case(session, customer)
        with session.begin():
            case.grade = "B"  # pending in the unit of work: replaced by the Core UPDATE of the same column
            update_as_loaded(session, case, level=2, grade="C", fees=Decimal("5.00"))
            assert (case.level, case.grade, case.fees) == (2, "C", Decimal("5.00")) and not session.dirty
            with session.begin_nested() as savepoint:
                update_as_loaded(session, case, level=3, last_notice_at=NOW)
                savepoint.rollback()
            assert inspect(case).expired_attributes >= {"level", "last_notice_at"}
            assert (case.level, case.last_notice_at) == (2, None)  # read again: as the savepoint began
        with session.begin():
            update_as_loaded(session, case, status="open")
            session.rollback()
        assert case.status == "closed"
    with make_session_factory(db_engine)() as session:
        stored = session.get(DunningCase, case.id)
        assert stored is not None
        assert (stored.level, stored.grade, stored.fees, stored.status) == (2, "C", Decimal("5.00"), "closed")
