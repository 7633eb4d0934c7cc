"""CSV import: line-numbered errors, all-or-nothing, and the rows that do import."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from workflows.credit.csv_import import ImportRejected, import_customers
from workflows.credit.models import Customer, LimitChange
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction

HEADER = (
    "external_id,name,email,industry,founded_year,annual_revenue,currency,credit_limit,next_review_date\n"
)


@pytest.fixture(autouse=True)
def limit_policy(session_factory: sessionmaker[Session], clock: datetime) -> None:
    """The shipped diagrams: limit_policy.dmn bounds the review dates a file may set."""
    with transaction(session_factory) as session:
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), build_operations(), deployed_by="system", now=clock)


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def run(factory: sessionmaker[Session], path: Path, now: datetime) -> int:
    with transaction(factory) as session:
        return import_customers(session, path, actor="admin", now=now).imported


def count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def test_good_file_imports_customers_with_their_migrated_limits(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    path = write(
        tmp_path,
        "E1,Alpha AG,ap@alpha.example,retail,1999,2000000.00,EUR,900000,2026-06-30\n"
        'E2,"Beta, Gamma & Söhne",,wholesale,,,CHF,,\n',
    )
    assert run(session_factory, path, clock) == 2
    with session_factory() as session:
        alpha = session.scalar(select(Customer).where(Customer.external_id == "E1"))
        assert alpha is not None
        assert (alpha.credit_limit, alpha.next_review_date.isoformat()) == (
            Decimal("900000.00"),
            "2026-06-30",
        )
        [change] = session.scalars(select(LimitChange).where(LimitChange.customer_id == alpha.id))
        assert (change.reason, change.changed_by, change.approvers) == (
            "migrated from ERP: customers.csv",
            "admin",
            [],
        )
        beta = session.scalar(select(Customer).where(Customer.external_id == "E2"))
        assert (
            beta is not None and beta.name == "Beta, Gamma & Söhne" and beta.credit_limit == Decimal("0.00")
        )


def test_any_bad_row_imports_nothing_and_every_bad_line_is_named(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    path = write(
        tmp_path,
        "E1,Alpha AG,ap@alpha.example,retail,1999,2000000.00,EUR,,\n"
        "E2,,not-an-email,retail,1999,12.345,EUR,,\n"
        "E1,Again,,retail,3000,1,eur,-5,31.12.2026\n",
    )
    with pytest.raises(ImportRejected) as rejected:
        run(session_factory, path, clock)
    errors = rejected.value.report.errors
    assert {e.split(":")[0] for e in errors} == {"line 3", "line 4"}
    for expected in (
        "line 3: name",
        "line 3: email",
        "line 3: annual_revenue",
        "line 4: external_id: E1 repeats line 2",
        "line 4: founded_year",
        "line 4: currency",
        "line 4: credit_limit",
        "line 4: next_review_date",
    ):
        assert any(e.startswith(expected) for e in errors), (expected, errors)
    assert count(session_factory) == 0


def test_existing_customers_and_broken_headers_are_refused(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    run(session_factory, write(tmp_path, "E1,Alpha AG,,retail,1999,1,EUR,,\n"), clock)
    with pytest.raises(ImportRejected, match="line 2: external_id: customer E1 exists already"):
        run(session_factory, write(tmp_path, "E1,Alpha AG,,retail,1999,1,EUR,,\n"), clock)
    with pytest.raises(ImportRejected, match="line 1: missing column"):
        run(session_factory, write(tmp_path, "x\n", header="external_id,name\n"), clock)
    with pytest.raises(ImportRejected, match="line 2: more values than columns"):
        run(session_factory, write(tmp_path, "E9,A,,r,1999,1,EUR,,,extra\n"), clock)
    assert count(session_factory) == 1
