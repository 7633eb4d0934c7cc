"""Hostile and unlucky books against the two fast paths that read the maintained balances instead of the
ledger (issue 17): the KPIs of a period ending on the balances' day (workflows/credit/kpi_today.py) and the
dashboard's aging and top exposures (workflows/credit/dashboard_balances.py). Each must give exactly the
answer of the scan (the same code with the fast path off, or the ledger functions it falls back to), and
step aside whenever it cannot. Runs on PostgreSQL too (the `settings` fixture makes these `db` tests)."""

from __future__ import annotations

import weakref
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.credit.test_aging_history import make_book
from tests.credit.test_customer_balances import BASE, START, at
from tests.credit.test_kpi_today import KpiBook, both, month_end
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.credit import kpi_cache, kpi_today, kpis
from workflows.credit.aging_history import aging_history, top_exposures
from workflows.credit.dashboard_balances import balance_views
from workflows.credit.fx import RateInput, store_rate
from workflows.credit.kpi_periods import MONTH, QUARTER, previous_end
from workflows.credit.models import Customer, Invoice
from workflows.credit.portfolio_balances import ensure_rolled
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
from workflows.credit.recoveries import RecoveryInput, post_recovery
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def customer(session: Session, name: str, currency: str) -> int:
    row = Customer(
        name=name,
        external_id=f"FP-{name}",
        currency=currency,
        grade="B",
        region="EU",
        industry="retail",
        sales_owner="sales1",
        key_customer=False,
        created_at=at(START),
        updated_at=at(START),
    )
    session.add(row)
    session.flush()
    return row.id


def invoice(
    session: Session, cid: int, number: str, amount: str, currency: str, issued: date, due: date
) -> None:
    data = InvoiceInput(cid, number, Decimal(amount), currency, issued, due)
    post_invoice(session, data, actor="finance1", now=at(START))


def rate(session: Session, currency: str, day: date, value: str) -> None:
    store_rate(session, RateInput(currency, day, Decimal(value), "t"), actor="finance1", now=at(START))


def views(factory: sessionmaker[Session], day: date) -> tuple[Any, Any]:
    """(the balances' answer, the ledger's) for the dashboard's day."""
    with factory() as session:
        ensure_rolled(session, day, BASE)
    with factory() as session:
        fast = balance_views(session, day, BASE)
        ledger = (aging_history(session, [day], BASE)[0], top_exposures(session, day, BASE))
    return fast, ledger


# --- the dashboard's top exposures -----------------------------------------------------------------------


def test_dashboard_top_exposures_rank_a_rate_of_many_decimals_as_the_ledger(
    session_factory: sessionmaker[Session],
) -> None:
    """A CNY rate of ten decimals (0.1298765432): 1,000,000.00 CNY is 129,876.54 EUR, more than each of ten
    EUR customers owing 129,850.00. The largest exposure is the CNY customer's, whichever path answers."""
    day = START
    with transaction(session_factory) as session:
        rate(session, "CNY", day - timedelta(days=30), "0.1298765432")
        yuan = customer(session, "Yuan", "CNY")
        invoice(session, yuan, "Y-1", "1000000.00", "CNY", day - timedelta(days=5), day + timedelta(days=25))
        for n in range(10):
            cid = customer(session, f"Euro {n}", "EUR")
            invoice(
                session, cid, f"E-{n}", "129850.00", "EUR", day - timedelta(days=5), day + timedelta(days=25)
            )
    fast, (point, exposures) = views(session_factory, day)
    assert fast is not None and fast[1] is not None
    assert fast[0] == point
    assert exposures.top[0].customer_id == yuan and exposures.top[0].in_base == Decimal("129876.54")
    assert fast[1] == exposures


def test_dashboard_top_exposures_break_a_tie_of_cents_as_the_ledger(
    session_factory: sessionmaker[Session],
) -> None:
    """At a GBP rate of 0.5, 10.01 GBP and 10.02 GBP are both 5.01 EUR to the cent: thirteen customers tie on
    what is shown. Both paths show the same ten."""
    day = START
    with transaction(session_factory) as session:
        rate(session, "GBP", day - timedelta(days=30), "0.5")
        first = customer(session, "Pound 0", "GBP")  # the lowest id, the smallest raw amount
        invoice(session, first, "P-0", "10.01", "GBP", day - timedelta(days=5), day + timedelta(days=25))
        for n in range(1, 13):
            cid = customer(session, f"Pound {n}", "GBP")
            invoice(session, cid, f"P-{n}", "10.02", "GBP", day - timedelta(days=5), day + timedelta(days=25))
    fast, (point, exposures) = views(session_factory, day)
    assert fast is not None and fast[1] is not None
    assert fast[0] == point
    assert fast[1] == exposures


# --- the KPIs of a period ending on the balances' day ----------------------------------------------------


def busy_book(factory: sessionmaker[Session], seed: int) -> KpiBook:
    """Random postings up to a month end (book.today), rolled on it, the fast path taken there."""
    book = KpiBook(factory, seed)
    steps = [book.invoice] * 6 + [book.payment] * 4 + [book.credit_note, book.write_off, book.settlement]
    for _ in range(40):
        book.rng.choice(steps)()
    book.today = month_end(book.today)
    for _ in range(4):
        book.rng.choice(steps)()
    with factory() as session:
        ensure_rolled(session, book.today, BASE)
        assert kpi_today.usable(session, book.today, BASE) == book.today
    return book


def same(factory: sessionmaker[Session], end: date, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Fast path == scan for the month and the quarter ending on `end`; whether the fast path was taken."""
    taken = []
    for period in (MONTH, QUARTER):
        fast, scanned, used = both(factory, end, period, monkeypatch)
        assert fast == scanned, period
        taken.append(used)
    return taken


def open_invoice_number(factory: sessionmaker[Session]) -> tuple[int, str, str]:
    with factory() as session:
        found = session.query(Invoice).filter(Invoice.status == "open", Invoice.open_amount > 0).first()
        assert found is not None
        return found.customer_id, found.number, found.currency


@pytest.mark.parametrize("later", [1, 3, 7])
def test_kpis_a_payment_value_dated_after_the_end_sends_the_period_to_the_scan(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, later: int
) -> None:
    book = busy_book(session_factory, 5)
    end = book.today
    cid, number, currency = open_invoice_number(session_factory)
    with transaction(session_factory) as session:
        paid = PaymentInput(cid, Decimal("1.23"), currency, end + timedelta(days=later), number)
        post_payment(session, paid, actor="finance1", now=at(end))  # entered today, value-dated later
    assert same(session_factory, end, monkeypatch) == [False, False]
    with session_factory() as session:  # rolled on the payment's day: still nothing to read at the end
        ensure_rolled(session, end + timedelta(days=later), BASE)
    assert same(session_factory, end, monkeypatch) == [False, False]


@pytest.mark.parametrize("step", ["credit_note", "write_off", "settlement", "invoice"])
def test_kpis_a_posting_dated_tomorrow_by_the_clock_sends_the_period_to_the_scan(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """A credit note, write-off or settlement posted at 09:00 the day after the end (the clock), or an
    invoice issued after it: the book at the end is not the book now."""
    book = busy_book(session_factory, 9)
    end = book.today
    book.today = end + timedelta(days=1)
    if step == "invoice":
        book.invoice_on(end + timedelta(days=1))
    else:
        for _ in range(3):
            getattr(book, step)()
    assert same(session_factory, end, monkeypatch) == [False, False]


@pytest.mark.parametrize("gap", [1, 4, 7])
def test_kpis_an_end_days_before_the_balances_day_is_read_only_while_nothing_was_posted_since(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, gap: int
) -> None:
    book = busy_book(session_factory, 13)
    end = book.today
    with session_factory() as session:
        ensure_rolled(session, end + timedelta(days=gap), BASE)
    assert same(session_factory, end, monkeypatch) == [True, True]
    book.today = end + timedelta(days=gap)
    book.payment()  # value-dated on the balances' day, after the end
    assert same(session_factory, end, monkeypatch) == [False, False]


def test_kpis_eight_days_after_the_end_are_too_many(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = busy_book(session_factory, 21)
    with session_factory() as session:
        ensure_rolled(session, book.today + timedelta(days=8), BASE)
    assert same(session_factory, book.today, monkeypatch) == [False, False]


def test_kpis_a_currency_without_a_rate_at_the_end_is_the_same_409_and_a_late_rate_the_same_answer(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = busy_book(session_factory, 33)
    end = book.today
    with transaction(session_factory) as session:
        franc = customer(session, "Franc", "CHF")
        invoice(session, franc, "CHF-1", "5000.00", "CHF", end - timedelta(days=20), end + timedelta(days=10))
        rate(session, "CHF", end + timedelta(days=2), "1.05")  # a rate, but only after the end
    with session_factory() as session:
        ensure_rolled(session, end, BASE)
    fast, scanned, _ = both(session_factory, end, MONTH, monkeypatch)
    assert fast == scanned and fast[0] == "409" and "CHF" in fast[1], fast
    # The rate for the end's day, entered later: both answer, alike, at that rate.
    with transaction(session_factory) as session:
        rate(session, "CHF", end, "1.0512345678")
    with session_factory() as session:
        assert kpi_today.usable(session, end, BASE) is None  # the tables hold the old rates
    with session_factory() as session:
        ensure_rolled(session, end, BASE)
    assert same(session_factory, end, monkeypatch) == [True, True]


def test_kpis_a_bulk_statement_and_a_regrade_keep_the_fast_path_exact(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = busy_book(session_factory, 44)
    end = book.today
    with transaction(session_factory) as session:
        session.execute(update(Customer).values(region="XX"))  # marks the tables not rolled
    with session_factory() as session:
        assert kpi_today.usable(session, end, BASE) is None
    assert same(session_factory, end, monkeypatch) == [False, False]
    with session_factory() as session:
        ensure_rolled(session, end, BASE)
    for _ in range(5):
        book.regrade()
    assert same(session_factory, end, monkeypatch) == [True, True]


def test_kpis_a_month_end_that_is_the_first_day_of_the_book_and_a_quarter_end(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The book starts on 31 March (a quarter end): its only invoices are issued on the period's last day,
    one in full and one partly paid the same day with an unallocated rest."""
    end = date(2026, 3, 31)
    with transaction(session_factory) as session:
        rate(session, "GBP", end - timedelta(days=10), "1.1712345678")
        one = customer(session, "First", "EUR")
        two = customer(session, "Second", "GBP")
        invoice(session, one, "F-1", "100.00", "EUR", end, end)
        invoice(session, two, "F-2", "250.55", "GBP", end, end + timedelta(days=30))
        post_payment(
            session, PaymentInput(two, Decimal("300.00"), "GBP", end, "F-2"), actor="finance1", now=at(end)
        )
    with session_factory() as session:
        ensure_rolled(session, end, BASE)
    assert same(session_factory, end, monkeypatch) == [True, True]


def test_kpis_huge_amounts_in_many_currencies_are_exact(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    end = date(2026, 4, 30)
    codes = {"EUR": "1", "GBP": "1.1712345678", "USD": "0.9123456789", "JPY": "0.0061234567", "CHF": "1.05"}
    with transaction(session_factory) as session:
        for code, value in codes.items():
            if code != "EUR":
                rate(session, code, end - timedelta(days=60), value)
        for n, code in enumerate(codes):
            cid = customer(session, f"Big {code}", code)
            invoice(
                session,
                cid,
                f"H-{n}",
                "999999999999.99",
                code,
                end - timedelta(days=100),
                end - timedelta(days=95),
            )
            invoice(session, cid, f"S-{n}", "0.01", code, end - timedelta(days=1), end + timedelta(days=1))
    with session_factory() as session:
        ensure_rolled(session, end, BASE)
    assert same(session_factory, end, monkeypatch) == [True, True]


# --- over HTTP: GET /api/kpis and /dashboard on a rolled book --------------------------------------------


def api_kpis(client: FlaskClient, token: str, query: str) -> tuple[int, Any]:
    response = client.get(f"/api/kpis{query}", headers=auth(token))
    return response.status_code, response.json


def scan_kpis(
    client: FlaskClient, token: str, query: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, Any]:
    """GET /api/kpis with the fast path off and nothing cached."""
    with monkeypatch.context() as patch:
        patch.setattr(kpis, "today_figures", lambda *args, **kwargs: None)
        patch.setattr(kpi_cache, "_ANSWERS", weakref.WeakKeyDictionary())
        return api_kpis(client, token, query)


def test_api_kpis_on_the_balances_day_equal_the_scan_before_and_after_postings_and_the_cache(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """February (ended 28 Feb) asked on 2 March, the balances rolled on 2 March by /dashboard: read from
    them; a payment dated 27 February entered later changes the answer at once (not a cached one); one
    dated 1 March sends the month to the scan. Each time the answer is the scan's."""
    ids = make_book(app, client, demo_tokens["finance1"])
    token, query = demo_tokens["cfo1"], "?as_of=2026-03-02"
    assert logged_in(app, "cfo1").get("/dashboard").status_code == 200  # rolls the balances
    factory = app.extensions["creditflow"].rt.factory
    with factory() as session:
        assert kpi_today.usable(session, date(2026, 2, 28), "EUR") == date(2026, 3, 2)
    before = api_kpis(client, token, query)
    assert before[0] == 200 and before == scan_kpis(client, token, query, monkeypatch)
    for day, amount in (("2026-02-27", "125.00"), ("2026-03-01", "75.00")):
        body = {
            "customer_id": ids["EUR"],
            "amount": amount,
            "currency": "EUR",
            "date": day,
            "invoice_number": "A-2",
        }
        assert (
            client.post("/api/payments", json=body, headers=auth(demo_tokens["finance1"])).status_code == 201
        )
        after = api_kpis(client, token, query)
        assert after[0] == 200 and after == scan_kpis(client, token, query, monkeypatch), day
        assert (after != before) == (day == "2026-02-27")  # March's payment is not February's
        before = after
    with factory() as session:
        assert kpi_today.usable(session, date(2026, 2, 28), "EUR") is None


HOSTILE = [
    "?period=quarter",  # the quarter ended 31 December, long before the balances' day
    "?as_of=2026-02-28&period=quarter",
    "?as_of=2026-03-02&period=quarter&currency=EUR",
    "?currency=XXX",
    "?as_of[x]=2026-03-02",
    "?period[]=month",
    "?as_of=2026-03-02%00",
    "?period=month%00",
    "?as_of=" + "9" * 5000,
    "?as_of=0001-01-31",
    "?as_of=9999-12-31&period=quarter",
    "?as_of=2026-03-01&as_of=2026-03-02",
    "?" + "&".join(f"p{n}=1" for n in range(500)),
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_query_strings_on_a_rolled_book_are_never_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], query: str
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    token = demo_tokens["cfo1"]
    cfo = logged_in(app, "cfo1")
    assert cfo.get("/dashboard").status_code == 200
    status, _ = api_kpis(client, token, query)
    assert status in (200, 400, 422), (query, status)
    page = cfo.get(f"/dashboard{query}")
    assert page.status_code in (200, 400, 422), (query, page.status_code)


# --- two writers: a posting commits while the fast path reads --------------------------------------------


def test_kpis_a_payment_committed_while_the_fast_path_reads_gives_the_book_before_or_after(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payment value-dated on the period's last day commits between the fast path's read of the sums and
    its read of the period's rows (on PostgreSQL each statement of a READ COMMITTED transaction saw it: the
    AR at the start was off by the payment). period_kpis reads one snapshot: the book before the payment
    (or after it), never a mix of both."""
    book = busy_book(session_factory, 55)
    end = book.today
    start = previous_end(end, MONTH)
    with session_factory() as session:
        found = (
            session.query(Invoice)
            .filter(Invoice.status == "open", Invoice.open_amount > 1, Invoice.issue_date <= start)
            .order_by(Invoice.id)
            .first()
        )
        assert found is not None
        paid = PaymentInput(found.customer_id, Decimal("1.00"), found.currency, end, found.number)

    def answer() -> Any:  # the period alone: the previous periods' ends are snapshots in a live book
        with session_factory() as session:
            return kpis.period_kpis(session, [end], MONTH, BASE)[end]

    with monkeypatch.context() as patch:
        patch.setattr(kpis, "today_figures", lambda *args, **kwargs: None)
        scanned_before = answer()
    original = kpi_today._period_rows
    posted: list[bool] = []

    def racing(*args: Any) -> Any:
        if not posted:
            with transaction(session_factory) as writer:
                post_payment(writer, paid, actor="finance1", now=at(end))
            posted.append(True)
        return original(*args)

    with monkeypatch.context() as patch:
        patch.setattr(kpi_today, "_period_rows", racing)
        raced = answer()
    assert posted
    with monkeypatch.context() as patch:
        patch.setattr(kpis, "today_figures", lambda *args, **kwargs: None)
        scanned_after = answer()
    assert scanned_before != scanned_after
    assert raced in (scanned_before, scanned_after)


def test_kpis_a_settlement_paid_in_part_then_in_full_and_a_recovery_keep_the_fast_path_exact(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settled write-off leaves its unpaid part open (AR outside the balances): paid in part on the end,
    then in full, then money beyond it recorded as a recovery. The fast path equals the scan each time."""
    book = busy_book(session_factory, 66)
    end = book.today
    for _ in range(3):
        book.settlement()
    with session_factory() as session:
        settled = (
            session.query(Invoice)
            .filter(Invoice.status == "written_off", Invoice.open_amount > 1)
            .order_by(Invoice.id)
            .first()
        )
        assert settled is not None
        cid, number, currency, left = (
            settled.customer_id,
            settled.number,
            settled.currency,
            settled.open_amount,
        )
    assert same(session_factory, end, monkeypatch) == [True, True]
    for amount in (Decimal("1.00"), left - Decimal("1.00")):
        with transaction(session_factory) as session:
            paid = PaymentInput(cid, amount, currency, end, number)
            post_payment(session, paid, actor="finance1", now=at(end))
        assert same(session_factory, end, monkeypatch) == [True, True]
    with transaction(session_factory) as session:
        money = RecoveryInput(cid, number, Decimal("0.50"), currency, end, "rec-1")
        post_recovery(session, money, actor="finance1", now=at(end))
    assert same(session_factory, end, monkeypatch) == [True, True]


def test_dashboard_a_rate_for_the_day_entered_later_and_a_payment_tomorrow(
    session_factory: sessionmaker[Session],
) -> None:
    """The day's rate corrected after the roll: rolled again at it, still the ledger's answer; a payment
    value-dated tomorrow: the balances step aside (None) and the ledger answers."""
    day = START
    with transaction(session_factory) as session:
        rate(session, "GBP", day - timedelta(days=30), "1.1712345678")
        pound = customer(session, "Sterling", "GBP")
        euro = customer(session, "Euro", "EUR")
        invoice(session, pound, "G-1", "1000.00", "GBP", day - timedelta(days=50), day - timedelta(days=20))
        invoice(session, euro, "E-1", "1171.23", "EUR", day - timedelta(days=5), day + timedelta(days=25))
    fast, ledger = views(session_factory, day)
    assert fast is not None and fast == ledger
    with transaction(session_factory) as session:
        rate(session, "GBP", day, "1.1700000001")
    fast, ledger = views(session_factory, day)
    assert fast is not None and fast == ledger and ledger[1].top[0].customer_id == euro
    with transaction(session_factory) as session:
        paid = PaymentInput(pound, Decimal("10.00"), "GBP", day + timedelta(days=1), "G-1")
        post_payment(session, paid, actor="finance1", now=at(day))
    fast, ledger = views(session_factory, day)
    assert fast is None and ledger[0].buckets is not None
    assert ledger[0].buckets["days_1_30"] == Decimal("1170.00")  # 1,000.00 GBP still open at the day's end
