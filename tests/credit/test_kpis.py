"""Issue 17, must-show 1: every KPI of a book with known answers (tests/credit/kpi_book_fixture.py) equals
a hand computation, to the cent or 0.1 day. Base EUR; GBP 1.20 until 27 Feb, 1.15 from 28 Feb, 1.10 from
31 Mar; CNY 0.13, then 0.125 from 31 Mar. Every amount of a period is converted at its end's rate."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.credit.kpi_book_fixture import at, build_book
from tests.helpers import auth, migrated_customer
from workflows.credit import kpis as kpi_module
from workflows.credit.kpis import KPI_NAMES, compute_kpis
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def days(amount: str, sales: str, period_days: int) -> str:
    value = Decimal(amount) / Decimal(sales) * period_days
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percent(part: str, whole: str) -> str:
    value = Decimal(part) * 100 / Decimal(whole)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# Receivables at each month end, converted at that month end's rates:
# 31 Jan: EUR D0 2,000 + A1 10,000; GBP B0 1,000 + B1 5,000 = 6,000 x 1.20 = 7,200; CNY C1 100,000 x 0.13 =
#   13,000: AR 32,200.00; current (due on or after 31 Jan) A1 + B1 + C1 = 10,000 + 6,000 + 13,000 = 29,000.00;
#   over 90 days: D0 (92 days) 2,000.00. Sales A1 + B1 + C1 = 29,000.00. Opening (December's reported AR:
#   31 Dec at 31 Dec's rates, the same as January's): D0 2,000 + B0 1,200 = 3,200.00.
# 28 Feb: EUR D0 2,000 + A2 6,000 = 8,000; GBP B0 1,000 + B1 5,000 + B2 3,000 = 9,000 x 1.15 = 10,350;
#   CNY C1 40,000 x 0.13 = 5,200: AR 23,550.00; current A2 6,000 + B2 3,450 = 9,450.00; over 90 D0 2,000.00.
#   Sales A2 + B2 = 9,450.00. Opening: January's reported AR 32,200.00 (31 Jan's book at February's
#   rates would be 12,000 + 6,900 + 13,000 = 31,900.00).
# 31 Mar: EUR A2 5,000 (after the credit note) + A3 4,000 + X1..X9 4,500 = 13,500; GBP B0 1,000 + B1 3,000 +
#   B2 3,000 = 7,000 x 1.10 = 7,700; CNY C1 40,000 + C2 50,000 = 90,000 x 0.125 = 11,250: AR 32,450.00;
#   current A3 + X 8,500 + C2 6,250 = 14,750.00; over 90 B0 (106 days) 1,100.00. Sales C2 6,250 + A3 4,000
#   + X 4,500 = 14,750.00. Opening: February's reported AR 23,550.00 (28 Feb's book at March's rates
#   would be 8,000 + 9,900 + 5,000 = 22,900.00).
#   Written off in March: D0 2,000.00.
EXPECTED: dict[str, dict[str, str | None]] = {
    "2026-01-31": {
        "dso": days("32200", "29000", 31),  # 34.4
        "best_possible_dso": days("29000", "29000", 31),  # 31.0
        "add": days("3200", "29000", 31),  # 3.4
        "cei": percent("0", "3200"),  # (3,200 + 29,000 - 32,200) / (3,200 + 29,000 - 29,000) = 0.00
        "overdue_ratio": percent("3200", "32200"),  # 9.94
        "over_90_ratio": percent("2000", "32200"),  # 6.21
        "bad_debt_ratio": "0.00",
        "top10_concentration": "100.00",  # four customers
        "promise_kept_rate": None,
        "approval_cycle_hours": None,
    },
    "2026-02-28": {
        "dso": days("23550", "9450", 28),  # 69.8
        "best_possible_dso": days("9450", "9450", 28),  # 28.0
        "add": days("14100", "9450", 28),  # 41.8
        "cei": percent("18100", "32200"),  # (32,200 + 9,450 - 23,550) / (32,200 + 9,450 - 9,450) = 56.21
        "overdue_ratio": percent("14100", "23550"),  # 59.87
        "over_90_ratio": percent("2000", "23550"),  # 8.49
        "bad_debt_ratio": "0.00",
        "top10_concentration": "100.00",
        "promise_kept_rate": "100.00",  # one judged, kept
        "approval_cycle_hours": "2.0",  # one application, 9:00 to 11:00 on 10 Feb
    },
    "2026-03-31": {
        "dso": days("32450", "14750", 31),  # 68.2
        "best_possible_dso": days("14750", "14750", 31),  # 31.0
        "add": days("17700", "14750", 31),  # 37.2
        "cei": percent("5850", "23550"),  # (23,550 + 14,750 - 32,450) / (23,550 + 14,750 - 14,750) = 24.84
        "overdue_ratio": percent("17700", "32450"),  # 54.55
        "over_90_ratio": percent("1100", "32450"),  # 3.39
        "bad_debt_ratio": percent("2000", "14750"),  # 13.56
        # Twelve customers: the two smallest (X1 100.00, X2 200.00) are out of the top ten.
        "top10_concentration": percent("32150", "32450"),  # 99.08
        "promise_kept_rate": percent("3", "5"),  # 3 kept of 5 judged (a partly kept and a broken one)
        # Decided in March: 0.5 (auto), 30, 60, 102, 120 hours: the median is 60.0
        "approval_cycle_hours": "60.0",
        # The matrix over the March-end balances (provision_matrix.dmn): not due EUR 8,500 x 0.5 % = 42.50,
        # CNY 6,250 x 0.5 % = 31.25; 1-30 days EUR 5,000 x 2 % = 100.00, GBP 3,300 x 2 % = 66.00; 31-60
        # days GBP 3,300 x 5 % = 165.00, CNY 5,000 x 5 % = 250.00; 91-120 days GBP 1,100 x 20 % = 220.00.
        "provision_ratio": percent("874.75", "32450"),  # 2.70
    },
}


def kpis_of(app: Flask, as_of: date, period: str = "month") -> dict[str, Any]:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        return compute_kpis(session, as_of, period, "EUR")


def test_every_kpi_of_three_months_in_three_currencies_equals_the_hand_computation(app: Flask) -> None:
    build_book(app)
    answer = kpis_of(app, date(2026, 4, 15))  # the month ending on or before 15 April: March
    assert answer["period"] == {"start": "2026-03-01", "end": "2026-03-31"} and answer["currency"] == "EUR"
    kpis = answer["kpis"]
    assert set(kpis) == set(KPI_NAMES) and set(KPI_NAMES) >= {
        "dso",
        "best_possible_dso",
        "add",
        "cei",
        "overdue_ratio",
        "over_90_ratio",
        "bad_debt_ratio",
        "provision_ratio",
        "approval_cycle_hours",
        "promise_kept_rate",
        "top10_concentration",
    }
    for name, value in EXPECTED["2026-03-31"].items():
        assert kpis[name]["value"] == value, name
    for end in ("2026-01-31", "2026-02-28", "2026-03-31"):
        for name, value in EXPECTED[end].items():
            (point,) = [p for p in kpis[name]["trend"] if p["period_end"] == end]
            assert point["value"] == value, (end, name)
    assert [p["period_end"] for p in kpis["dso"]["trend"]][:2] == ["2025-04-30", "2025-05-31"]
    assert len(kpis["dso"]["trend"]) == 12
    dso = kpis["dso"]
    assert (dso["unit"], dso["ar"], dso["credit_sales"], dso["current_ar"], dso["days"]) == (
        "days",
        "32450.00",
        "14750.00",
        "14750.00",
        31,
    )
    assert kpis["cei"]["ar_start"] == "23550.00" and kpis["bad_debt_ratio"]["written_off"] == "2000.00"
    assert kpis["over_90_ratio"]["over_90_ar"] == "1100.00"
    assert kpis["provision_ratio"]["provision"] == "874.75"
    largest = kpis["top10_concentration"]["largest_exposure"]
    assert largest["amount"] == "11250.00" and largest["share_percent"] == percent("11250", "32450")
    cycle = kpis["approval_cycle_hours"]
    assert (cycle["unit"], cycle["count"], cycle["median"], cycle["p90"]) == ("hours", 5, "60.0", "120.0")
    assert cycle["within_sla_percent"] == "60.00"  # the manager's and the late review's were late
    assert cycle["per_route"] == {  # within the SLA: the automatic one, one review of two, the CFO's
        "auto": {"count": 1, "median": "0.5", "p90": "0.5", "within_sla": 1, "within_sla_percent": "100.00"},
        "analyst": {
            "count": 2,
            "median": "66.0",
            "p90": "102.0",
            "within_sla": 1,
            "within_sla_percent": "50.00",
        },
        "manager": {
            "count": 1,
            "median": "120.0",
            "p90": "120.0",
            "within_sla": 0,
            "within_sla_percent": "0.00",
        },
        "cfo": {"count": 1, "median": "60.0", "p90": "60.0", "within_sla": 1, "within_sla_percent": "100.00"},
    }
    assert kpis["promise_kept_rate"]["judged"] == 5 and kpis["promise_kept_rate"]["kept"] == 3
    # Dunning effectiveness: three cases' 30 days after their first notice end in March; A's closed paid in
    # 15 days, C's in 33, D's is open: 1 of 3.
    assert kpis["promise_kept_rate"]["dunning_effectiveness"] == {
        "cases": 3,
        "paid_within_30_days": 1,
        "percent": "33.33",
    }
    # Disputes: A2's, opened 8 March, credited (closed) 10 March: 2.0 days; 1,000.00 EUR disputed for quality.
    assert kpis["cei"]["disputes"] == {
        "closed": 1,
        "median_days": "2.0",
        "disputed_by_reason": {"quality": "1000.00"},
    }
    # December: no sales, so no DSO, with the reason; the ratios of what was open still count.
    dec = {
        name: [p for p in k["trend"] if p["period_end"] == "2025-12-31"][0]["value"]
        for name, k in kpis.items()
    }
    assert dec["dso"] is None and dec["overdue_ratio"] == "100.00"


def test_the_quarter_sums_the_three_months(app: Flask) -> None:
    build_book(app)
    kpis = kpis_of(app, date(2026, 3, 31), "quarter")["kpis"]
    # Q1 2026 (90 days): AR at 31 Mar 32,450.00; sales at 31 March's rates: A1 10,000 + B1 5,500
    # + C1 12,500 + A2 6,000 + B2 3,300 + C2 6,250 + A3 4,000 + X 4,500 = 52,050.00.
    # Opening: the fourth quarter of 2025's reported AR (31 Dec at 31 Dec's rates): D0 2,000 + B0 1,200.
    assert kpis["dso"]["value"] == days("32450", "52050", 90)
    assert kpis["cei"]["value"] == percent(str(3200 + 52050 - 32450), str(3200 + 52050 - 14750))
    assert kpis["bad_debt_ratio"]["value"] == percent("2000", "52050")
    assert kpis["approval_cycle_hours"]["count"] == 6 and kpis["promise_kept_rate"]["judged"] == 6


def test_get_api_kpis_answers_the_hand_computation_for_a_credit_manager(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    build_book(app)
    app_clock.advance(days=44)  # 15 April 2026
    answer = client.get(
        "/api/kpis?as_of=2026-04-15&period=month&currency=EUR", headers=auth(demo_tokens["manager1"])
    )
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["as_of"], body["currency"], body["source"]) == ("2026-04-15", "EUR", "live")
    assert body["period"] == {"start": "2026-03-01", "end": "2026-03-31"}
    for end, expected in EXPECTED.items():
        for name, value in expected.items():
            (point,) = [p for p in body["kpis"][name]["trend"] if p["period_end"] == end]
            assert point["value"] == value, (end, name)
            if end == "2026-03-31":
                assert body["kpis"][name]["value"] == value, name
    # No as_of: today's period, the month ending on or before 15 April; the same figures.
    default = client.get("/api/kpis", headers=auth(demo_tokens["cfo1"])).json
    assert default["kpis"]["dso"]["value"] == "68.2" and default["period"]["end"] == "2026-03-31"


def test_a_currency_without_a_rate_at_a_period_end_is_a_409_naming_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    usd = migrated_customer(
        app, {"external_id": "USD-1", "name": "usd", "currency": "USD", "email": "a@u.example"}
    )
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        data = InvoiceInput(usd, "U-1", Decimal("100.00"), "USD", date(2026, 1, 5), date(2026, 2, 4))
        post_invoice(session, data, actor="finance1", now=at(date(2026, 1, 5)))
    refused = client.get("/api/kpis?as_of=2026-02-28", headers=auth(demo_tokens["manager1"]))
    assert refused.status_code == 409, refused.json
    message = refused.json["error"]["message"]
    # A JSON message writes its days as its reader does (webui.stored_sentences.dated).
    assert "on or before these days (31 Jan 2026: USD; 28 Feb 2026: USD)" in message, message
    zh = client.get(
        "/api/kpis?as_of=2026-02-28", headers=auth(demo_tokens["manager1"]) | {"Accept-Language": "zh"}
    )
    assert "（2026年1月31日：USD 2026年2月28日：USD）" in zh.json["error"]["message"], zh.json


def test_a_repeated_request_is_answered_from_the_cache_until_the_book_changes(app: Flask) -> None:
    ids = build_book(app)
    first = kpis_of(app, date(2026, 4, 15))
    first["kpis"]["dso"]["value"] = "tampered"  # the caller's copy: the cache keeps its own
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        calls = []
        original = kpi_module.period_kpis

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append(args[1])
            return original(*args, **kwargs)

        kpi_module.period_kpis = counting  # type: ignore[assignment]
        try:
            again = compute_kpis(session, date(2026, 4, 20), "month", "EUR")  # same period: cached
            assert calls == [] and again["kpis"]["dso"]["value"] == "68.2" and again["as_of"] == "2026-04-20"
            # A payment (value date 30 March) changes the book: computed again.
            paid = PaymentInput(ids["B"], Decimal("3000.00"), "GBP", date(2026, 3, 30), "B1", "LATE-B1")
            post_payment(session, paid, actor="finance1", now=at(date(2026, 4, 2)))
            session.flush()
            changed = compute_kpis(session, date(2026, 4, 20), "month", "EUR")
            assert len(calls) == 1 and changed["kpis"]["dso"]["value"] == "61.3"
        finally:
            kpi_module.period_kpis = original  # type: ignore[assignment]
