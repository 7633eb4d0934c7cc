"""Hostile calls of GET /api/kpis (issue 17): malformed, impossible, huge and repeated parameters, callers
outside the KPI readers, a foreign currency, and an empty book, where every KPI without a denominator is
null with its reason instead of a division by zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.credit.kpi_book_fixture import at
from tests.helpers import auth, migrated_customer
from workflows.credit.kpi_periods import previous_end, trend_ends
from workflows.credit.kpis import KPI_NAMES
from workflows.credit.receivables import InvoiceInput, post_invoice
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")
TODAY = "2026-03-02"  # the app clock (tests/conftest.py)


def kpis(client: FlaskClient, token: str, query: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.get(f"/api/kpis{query}", headers=auth(token))
    return response.status_code, response.json or {}


@pytest.mark.parametrize(
    "query",
    [
        "?as_of=2026-02-30",  # no such day
        "?as_of=tomorrow",
        "?as_of=99999-01-01",  # beyond date's range
        "?as_of=2026-01-01%00",  # NUL
        "?as_of=2026-01-01T00:00:00",
        "?period=week",
        "?period=MONTH",
        "?period=month&period=quarter",  # repeated: which one?
        "?as_of=2026-01-31&as_of=2026-02-28",
        "?currency=eur",
        "?currency=EURO",
        "?currency=EUR&currency=EUR",
    ],
)
def test_a_malformed_or_repeated_parameter_is_a_400_naming_it(
    client: FlaskClient, demo_tokens: dict[str, str], query: str
) -> None:
    status, body = kpis(client, demo_tokens["manager1"], query)
    assert status == 400, (query, body)
    assert "query parameter" in body["error"]["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?as_of=0001-01-01", "as_of"),  # no room for a trend before it
        ("?as_of=1900-12-31", "as_of"),
        ("?as_of=9999-12-31", "as_of"),  # the future has no finished period
        ("?as_of=2026-03-03", "as_of"),  # tomorrow
        ("?currency=USD", "currency"),  # only the base currency
        ("?currency=GBP&as_of=1800-01-01", "currency"),
    ],
)
def test_an_impossible_day_or_a_foreign_currency_is_a_422_naming_the_field(
    client: FlaskClient, demo_tokens: dict[str, str], query: str, field: str
) -> None:
    status, body = kpis(client, demo_tokens["cfo1"], query)
    assert status == 422, (query, body)
    assert field in body["error"]["fields"]


@pytest.mark.parametrize("user", ["sales1", "collector1", "finance1", "legal1", "buyer1", "lead1", "owner1"])
def test_callers_outside_the_kpi_readers_get_403(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    status, body = kpis(client, demo_tokens[user], "")
    assert status == 403 and "credit KPIs" in body["error"]["message"]
    assert client.get("/api/kpis").status_code == 401


@pytest.mark.parametrize("user", ["analyst1", "manager1", "cfo1", "auditor1", "admin"])
def test_the_kpi_readers_read_an_empty_book_without_dividing_by_zero(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    status, body = kpis(client, demo_tokens[user], "?period=quarter&currency=EUR")
    assert status == 200, body
    assert body["period"] == {"start": "2025-10-01", "end": "2025-12-31"}
    assert set(body["kpis"]) == set(KPI_NAMES)
    for name, kpi in body["kpis"].items():
        assert kpi["value"] is None and kpi["reason"], name
        assert len(kpi["trend"]) == 12 and all(p["value"] is None for p in kpi["trend"]), name


def test_the_earliest_day_and_a_period_end_today_answer(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    status, body = kpis(client, demo_tokens["manager1"], "?as_of=1901-01-01&period=quarter")
    assert status == 200 and body["kpis"]["dso"]["trend"][0]["period_end"] == "1898-03-31"
    status, body = kpis(client, demo_tokens["manager1"], f"?as_of={TODAY}")
    assert status == 200 and body["period"]["end"] == "2026-02-28"


def test_only_sales_without_anything_open_or_nothing_collectible_are_null_with_reasons(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # One invoice issued and fully credited... here: issued on 31 January and due the same day, paid nothing:
    # in January it is current (due that day), so nothing was collectible yet: CEI has no denominator.
    eur = migrated_customer(app, {"external_id": "E", "name": "e", "currency": "EUR", "email": "a@e.example"})
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        data = InvoiceInput(eur, "E-1", Decimal("100.00"), "EUR", date(2026, 1, 31), date(2026, 1, 31))
        post_invoice(session, data, actor="finance1", now=at(date(2026, 1, 31)))
    status, body = kpis(client, demo_tokens["manager1"], "?as_of=2026-01-31")
    assert status == 200, body
    values = {name: kpi["value"] for name, kpi in body["kpis"].items()}
    assert values["dso"] == "31.0" and values["add"] == "0.0" and values["overdue_ratio"] == "0.00"
    assert values["cei"] is None and "nothing was collectible" in body["kpis"]["cei"]["reason"]
    assert values["top10_concentration"] == "100.00"
    # February: no sales, so no DSO; the invoice is overdue, and nothing was collected: CEI 0.00.
    status, body = kpis(client, demo_tokens["manager1"], "?as_of=2026-02-28")
    feb = {name: kpi["value"] for name, kpi in body["kpis"].items()}
    assert feb["dso"] is None and body["kpis"]["dso"]["reason"] == "no credit sales in the period"
    assert feb["overdue_ratio"] == "100.00" and feb["cei"] == "0.00"


def test_periods_step_back_across_years_and_leap_days() -> None:
    assert previous_end(date(2024, 3, 31), "month") == date(2024, 2, 29)
    assert previous_end(date(2024, 3, 31), "quarter") == date(2023, 12, 31)
    assert trend_ends(date(2024, 2, 29), "month")[-1] == date(2024, 2, 29)
    assert trend_ends(date(2024, 2, 28), "month")[-1] == date(2024, 1, 31)
    assert trend_ends(date(2024, 12, 30), "quarter")[-1] == date(2024, 9, 30)
