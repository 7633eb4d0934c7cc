"""Hostile postings against the portfolio's maintained balances (workflows/credit/customer_balances.py) and
the KPIs' kept earliest issue date (workflows/credit/kpi_cache.first_issue_date): concurrent postings to one
customer, postings in flight while the tables roll, failed postings, clock moves; after each, the tables
equal the live query (tests/credit/test_customer_balances.check, the reference computation).

The interleavings that only PostgreSQL allows (two writers at once) skip on SQLite, whose writers are
serialised by BEGIN IMMEDIATE; run them with CREDITFLOW_TEST_DATABASE_URL (-m db in CI)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.credit.test_customer_balances import BASE, Book, add_customers, at, check
from tests.helpers import auth
from workflows.credit.customer_balances import roll_balances, rolled_on
from workflows.credit.kpi_cache import first_issue_date
from workflows.credit.models import Customer, Invoice
from workflows.credit.portfolio import PortfolioFilter, _page_ids, current_rates, portfolio_totals
from workflows.credit.portfolio_pages import load_portfolio
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
from workflows.settings import load_settings
from workflows.store.db import WRITE_OPTION, is_postgres, make_engine, make_session_factory, transaction


def _writer(factory: sessionmaker[Session]) -> Session:
    """A session in an open write transaction (as `transaction` starts one), committed by the test."""
    session = factory()
    session.begin()
    session.connection(execution_options={WRITE_OPTION: True})
    return session


def _postgres_only(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        if not is_postgres(session):
            pytest.skip("two writers at once: PostgreSQL only (SQLite serialises writers)")


def _in_thread(target: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _roll(factory: sessionmaker[Session], day: date) -> Callable[[], None]:
    def roll() -> None:
        with transaction(factory) as session:
            roll_balances(session, day, BASE, current_rates(session, day, BASE), now=at(day))

    return roll


def _invoice(session: Session, cid: int, number: str, amount: str, issued: date, due: date) -> None:
    currency = session.get(Customer, cid).currency  # type: ignore[union-attr]
    data = InvoiceInput(cid, number, Decimal(amount), currency, issued, due)
    post_invoice(session, data, actor="finance1", now=at(issued))


def test_a_posting_in_flight_during_the_first_roll_is_in_the_balances(
    session_factory: sessionmaker[Session],
) -> None:
    """Before the first roll there is no roll row for a posting to lock: a roll that reads the invoices
    while a posting is uncommitted must still end up counting that posting once it commits."""
    _postgres_only(session_factory)
    book = Book(session_factory, 11)
    for _ in range(4):
        book.invoice()
    with session_factory() as session:
        assert rolled_on(session) is None
    posting = _writer(session_factory)
    cid = book.customers[0]
    _invoice(
        posting,
        cid,
        "RACE-FIRST",
        "1234.56",
        book.today - timedelta(days=40),
        book.today - timedelta(days=10),
    )
    posting.flush()
    thread, errors = _in_thread(_roll(session_factory, book.today))
    thread.join(timeout=2)  # the roll may wait for the posting: it must not miss it
    posting.commit()
    posting.close()
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors
    check(session_factory, book.today)


def test_a_posting_in_flight_when_the_tables_are_marked_not_rolled_is_counted_by_the_roll(
    session_factory: sessionmaker[Session],
) -> None:
    """The roll row exists but says not rolled (a bulk statement): the posting's share lock on it holds
    the roll back until the posting commits."""
    _postgres_only(session_factory)
    book = Book(session_factory, 12)
    for _ in range(4):
        book.invoice()
    check(session_factory, book.today)
    with transaction(session_factory) as session:
        session.execute(update(Invoice).where(Invoice.id < 0).values(due_date=book.today))
    with session_factory() as session:
        assert rolled_on(session) is None
    posting = _writer(session_factory)
    _invoice(posting, book.customers[1], "RACE-NULL", "99.99", book.today, book.today + timedelta(days=3))
    posting.flush()
    thread, errors = _in_thread(_roll(session_factory, book.today))
    thread.join(timeout=2)
    posting.commit()
    posting.close()
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors
    check(session_factory, book.today)


def test_a_posting_in_flight_across_the_daily_roll_lands_in_the_new_day(
    session_factory: sessionmaker[Session],
) -> None:
    """A posting refreshed its customer as of yesterday and has not committed when the job rolls to
    today: the roll waits, and today's rows count the posting."""
    _postgres_only(session_factory)
    book = Book(session_factory, 13)
    for _ in range(6):
        book.invoice()
    check(session_factory, book.today)
    posting = _writer(session_factory)
    cid = book.customers[3]
    _invoice(posting, cid, "RACE-DAY", "500.00", book.today - timedelta(days=29), book.today)
    posting.flush()
    tomorrow = book.today + timedelta(days=1)  # due today: not due yesterday, 1-30 days tomorrow
    thread, errors = _in_thread(_roll(session_factory, tomorrow))
    thread.join(timeout=2)
    posting.commit()
    posting.close()
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors
    with session_factory() as session:
        assert rolled_on(session) == tomorrow
    check(session_factory, tomorrow)


@pytest.mark.parametrize("seed", [21, 22])
def test_two_people_posting_to_one_customer_at_once_leave_the_book_and_balances_equal(
    session_factory: sessionmaker[Session], seed: int
) -> None:
    """Four threads, each its own session, post invoices and payments to the same two customers at once
    (barrier-started), on SQLite (serialised) and PostgreSQL (row locks)."""
    book = Book(session_factory, seed)
    for _ in range(4):
        book.invoice()
    check(session_factory, book.today)
    targets = book.customers[:2]
    barrier = threading.Barrier(4)

    def poster(worker: int) -> Callable[[], None]:
        def run() -> None:
            barrier.wait(timeout=10)
            for n in range(5):
                cid = targets[(worker + n) % 2]
                with transaction(session_factory) as session:
                    if (worker + n) % 3 == 2:
                        currency = session.get(Customer, cid).currency  # type: ignore[union-attr]
                        paid = PaymentInput(cid, Decimal("37.11") * (n + 1), currency, book.today)
                        post_payment(session, paid, actor="finance1", now=at(book.today))
                    else:
                        due = book.today - timedelta(days=30 * n)
                        _invoice(session, cid, f"CC-{seed}-{worker}-{n}", f"{100 + worker}.{n}5", due, due)

        return run

    started = [_in_thread(poster(w)) for w in range(4)]
    for thread, _ in started:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread, _ in started)
    assert [e for _, errors in started for e in errors] == []
    check(session_factory, book.today)


def test_a_failed_invalid_posting_and_a_conflict_leave_the_balances_equal_to_the_book(
    session_factory: sessionmaker[Session],
) -> None:
    """Postings refused half-way (a wrong currency after an invoice was flushed, a duplicate number after
    a payment was allocated) roll back the balances with the invoices."""
    book = Book(session_factory, 14)
    for _ in range(6):
        book.invoice()
    check(session_factory, book.today)
    cid = book.customers[0]
    with pytest.raises(Exception, match="kept in EUR"), transaction(session_factory) as session:
        _invoice(session, cid, "HALF-1", "10.00", book.today, book.today)
        session.flush()
        post_payment(
            session, PaymentInput(cid, Decimal("5"), "JPY", book.today), actor="finance1", now=at(book.today)
        )
    with pytest.raises(Exception, match="exists already"), transaction(session_factory) as session:
        post_payment(
            session,
            PaymentInput(cid, Decimal("3.00"), "EUR", book.today),
            actor="finance1",
            now=at(book.today),
        )
        session.flush()
        _invoice(session, cid, "HALF-2", "10.00", book.today, book.today)
        session.flush()
        _invoice(session, cid, "HALF-2", "10.00", book.today, book.today)
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(Invoice.number.like("HALF-%"))) == 0
    check(session_factory, book.today)


def test_the_clock_moving_back_and_forth_never_shows_another_day_s_balances(
    session_factory: sessionmaker[Session],
) -> None:
    """A simulated clock moved forward (no roll job run), back before the roll (answered live, never
    rolled back), and forward again; postings made meanwhile refresh at the rolled day."""
    book = Book(session_factory, 15)
    for _ in range(8):
        book.invoice()
    check(session_factory, book.today)
    ahead = book.today + timedelta(days=45)
    check(session_factory, ahead)  # a later day rolls first
    book.invoice()  # posted at the earlier day: refreshed as of the rolled (later) day
    with session_factory() as session:
        assert rolled_on(session) == ahead
    book.today = ahead - timedelta(days=200)  # a day before the roll: live, tables stay at `ahead`
    book.invoice()
    check(session_factory, ahead)
    check(session_factory, ahead + timedelta(days=1))


def _api_book(app: Flask) -> tuple[sessionmaker[Session], list[int]]:
    factory: sessionmaker[Session] = app.extensions["creditflow"].rt.factory
    return factory, add_customers(factory)


def _same_as_live(client: FlaskClient, token: str, factory: sessionmaker[Session], today: date) -> None:
    """GET /api/portfolio reads the tables (rolled for today) and equals the live query; then the
    reference check of every filter."""
    answer = client.get("/api/portfolio?per_page=100", headers=auth(token))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    with factory() as session:
        assert rolled_on(session) == today
        rates = current_rates(session, today, BASE)
        live_ids, count = _page_ids(session, PortfolioFilter(), today, rates, None, None)
        live_totals = portfolio_totals(session, PortfolioFilter(), today, rates)
    assert [item["customer_id"] for item in body["items"]] == live_ids and body["total"] == count
    assert Decimal(body["totals"]["total"]) == live_totals.total
    assert Decimal(body["totals"]["overdue"]) == live_totals.overdue
    check(factory, today)


@pytest.mark.parametrize(
    "bad",
    [
        {"amount": "1e999"},
        {"amount": 1e308},
        {"amount": "-5.00"},
        {"amount": "0"},
        {"amount": "999999999999.999"},
        {"amount": "1" * 400},
        {"currency": "eur"},
        {"currency": "JPY"},  # not the customer's: Invalid after the customer is read
        {"customer_id": 10**30},
        {"customer_id": 99999},
        {"number": "A\x00B"},
        {"issue_date": "0001-01-01", "due_date": "0001-01-01"},
        {"due_date": "9999-12-31"},
        {"number": {"a": {"b": {"c": [[[[[[[[[[[]]]]]]]]]]]}}}},
    ],
)
def test_hostile_postings_through_the_api_never_move_the_balances_away_from_the_book(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: Any, bad: dict[str, Any]
) -> None:
    """Crafted invoice and payment bodies get a 4xx (or, where the value is legal, post normally); either
    way the balances /api/portfolio reads equal the live query, today and on a later day no job rolled."""
    factory, customers = _api_book(app)
    today = app_clock().date()
    finance, manager = demo_tokens["finance1"], demo_tokens["manager1"]
    good = {
        "customer_id": customers[0],
        "number": "API-1",
        "amount": "1500.00",
        "currency": "EUR",
        "issue_date": (today - timedelta(days=70)).isoformat(),
        "due_date": (today - timedelta(days=40)).isoformat(),
    }
    assert client.post("/api/invoices", json=good, headers=auth(finance)).status_code == 201
    _same_as_live(client, manager, factory, today)
    answer = client.post("/api/invoices", json={**good, "number": "API-2", **bad}, headers=auth(finance))
    assert answer.status_code < 500, answer.get_data(as_text=True)
    payment = {"customer_id": customers[0], "amount": "250.00", "currency": "EUR", "date": today.isoformat()}
    payment |= {k: v for k, v in bad.items() if k in payment}
    answer = client.post("/api/payments", json=payment, headers=auth(finance))
    assert answer.status_code < 500, answer.get_data(as_text=True)
    _same_as_live(client, manager, factory, today)
    app_clock.advance(days=33)  # no job ran: the first request of that day rolls
    _same_as_live(client, manager, factory, app_clock().date())


@pytest.mark.parametrize(
    "query",
    [
        "page=1e999",
        "per_page=1e999",
        "per_page=0",
        "per_page=-1",
        "page=99999999999999999999999",
        "top=1e999&tab=top",
        "region=%00",
        "grade=A%00",
        "sort[a][b]=total",
        "currency=EU%00",
    ],
)
def test_hostile_portfolio_parameters_on_the_maintained_tables_get_a_4xx_or_an_empty_answer(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: Any, query: str
) -> None:
    factory, customers = _api_book(app)
    today = app_clock().date()
    with transaction(factory) as session:
        _invoice(session, customers[1], "Q-1", "10.00", today - timedelta(days=5), today)
    manager = demo_tokens["manager1"]
    assert client.get("/api/portfolio", headers=auth(manager)).status_code == 200
    answer = client.get(f"/api/portfolio?{query}", headers=auth(manager))
    assert answer.status_code < 500, (query, answer.get_data(as_text=True))
    with factory() as session:
        assert rolled_on(session) == today


_KILLED_POSTING = """
import os, sys, time
from datetime import UTC, date, datetime
from decimal import Decimal
from workflows.settings import load_settings
from workflows.store.db import make_engine, make_session_factory, transaction
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
settings = load_settings({}, database={"url": sys.argv[1]})
factory = make_session_factory(make_engine(settings.database))
cid, day = int(sys.argv[2]), date.fromisoformat(sys.argv[3])
now = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
with transaction(factory) as session:
    invoice = InvoiceInput(cid, "KILLED-1", Decimal("777.77"), "EUR", day, day)
    post_invoice(session, invoice, actor="finance1", now=now)
    session.flush()
    post_payment(session, PaymentInput(cid, Decimal("100.00"), "EUR", day), actor="finance1", now=now)
    session.flush()
    print("flushed", flush=True)
    time.sleep(60)
"""


def test_a_posting_process_killed_after_its_flushes_leaves_the_balances_equal_to_the_book(
    session_factory: sessionmaker[Session], settings: Any
) -> None:
    """kill -9 of a process that posted an invoice and a payment and refreshed the balances in its
    transaction, before its commit: nothing of it remains, and the tables still equal the book."""
    book = Book(session_factory, 18)
    for _ in range(6):
        book.invoice()
    check(session_factory, book.today)
    url = settings.database.url
    args = [sys.executable, "-c", _KILLED_POSTING, url, str(book.customers[0]), book.today.isoformat()]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
        finally:
            os.kill(process.pid, signal.SIGKILL)
            _, errors = process.communicate(timeout=30)
    assert line.strip() == "flushed", errors
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(Invoice.number == "KILLED-1")) == 0
    check(session_factory, book.today)
    book.invoice()  # the next posting is not blocked by the killed one's locks
    check(session_factory, book.today)


def test_the_earliest_issue_date_follows_a_deleted_highest_invoice_and_a_second_engine(
    session_factory: sessionmaker[Session], settings: Any
) -> None:
    """B's kept earliest issue date: the highest invoice deleted (the id fell: counted again), and an
    earlier invoice posted through a second engine on the same database (the id range finds it)."""
    book = Book(session_factory, 19)
    book.invoice()
    with transaction(session_factory) as session:
        _invoice(session, book.customers[0], "EARLY-1", "5.00", date(2020, 1, 1), date(2020, 2, 1))
    with session_factory() as session:
        assert first_issue_date(session) == date(2020, 1, 1)
    with transaction(session_factory) as session:
        session.delete(session.scalars(select(Invoice).where(Invoice.number == "EARLY-1")).one())
    with session_factory() as session:
        assert first_issue_date(session) == session.scalar(select(func.min(Invoice.issue_date)))
    other = make_engine(settings.database)
    try:
        with transaction(make_session_factory(other)) as session:
            _invoice(session, book.customers[1], "EARLY-2", "5.00", date(2019, 6, 1), date(2019, 7, 1))
    finally:
        other.dispose()
    with session_factory() as session:
        assert first_issue_date(session) == date(2019, 6, 1)


@pytest.mark.usefixtures("shipped")
def test_the_demo_book_its_write_off_approval_and_daily_jobs_keep_the_balances_equal_to_the_book(
    app: Flask, desk: Any, demo_tokens: dict[str, str], app_clock: Any
) -> None:
    """The demo seed (customers, rates, invoices posted by its cases), a dunning run, the write-off that
    manager1 approves through the process (posted by its service task), then days of ticks running every
    daily job (dunning, provisions, the roll): /api/portfolio equals the live query after each."""
    from workflows.cli.demo import seed_demo, start_demo_cases

    svc = app.extensions["creditflow"]
    factory: sessionmaker[Session] = svc.rt.factory
    manager = demo_tokens["manager1"]
    assert desk.client.get("/api/portfolio", headers=auth(manager)).status_code == 200  # rolled (empty)
    with transaction(factory) as session:
        seed_demo(session, svc.clock())
    start_demo_cases(svc.rt, svc.clock())
    _same_as_live(desk.client, manager, factory, app_clock().date())
    [approval] = [t for t in desk.open_tasks("manager1") if t["name"] == "manager_approval"]
    done = desk.complete("manager1", approval["id"], decision="approve", comment="settled in court")
    assert done.status_code == 200, done.get_json()
    with factory() as session:
        written = session.scalar(select(Invoice).where(Invoice.number == "SPP-7001"))
        assert written is not None and written.open_amount == Decimal("30000.00")  # 56,000 written off
    _same_as_live(desk.client, manager, factory, app_clock().date())
    for _ in range(3):
        desk.tick(days=11)
        _same_as_live(desk.client, manager, factory, app_clock().date())


def test_a_read_that_would_roll_while_a_long_posting_holds_the_write_lock_is_answered_live(
    session_factory: sessionmaker[Session], settings: Any
) -> None:
    """The first portfolio request of a day rolls the tables, which needs the write lock; a long writer
    (an import, a job) holding it past the lock timeout must not turn that read into an error: the
    request is answered live, and a later one rolls."""
    book = Book(session_factory, 23)
    for _ in range(6):
        book.invoice()
    check(session_factory, book.today)
    impatient = make_engine(
        load_settings({}, database={"url": settings.database.url, "busy_timeout_s": 1}).database
    )
    blocker = _writer(session_factory)
    tomorrow = book.today + timedelta(days=1)
    try:
        _invoice(blocker, book.customers[0], "LONG-1", "10.00", book.today, tomorrow)
        blocker.flush()
        # SQLite: the roll's BEGIN IMMEDIATE waits out the busy timeout; PostgreSQL: its FOR UPDATE waits
        # for the posting's share lock on the roll row (portfolio_balances.ROLL_WAIT_MS).
        with make_session_factory(impatient)() as session:
            shown = load_portfolio(session, PortfolioFilter(), as_of=tomorrow, base=BASE, per_page=100)
        with session_factory() as session:
            rates = current_rates(session, tomorrow, BASE)
            live_ids, count = _page_ids(session, PortfolioFilter(), tomorrow, rates, None, None)
        assert [r.customer_id for r in shown.rows] == live_ids and shown.total_rows == count
    finally:
        blocker.rollback()
        blocker.close()
        impatient.dispose()
    check(session_factory, tomorrow)


def test_a_customer_s_filter_columns_and_an_invoice_moved_to_another_customer_follow_in_the_tables(
    session_factory: sessionmaker[Session],
) -> None:
    """Region, industry, sales owner and currency of a customer with open invoices changed, and an open
    invoice moved to another customer (both customers refreshed): every filter still equals the live query."""
    book = Book(session_factory, 24)
    for _ in range(10):
        book.invoice()
    check(session_factory, book.today)
    with transaction(session_factory) as session:
        customer = session.get(Customer, book.customers[0])
        assert customer is not None
        customer.region, customer.industry, customer.sales_owner = "US", "mining", None
        customer.currency = "USD"
    check(session_factory, book.today)
    with transaction(session_factory) as session:
        moved = session.scalars(select(Invoice).where(Invoice.open_amount > 0).order_by(Invoice.id)).first()
        assert moved is not None
        moved.customer_id = next(c for c in book.customers if c != moved.customer_id)
    check(session_factory, book.today)


def test_an_invoice_committed_out_of_id_order_moves_the_earliest_issue_date(
    session_factory: sessionmaker[Session],
) -> None:
    """PostgreSQL hands out invoice ids when rows are inserted, not when they commit: an invoice with a
    lower id can become visible after the KPIs have seen a higher one. Its earlier issue date must still
    count (else the quarters before it are answered as empty)."""
    _postgres_only(session_factory)
    book = Book(session_factory, 16)
    book.invoice()
    with session_factory() as session:
        known = first_issue_date(session)
    assert known is not None
    early = known - timedelta(days=400)
    slow = _writer(session_factory)
    _invoice(slow, book.customers[0], "LATE-COMMIT", "10.00", early, early + timedelta(days=30))
    slow.flush()  # holds the lower id, uncommitted
    with transaction(session_factory) as session:
        _invoice(session, book.customers[1], "FAST-COMMIT", "10.00", book.today, book.today)
    with session_factory() as session:
        assert first_issue_date(session) == known  # the slow one is not committed yet
    slow.commit()
    slow.close()
    with session_factory() as session:
        assert first_issue_date(session) == early
