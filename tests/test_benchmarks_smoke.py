"""Smoke runs of the benchmarks at a tiny scale, so they cannot rot between the runs that measure.

benchmarks/cockpit.py (issue 17): its book must be a consistent ledger (what the routes it times read),
and every route must answer (or be reported missing, when not built yet), never an error."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from benchmarks import cockpit
from benchmarks.cockpit_book import TODAY, seed_cockpit_book
from workflows.credit.disputes import CreditNote
from workflows.credit.fx import FxRate
from workflows.credit.models import Customer, Invoice, PaymentAllocation
from workflows.credit.write_offs import WriteOff
from workflows.settings import load_settings
from workflows.store.db import make_engine


def test_the_cockpit_book_is_a_consistent_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'book.db'}"
    _, rows = seed_cockpit_book(url, 300, 3000, progress=False)
    engine = make_engine(load_settings({}, database={"url": url}).database)
    with engine.connect() as conn:
        invoices = conn.execute(
            select(Invoice.id, Invoice.amount, Invoice.open_amount, Invoice.status, Invoice.issue_date)
        ).all()
        taken: dict[int, Decimal] = defaultdict(Decimal)
        for model in (PaymentAllocation, CreditNote, WriteOff):
            for invoice_id, amount in conn.execute(select(model.invoice_id, model.amount)):
                taken[invoice_id] += amount
        currencies = set(conn.scalars(select(Customer.currency).distinct()))
        first_rates = {
            currency: day
            for currency, day in conn.execute(
                select(FxRate.currency, func.min(FxRate.day)).group_by(FxRate.currency)
            )
        }
        grades = set(conn.scalars(select(Customer.grade).distinct()))
    engine.dispose()
    assert len(invoices) == 3000 and rows["invoices"] == 3000
    for invoice_id, amount, open_amount, status, issued in invoices:
        assert open_amount == amount - taken[invoice_id], invoice_id  # payments, credit notes, write-offs
        assert (status == "open") == (open_amount > 0), invoice_id
        assert TODAY.replace(year=TODAY.year - 2) < issued <= TODAY
    paid = sum(1 for i in invoices if i.status == "paid")
    assert 0.45 < paid / len(invoices) < 0.8  # about 60 % paid
    assert {i.status for i in invoices} >= {"open", "paid", "written_off"}
    assert currencies == {"EUR", "GBP", "CNY"} and grades == set("ABCDE")
    earliest = min(i.issue_date for i in invoices)
    assert set(first_rates) == {"GBP", "CNY"} and max(first_rates.values()) <= earliest


@pytest.mark.parametrize(
    "mode",
    [["--test-client", "--cold"], pytest.param(["--workers", "1"], marks=pytest.mark.slow)],
    ids=["test_client", "http"],
)
def test_the_cockpit_benchmark_measures_every_route(
    mode: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = cockpit.main(["--customers", "60", "--invoices", "600", "--requests", "1", *mode])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith('{"scale": {"customers": 60')
    assert result["scale"] == {"customers": 60, "invoices": 600}
    # The daily jobs' month ends were posted: 13 provision runs and at least 13 monthly KPI snapshots.
    assert result["posted"]["provision_runs"] >= 13 and result["posted"]["kpi_snapshots"] >= 13
    assert set(result["routes"]) >= {*cockpit.ROUTES, "portfolio_export_csv", "portfolio_export_xlsx"}
    for name, figures in result["routes"].items():
        assert figures.get("status") in (None, "missing"), (name, figures)
        if figures.get("status") is None:
            assert figures["n"] == 1 and 0 < figures["p50_ms"] <= figures["max_ms"], name
    assert result["routes"]["customers_baseline"]["n"] == 1  # the existing list page always answers
