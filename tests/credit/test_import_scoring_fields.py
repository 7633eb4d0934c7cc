"""The customers CSV takes the scorecard's relationship and segment fields (issue 15): customer_since,
ownership and region; without customer_since the relationship dates from the customer's first invoice."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflows.credit.csv_import import ImportRejected, import_customers
from workflows.credit.customers import customer_json, customer_since
from workflows.credit.models import Customer
from workflows.credit.receivables import InvoiceInput, post_invoice
from workflows.store.db import transaction

HEADER = (
    "external_id,name,email,industry,founded_year,annual_revenue,currency,customer_since,ownership,region\n"
)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_an_imported_customer_keeps_its_relationship_date_and_segment(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    path = write(
        tmp_path,
        "H1,Helios Utilities plc,,utilities,1962,310000000.00,GBP,1998-06-01,listed,UK\n"
        "N1,Newco Ltd,,retail,2024,,GBP,,,\n",
    )
    with transaction(session_factory) as session:
        assert import_customers(session, path, actor="admin", now=clock).imported == 2
    with transaction(session_factory) as session:
        helios = session.scalars(select(Customer).where(Customer.external_id == "H1")).one()
        newco = session.scalars(select(Customer).where(Customer.external_id == "N1")).one()
        assert (helios.customer_since, helios.ownership, helios.region) == (date(1998, 6, 1), "listed", "UK")
        # Imported today, yet a customer since 1998: the scorecard no longer dates it from the record.
        assert customer_json(session, helios, today=clock.date())["customer_since"] == "1998-06-01"
        assert customer_since(session, newco) is None  # no date and no invoice: a new relationship
        first = clock.date() - timedelta(days=800)
        for number, issued in (("N-2", first + timedelta(days=60)), ("N-1", first)):
            invoice = InvoiceInput(
                newco.id, number, Decimal("100.00"), "GBP", issued, issued + timedelta(days=30)
            )
            post_invoice(session, invoice, actor="finance1", now=clock)
        assert customer_since(session, newco) == first


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("X1,Bad Ltd,,retail,,,GBP,2999-01-01,,\n", "line 3: customer_since:"),
        ("X1,Bad Ltd,,retail,,,GBP,01/06/1998,,\n", "line 3: customer_since:"),
        (
            "X1,Bad Ltd,,retail,,,GBP,,family,\n",
            "line 3: ownership: One of state_owned, private, foreign, listed.",
        ),
    ],
)
def test_a_bad_relationship_date_or_ownership_imports_nothing(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime, row: str, error: str
) -> None:
    path = write(tmp_path, "G1,Good Ltd,,retail,,,GBP,2001-01-01,private,EU\n" + row)
    with pytest.raises(ImportRejected) as rejected, transaction(session_factory) as session:
        import_customers(session, path, actor="admin", now=clock)
    assert any(e.startswith(error) for e in rejected.value.report.errors), rejected.value
    with session_factory() as session:
        assert session.scalars(select(Customer)).all() == []
