"""supplier.risk_check and supplier.record_evaluation: factor scores, weights, append-only evaluations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from handlers.supplier_risk import WEIGHTS, age_score, count_score, supplier_factors, weighted_score
from tests.helpers import running_instance
from workflows.credit.models import Supplier, SupplierEvaluation
from workflows.credit.suppliers import DEMO_SUPPLIERS, create_supplier
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.errors import NotFound
from workflows.settings import load_settings
from workflows.store.db import transaction
from workflows.users import add_user

pytestmark = pytest.mark.db

TODAY = date(2026, 3, 2)


def supplier(**fields: Any) -> Supplier:
    return Supplier(**{"name": "S", "email": "s@example.com", "currency": "EUR", **fields})


def test_weights_add_up_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100


def test_solid_supplier_scores_high_and_risky_one_low() -> None:
    solid = supplier(
        annual_revenue=Decimal("85000000"),
        founded_year=1978,
        litigation_count=0,
        penalties_count=0,
        delivery_score=94,
        external_rating="A",
    )
    factors = supplier_factors(solid, TODAY)
    assert factors == {
        "financial_size": 100,
        "age": 100,
        "litigation": 100,
        "penalties": 100,
        "delivery": 94,
        "external_rating": 90,
    }
    assert weighted_score(WEIGHTS, factors) == 98  # 20+15+20+15+14.1+13.5 = 97.6, rounded half up
    risky = next(s for s in DEMO_SUPPLIERS if s["external_id"] == "S-2004")
    assert (
        weighted_score(WEIGHTS, supplier_factors(supplier(**risky), TODAY)) < 40
    )  # grade E in supplier_risk.dmn


def test_missing_data_scores_neutral_values() -> None:
    factors = supplier_factors(supplier(), TODAY)
    assert factors == {
        "financial_size": 30,
        "age": 40,
        "litigation": 50,
        "penalties": 50,
        "delivery": 50,
        "external_rating": 50,
    }
    assert weighted_score(WEIGHTS, factors) == 45


@pytest.mark.parametrize(
    ("count", "litigation", "penalties"),
    [(0, 100, 100), (1, 60, 60), (2, 30, 60), (3, 0, 30), (5, 0, 30), (6, 0, 0)],
)
def test_fewer_cases_score_better(count: int, litigation: int, penalties: int) -> None:
    assert count_score(count, ((0, 100), (1, 60), (2, 30))) == litigation
    assert count_score(count, ((0, 100), (2, 60), (5, 30))) == penalties


def test_older_companies_score_better() -> None:
    assert [age_score(year, TODAY) for year in (2006, 2016, 2021, 2024, 2026)] == [100, 80, 60, 40, 20]


# --- the operations, against a database ------------------------------------------------------------------


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with transaction(session_factory) as session:
        yield session


def make_ctx(session: Session, now: datetime) -> TaskContext:
    # The operations run only in an instance started by someone who may read suppliers: a buyer.
    add_user(session, "buyer1", groups=["procurement"], now=now)
    instance = running_instance(
        session,
        now,
        process_key="supplier_contract_change",
        started_by="buyer1",
        start_groups=["procurement"],
    )
    return TaskContext(
        session=session,
        now=now,
        instance_id=instance.id,
        process_key=instance.process_key,
        business_key=None,
        bpmn_id="check_supplier_risk",
        task_key="task-1",
        started_by="buyer1",
        settings=load_settings({}),
    )


def test_risk_check_scores_a_stored_supplier(session: Session, clock: datetime) -> None:
    ctx = make_ctx(session, clock)
    stored = create_supplier(
        session,
        {"name": "Alpine Logistics AG", "email": "a@alpine.example", "currency": "CHF", "delivery_score": 88},
        actor="buyer1",
        now=clock,
    )
    result = build_operations()["supplier.risk_check"].call(ctx, {"supplier_id": stored.id})
    assert result["factors"]["delivery"] == 88
    assert result["score"] == weighted_score(WEIGHTS, result["factors"])
    with pytest.raises(NotFound, match="supplier 999 does not exist"):
        build_operations()["supplier.risk_check"].call(ctx, {"supplier_id": 999})


def test_evaluations_are_appended_and_the_latest_is_the_suppliers_grade(
    session: Session, clock: datetime
) -> None:
    ctx = make_ctx(session, clock)
    stored = create_supplier(
        session, {"name": "X", "email": "x@x.example", "currency": "EUR"}, actor="a", now=clock
    )
    record = build_operations()["supplier.record_evaluation"]
    with pytest.raises(HandlerInputError, match="grade must be one of A, B, C, D, E"):
        record.call(ctx, {"supplier_id": stored.id, "score": 50, "grade": "F", "valid_months": 3})
    with pytest.raises(HandlerInputError, match="score must be 0-100"):
        record.call(ctx, {"supplier_id": stored.id, "score": 101, "grade": "A", "valid_months": 3})
    first = record.call(ctx, {"supplier_id": stored.id, "score": 45, "grade": "D", "valid_months": 3})
    second = record.call(
        ctx, {"supplier_id": stored.id, "score": 72, "grade": "B", "valid_months": 12, "factors": {"age": 60}}
    )
    assert (first["valid_to"], second["valid_to"]) == (date(2026, 6, 2), date(2027, 3, 2))
    rows = session.scalars(select(SupplierEvaluation).order_by(SupplierEvaluation.id)).all()
    assert [(r.grade, r.instance_id, r.evaluated_by) for r in rows] == [
        ("D", ctx.instance_id, "system"),
        ("B", ctx.instance_id, "system"),
    ]
    assert (stored.score, stored.grade, stored.grade_valid_to) == (72, "B", date(2027, 3, 2))
