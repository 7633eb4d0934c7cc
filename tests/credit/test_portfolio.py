"""The portfolio (issue 17): aging per customer in the base currency, filters, sorting, paging, the key
customers and top exposures tabs, and the CSV and XLSX exports with the page's rows and totals."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.credit.fx import RateInput, store_rate
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.credit.portfolio import PortfolioFilter
from workflows.credit.portfolio_export import COLUMNS
from workflows.credit.portfolio_pages import load_portfolio
from workflows.store.db import transaction

GBP_RATE = Decimal("1.1712345678")
HOSTILE_NAME = '=HYPERLINK("http://evil.example","click")'


@dataclass(frozen=True)
class Book:
    today: date
    ids: dict[str, int]

    @property
    def beta_eur(self) -> Decimal:
        return (Decimal("1000.01") * GBP_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def book(app: Flask, demo_tokens: dict[str, str]) -> Book:
    """Five customers: Alpha (EUR, key, three buckets), Beta (GBP at a rate with ten places), Gamma (CNY,
    no rate: flagged), a customer with a formula for a name, and Delta with nothing open (not listed)."""
    svc = app.extensions["creditflow"]
    now = svc.clock()
    today = now.date()
    ids: dict[str, int] = {}
    with transaction(svc.rt.factory) as session:
        store_rate(session, RateInput("GBP", today, GBP_RATE, "ECB"), actor="finance1", now=now)

        def customer(key: str, name: str, currency: str, grade: str, region: str, **extra: object) -> None:
            row = Customer(
                name=name,
                external_id=f"P-{key}",
                currency=currency,
                grade=grade,
                region=region,
                industry=extra.pop("industry", "retail"),
                sales_owner="sales1",
                created_at=now,
                updated_at=now,
                **extra,
            )
            session.add(row)
            session.flush()
            ids[key] = row.id

        def invoice(key: str, amount: str, overdue_days: int, status: str = InvoiceStatus.OPEN) -> None:
            due = today - timedelta(days=overdue_days)
            session.add(
                Invoice(
                    customer_id=ids[key],
                    number=f"P-{key}-{len(session.new)}-{overdue_days}",
                    amount=Decimal(amount),
                    open_amount=Decimal(amount) if status == InvoiceStatus.OPEN else Decimal("0.00"),
                    currency=session.get(Customer, ids[key]).currency,  # type: ignore[union-attr]
                    issue_date=due - timedelta(days=30),
                    due_date=due,
                    status=status,
                    created_at=now,
                )
            )
            session.flush()

        customer("alpha", "Alpha Retail AG", "EUR", "A", "EU", key_customer=True, account_owner="manager1")
        customer("beta", "Beta Wholesale Ltd", "GBP", "B", "UK", industry="wholesale")
        customer("gamma", "Gamma Trading Co", "CNY", "C", "CN")
        customer("hostile", HOSTILE_NAME, "EUR", "D", "EU")
        customer("delta", "Delta Paid GmbH", "EUR", "C", "EU")
        invoice("alpha", "1000.00", -10)  # not due
        invoice("alpha", "200.00", 10)
        invoice("alpha", "300.00", 100)
        invoice("beta", "1000.01", 45)
        invoice("gamma", "5000.00", 130)
        invoice("hostile", "50.00", 200)
        invoice("delta", "900.00", 20, status=InvoiceStatus.PAID)
    return Book(today, ids)


def page_ids(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('data-customer="')[1:]]


def test_the_page_shows_aging_in_the_base_currency_with_filters_sorting_and_tabs(
    app: Flask, book: Book
) -> None:
    manager = logged_in(app, "manager1")
    page = manager.get("/portfolio")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    ids = book.ids
    # By total in EUR, largest first; Gamma has no CNY rate: flagged and last, never guessed.
    assert page_ids(html) == [ids["alpha"], ids["beta"], ids["hostile"], ids["gamma"]]
    assert "no rate: CN¥5,000.00" in html
    assert "1,500.00" in html and f"{book.beta_eur:,.2f}" in html
    total = Decimal("1500.00") + book.beta_eur + Decimal("50.00")
    assert f"{total:,.2f}" in html  # the footer's total (Gamma's CNY left out and named)
    assert 'href="/portfolio"' in html  # the nav link
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;click&#34;)" in html

    def shown(query: str) -> list[int]:
        answer = manager.get(f"/portfolio?{query}")
        assert answer.status_code == 200, query
        return page_ids(answer.get_data(as_text=True))

    assert shown("grade=A") == [ids["alpha"]]
    assert shown("region=UK") == [ids["beta"]]
    assert shown("industry=wholesale") == [ids["beta"]]
    assert shown("currency=GBP") == [ids["beta"]]
    assert shown("sales_owner=nobody") == []
    assert shown("key=yes") == [ids["alpha"]]
    assert shown("key=no") == [ids["beta"], ids["hostile"], ids["gamma"]]
    assert shown("tab=key") == [ids["alpha"]]
    assert shown("tab=top&top=2") == [ids["alpha"], ids["beta"]]
    by_name = [ids["hostile"], ids["alpha"], ids["beta"], ids["gamma"]]  # "=" sorts before "A"
    assert shown("sort=name") == by_name  # names run A to Z unless asked otherwise
    assert shown("sort=name&dir=desc") == by_name[::-1]
    assert shown("sort=over_90") == [ids["alpha"], ids["hostile"], ids["beta"], ids["gamma"]]
    assert shown("sort=overdue&dir=asc")[:3] == [ids["hostile"], ids["alpha"], ids["beta"]]
    assert shown("sort=grade&dir=asc") == [ids["alpha"], ids["beta"], ids["gamma"], ids["hostile"]]


def test_paging_and_totals_come_from_sql_over_the_filtered_book(app: Flask, book: Book) -> None:
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        first = load_portfolio(session, PortfolioFilter(), as_of=book.today, base="EUR", page=1, per_page=2)
        second = load_portfolio(session, PortfolioFilter(), as_of=book.today, base="EUR", page=2, per_page=2)
        beyond = load_portfolio(session, PortfolioFilter(), as_of=book.today, base="EUR", page=9, per_page=2)
        key = load_portfolio(session, PortfolioFilter(key_customer=True), as_of=book.today, base="EUR")
    assert (first.total_rows, first.pages, second.total_rows, beyond.total_rows) == (4, 2, 4, 4)
    assert [r.name for r in first.rows + second.rows] == [
        "Alpha Retail AG",
        "Beta Wholesale Ltd",
        HOSTILE_NAME,
        "Gamma Trading Co",
    ]
    assert beyond.rows == []
    alpha = first.rows[0]
    assert (alpha.buckets["not_due"], alpha.buckets["days_1_30"], alpha.buckets["days_91_120"]) == (
        Decimal("1000.00"),
        Decimal("200.00"),
        Decimal("300.00"),
    )
    assert (alpha.total, alpha.overdue, alpha.over_90) == (
        Decimal("1500.00"),
        Decimal("500.00"),
        Decimal("300.00"),
    )
    assert first.rows[1].buckets["days_31_60"] == book.beta_eur
    totals = first.totals
    assert totals == second.totals
    assert totals.unconverted == {"CNY": Decimal("5000.00")}
    assert totals.buckets == {
        "not_due": Decimal("1000.00"),
        "days_1_30": Decimal("200.00"),
        "days_31_60": book.beta_eur,
        "days_61_90": Decimal("0.00"),
        "days_91_120": Decimal("300.00"),
        "over_120": Decimal("50.00"),
    }
    assert (key.total_rows, [r.name for r in key.rows]) == (1, ["Alpha Retail AG"])
    assert key.totals.total == Decimal("1500.00")


def test_the_xlsx_and_csv_exports_hold_the_pages_rows_and_totals_safely(app: Flask, book: Book) -> None:
    analyst = logged_in(app, "analyst1")
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        shown = load_portfolio(session, PortfolioFilter(), as_of=book.today, base="EUR")
    answer = analyst.get("/portfolio.xlsx")
    assert answer.status_code == 200
    assert answer.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(answer.data), read_only=True)["Portfolio"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(rows[0]) == COLUMNS
    body, totals = rows[1:-1], rows[-1]
    assert [r[0] for r in body] == [r.customer_id for r in shown.rows]
    amount_at = COLUMNS.index("not_due")
    for cells, row in zip(body, shown.rows, strict=True):
        amounts = [*row.buckets.values(), row.total, row.overdue, row.over_90]
        assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in cells[amount_at:-1]] == amounts
    assert [Decimal(str(v)) for v in totals[amount_at : amount_at + 6]] == list(shown.totals.buckets.values())
    assert Decimal(str(totals[COLUMNS.index("total")])) == shown.totals.total
    assert totals[2] == "Total (EUR)" and totals[-1] == "CNY 5000.00"
    names = [r[2] for r in body]
    assert "'" + HOSTILE_NAME in names and HOSTILE_NAME not in names  # no live formula
    # In the file itself the name is a plain string cell, never a formula cell (<f>).
    assert b"<f>" not in _sheet_xml(answer.data)

    text = analyst.get("/portfolio.csv?sort=name&dir=asc").get_data(as_text=True)
    parsed = list(csv.reader(io.StringIO(text)))
    assert tuple(parsed[0]) == COLUMNS
    assert "'" + HOSTILE_NAME in [r[2] for r in parsed]
    beta = next(r for r in parsed if r[2] == "Beta Wholesale Ltd")
    assert beta[COLUMNS.index("days_31_60")] == str(book.beta_eur)  # exact text, two places
    assert parsed[-1][2] == "Total (EUR)" and parsed[-1][COLUMNS.index("total")] == str(shown.totals.total)
    filtered = list(csv.reader(io.StringIO(analyst.get("/portfolio.csv?grade=B").get_data(as_text=True))))
    assert [r[2] for r in filtered[1:]] == ["Beta Wholesale Ltd", "Total (EUR)"]


def _sheet_xml(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def test_only_credit_staff_the_cfo_and_auditors_read_the_portfolio(app: Flask, book: Book) -> None:
    for user in ("manager1", "analyst1", "cfo1", "auditor1", "admin"):
        client = logged_in(app, user)
        for path in ("/portfolio", "/portfolio.csv", "/portfolio.xlsx"):
            assert client.get(path).status_code == 200, (user, path)
    for user in ("sales1", "collector1", "finance1", "legal1"):
        client = logged_in(app, user)
        for path in ("/portfolio", "/portfolio.csv", "/portfolio.xlsx"):
            assert client.get(path).status_code == 403, (user, path)
        assert 'href="/portfolio"' not in client.get("/customers").get_data(as_text=True)
    assert app.test_client().get("/portfolio").status_code == 302  # to the login page


def test_the_api_twin_answers_the_pages_rows_and_totals(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], book: Book
) -> None:
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        shown = load_portfolio(session, PortfolioFilter(), as_of=book.today, base="EUR", per_page=2)
    answer = client.get("/api/portfolio?per_page=2", headers=auth(demo_tokens["cfo1"]))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["total"], body["page"], body["per_page"], body["currency"]) == (4, 1, 2, "EUR")
    assert [i["customer_id"] for i in body["items"]] == [r.customer_id for r in shown.rows]
    alpha = body["items"][0]
    assert (alpha["total"], alpha["overdue"], alpha["over_90"], alpha["key_customer"]) == (
        "1500.00",
        "500.00",
        "300.00",
        True,
    )
    assert alpha["buckets"]["days_91_120"] == "300.00"
    assert body["totals"]["total"] == str(shown.totals.total)
    assert body["totals"]["unconverted"] == {"CNY": "5000.00"}
    gamma = client.get("/api/portfolio?grade=C", headers=auth(demo_tokens["auditor1"])).json["items"]
    assert [(g["name"], g["rate_missing"], g["unconverted"]) for g in gamma] == [
        ("Gamma Trading Co", True, {"CNY": "5000.00"})
    ]
    top = client.get("/api/portfolio?tab=top&top=1", headers=auth(demo_tokens["manager1"])).json
    assert [i["name"] for i in top["items"]] == ["Alpha Retail AG"] and top["totals"]["total"] == "1500.00"
    for bad in ("grade=A&grade=B", "sort=nope", "top=0", "currency=eur", "page=0", "region=" + "x" * 81):
        refused = client.get(f"/api/portfolio?{bad}", headers=auth(demo_tokens["manager1"]))
        assert refused.status_code == 400, (bad, refused.json)
    assert client.get("/api/portfolio", headers=auth(demo_tokens["sales1"])).status_code == 403


def test_a_change_to_the_book_shows_on_the_next_page_although_pages_are_cached(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], book: Book
) -> None:
    """The order and totals are kept per book fingerprint (portfolio_pages.py): a new invoice or an
    audited change (a key-customer flag) shows at once."""
    manager = logged_in(app, "manager1")
    assert page_ids(manager.get("/portfolio?tab=key").get_data(as_text=True)) == [book.ids["alpha"]]
    before = manager.get("/portfolio").get_data(as_text=True)
    assert page_ids(manager.get("/portfolio").get_data(as_text=True)) == page_ids(before)  # from the cache
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        session.add(
            Invoice(
                customer_id=book.ids["hostile"],
                number="P-LATE",
                amount=Decimal("5000.00"),
                open_amount=Decimal("5000.00"),
                currency="EUR",
                issue_date=book.today - timedelta(days=40),
                due_date=book.today - timedelta(days=10),
                status=InvoiceStatus.OPEN,
                created_at=now,
            )
        )
    after = manager.get("/portfolio").get_data(as_text=True)
    assert page_ids(after)[0] == book.ids["hostile"]  # now the largest: 5,050.00
    assert "5,050.00" in after
    named = client.post(
        f"/api/customers/{book.ids['beta']}/key-customer",
        json={"key_customer": True, "account_owner": "analyst1"},
        headers=auth(demo_tokens["manager1"]),
    )
    assert named.status_code == 200
    keyed = page_ids(manager.get("/portfolio?tab=key").get_data(as_text=True))
    assert keyed == [book.ids["alpha"], book.ids["beta"]]
