"""The portfolio's maintained balances (workflows/credit/customer_balances.py, issue 17) equal the live query
(workflows/credit/portfolio.py) exactly after any sequence of postings, days and rates; a failed posting
leaves them unchanged; a bulk statement the flush hook cannot follow sends readers to the live query.

Runs on PostgreSQL too (the `settings` fixture makes every test here a `db` test)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import BigInteger, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from workflows.credit import roles
from workflows.credit.credit_notes import post_credit
from workflows.credit.customer_balance_tables import _BALANCES, _EXPOSURES
from workflows.credit.customer_balances import (
    BUCKETS,
    _balances_select,
    book_sums,
    rolled_on,
)
from workflows.credit.disputes import DisputeInput, LineInput, open_dispute, record_proposal
from workflows.credit.fx import RateInput, store_rate
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.credit.portfolio import PortfolioFilter, _page_ids, _rows, current_rates, portfolio_totals
from workflows.credit.portfolio_balances import ensure_rolled, page_ids, rows, totals, usable
from workflows.credit.portfolio_pages import export_rows, load_portfolio
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
from workflows.credit.write_off_posting import post_request
from workflows.credit.write_offs import UNCOLLECTABLE, Proposal, open_request, pending_request
from workflows.store.db import transaction

BASE = "EUR"
START = date(2026, 3, 2)
# (name, currency, grade, region, key customer): CNY has no rate (flagged, never guessed).
CUSTOMERS = [
    ("Alpha", "EUR", "A", "EU", True),
    ("Beta", "GBP", "B", "UK", False),
    ("Gamma", "CNY", "C", "CN", False),
    ("Delta", "USD", "B", "US", False),
    ("Epsilon", "EUR", "D", "EU", False),
    ("Zeta", "EUR", "B", "EU", True),
    ("Eta", "USD", None, "US", False),
]
FILTERS = [
    PortfolioFilter(),
    PortfolioFilter(sort="overdue"),
    PortfolioFilter(sort="over_90"),
    PortfolioFilter(descending=False),
    PortfolioFilter(sort="overdue", descending=False),
    PortfolioFilter(sort="name", descending=False),
    PortfolioFilter(sort="grade", descending=True),
    PortfolioFilter(grade="B"),
    PortfolioFilter(region="EU", sort="over_90"),
    PortfolioFilter(currency="USD"),
    PortfolioFilter(industry="retail", sales_owner="sales1"),
    PortfolioFilter(key_customer=True),
    PortfolioFilter(key_customer=True, sort="name", descending=False),
    PortfolioFilter(key_customer=False, sort="overdue"),
]


def at(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


def add_customers(factory: sessionmaker[Session]) -> list[int]:
    with transaction(factory) as session:
        store_rate(
            session,
            RateInput("GBP", START - timedelta(days=400), Decimal("1.1712345678"), "t"),
            actor="finance1",
            now=at(START),
        )
        store_rate(
            session,
            RateInput("USD", START - timedelta(days=400), Decimal("0.9123"), "t"),
            actor="finance1",
            now=at(START),
        )
        ids = []
        for name, currency, grade, region, key in CUSTOMERS:
            row = Customer(
                name=f"{name} Ltd",
                external_id=f"CB-{name}",
                currency=currency,
                grade=grade,
                region=region,
                industry="retail",
                sales_owner="sales1",
                key_customer=key,
                account_owner="manager1" if key else None,
                created_at=at(START),
                updated_at=at(START),
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
    return ids


def check(factory: sessionmaker[Session], as_of: date) -> None:
    """Roll when behind (as a request would), then: the stored rows are the invoices' sums, and every
    filter's order, rows, count, totals and pages equal the live query's."""
    with factory() as session:
        ensure_rolled(session, as_of, BASE)
    with factory() as session:
        rates = current_rates(session, as_of, BASE)
        assert usable(session, as_of, BASE, rates)
        cents = [type_coerce(_BALANCES.c[b], BigInteger) for b in BUCKETS]
        stored = session.execute(select(_BALANCES.c.customer_id, _BALANCES.c.currency, *cents)).all()
        fresh = session.execute(_balances_select(as_of, None)).all()
        assert sorted(map(_ints, stored)) == sorted(map(_ints, fresh))
        copies = [_BALANCES.c[c] for c in ("grade", "region", "industry", "sales_owner", "key_customer")]
        copied = select(_BALANCES.c.customer_id, *copies, _BALANCES.c.customer_currency)
        of_customers = select(Customer.id, Customer.grade, Customer.region, Customer.industry)
        of_customers = of_customers.add_columns(
            Customer.sales_owner, Customer.key_customer, Customer.currency
        )
        expected = {tuple(r) for r in session.execute(of_customers)}
        assert {tuple(r) for r in session.execute(copied)} <= expected
        per_currency: dict[str, list[int]] = {}
        for row in fresh:
            sums = per_currency.setdefault(row[1], [0] * len(BUCKETS))
            per_currency[row[1]] = [a + int(b) for a, b in zip(sums, row[2:], strict=True)]
        kept = {row[0]: [int(v) for v in row[1:]] for row in book_sums(session.connection())}
        assert {c: v for c, v in kept.items() if any(v)} == per_currency
        for flt in FILTERS:
            live_ids, live_count = _page_ids(session, flt, as_of, rates, None, None)
            ids, count = page_ids(session, flt, None, None)
            assert (ids, count) == (live_ids, live_count), flt
            assert rows(session, ids, rates) == _rows(session, live_ids, as_of, rates), flt
            assert totals(session, flt, rates) == portfolio_totals(session, flt, as_of, rates), flt
            assert page_ids(session, flt, 2, 2) == (live_ids[2:4], live_count), flt
            assert page_ids(session, flt, 99, 2) == ([], live_count), flt


def _ints(row: Any) -> tuple[Any, ...]:
    return (row[0], row[1], *(int(v) for v in row[2:]))


class Book:
    """Random postings through the real posting functions, each in its own transaction."""

    def __init__(self, factory: sessionmaker[Session], seed: int) -> None:
        self.factory, self.rng, self.today = factory, random.Random(seed), START
        self.customers = add_customers(factory)
        self.numbers = 0

    def invoice(self) -> None:
        rng = self.rng
        cid = rng.choice(self.customers)
        with transaction(self.factory) as session:
            currency = session.get(Customer, cid).currency  # type: ignore[union-attr]
            issued = self.today - timedelta(days=rng.randint(-5, 200))  # a few issued later: not yet counted
            self.numbers += 1
            data = InvoiceInput(
                cid,
                f"CB-{self.numbers}",
                Decimal(rng.randint(100, 900_000)) / 100,
                currency,
                issued,
                issued + timedelta(days=rng.choice((0, 14, 30, 60))),
            )
            post_invoice(session, data, actor="finance1", now=at(self.today))

    def payment(self) -> None:
        rng = self.rng
        cid = rng.choice(self.customers)
        with transaction(self.factory) as session:
            customer = session.get(Customer, cid)
            assert customer is not None
            named = session.scalar(
                select(Invoice.number)
                .where(Invoice.customer_id == cid, Invoice.status == InvoiceStatus.OPEN)
                .limit(1)
            )
            amount = Decimal(rng.randint(100, 500_000)) / 100
            paid = PaymentInput(cid, amount, customer.currency, self.today, rng.choice((None, named)))
            post_payment(session, paid, actor="finance1", now=at(self.today))

    def credit_note(self) -> None:
        with transaction(self.factory) as session:
            found = self._open(session)
            if found is None:
                return
            invoice = found
            amount = min(
                invoice.open_amount - invoice.disputed_amount, Decimal(self.rng.randint(1, 300_000)) / 100
            )
            if amount <= 0:
                return
            data = DisputeInput(
                invoice.customer_id, (LineInput(invoice.number, amount, "quality"),), roles.SALES, "x"
            )
            dispute = open_dispute(session, data, raised_by="collector1", now=at(self.today))
            record_proposal(
                session,
                dispute,
                decision="accept",
                credit=amount,
                comment="agreed",
                by="sales1",
                now=at(self.today),
                base_currency=BASE,
            )
            post_credit(session, dispute, approved_by=["manager1"], now=at(self.today))

    def write_off(self) -> None:
        with transaction(self.factory) as session:
            found = self._open(session)
            if found is None or pending_request(session, found.customer_id) is not None:
                return
            proposal = Proposal(found.customer_id, UNCOLLECTABLE, Decimal("0"), Decimal("0"), "insolvent")
            request = open_request(
                session, proposal, requested_by="legal1", instance_id=None, now=at(self.today)
            )
            post_request(session, request, approvers=["manager1"], actor="manager1", now=at(self.today))

    def regrade(self) -> None:
        with transaction(self.factory) as session:
            customer = session.get(Customer, self.rng.choice(self.customers))
            assert customer is not None
            customer.grade = self.rng.choice(("A", "B", "C", "D", None))
            customer.key_customer = not customer.key_customer

    def rate(self) -> None:
        with transaction(self.factory) as session:
            value = Decimal(self.rng.randint(8000, 13000)) / 10000
            store_rate(
                session, RateInput("USD", self.today, value, "t"), actor="finance1", now=at(self.today)
            )

    def move(self) -> None:
        self.today += timedelta(days=self.rng.randint(1, 45))

    def _open(self, session: Session) -> Invoice | None:
        candidates = session.scalars(
            select(Invoice)
            .where(Invoice.status == InvoiceStatus.OPEN, Invoice.open_amount > 0)
            .order_by(Invoice.id)
        ).all()
        return self.rng.choice(candidates) if candidates else None


@pytest.mark.parametrize("seed", [17, 2026])
def test_the_maintained_balances_equal_the_live_query_after_random_postings(
    session_factory: sessionmaker[Session], seed: int
) -> None:
    book = Book(session_factory, seed)
    check(session_factory, book.today)  # the first roll: nothing open yet
    steps = [book.invoice] * 6 + [book.payment] * 3 + [book.credit_note, book.write_off, book.regrade]
    steps += [book.rate, book.move, book.move]
    for _ in range(8):
        book.invoice()
    check(session_factory, book.today)
    for _ in range(45):
        book.rng.choice(steps)()
        check(session_factory, book.today)
    # A raw ORM invoice in a second currency of one customer (as an import of an old book might hold).
    with transaction(session_factory) as session:
        session.add(
            Invoice(
                customer_id=book.customers[0],
                number="CB-USD",
                amount=Decimal("10.05"),
                open_amount=Decimal("10.05"),
                currency="USD",
                issue_date=book.today - timedelta(days=70),
                due_date=book.today - timedelta(days=40),
                status=InvoiceStatus.OPEN,
                created_at=at(book.today),
            )
        )
    check(session_factory, book.today)


def test_a_failed_posting_leaves_the_balances_unchanged(session_factory: sessionmaker[Session]) -> None:
    book = Book(session_factory, 5)
    for _ in range(6):
        book.invoice()
    check(session_factory, book.today)

    def stored() -> list[Any]:
        with session_factory() as session:
            return sorted(session.execute(select(_BALANCES)).all()) + sorted(
                session.execute(select(_EXPOSURES)).all()
            )

    before = stored()
    cid = book.customers[0]
    with pytest.raises(RuntimeError), transaction(session_factory) as session:
        data = InvoiceInput(cid, "CB-FAIL", Decimal("5000.00"), "EUR", book.today, book.today)
        post_invoice(session, data, actor="finance1", now=at(book.today))
        post_payment(
            session,
            PaymentInput(cid, Decimal("7.00"), "EUR", book.today),
            actor="finance1",
            now=at(book.today),
        )
        session.flush()
        raise RuntimeError("the posting fails after its flushes")
    assert stored() == before
    check(session_factory, book.today)


def test_a_bulk_statement_sends_readers_to_the_live_query_until_the_next_roll(
    session_factory: sessionmaker[Session],
) -> None:
    book = Book(session_factory, 9)
    for _ in range(6):
        book.invoice()
    check(session_factory, book.today)
    with transaction(session_factory) as session:
        session.execute(update(Invoice).values(due_date=book.today - timedelta(days=100)))
    with session_factory() as session:
        assert rolled_on(session) is None
        assert not usable(session, book.today, BASE, current_rates(session, book.today, BASE))
        # The session is in a transaction (its reads above): nothing rolls, the live query answers.
        assert session.in_transaction()
        live = load_portfolio(session, PortfolioFilter(), as_of=book.today, base=BASE)
        assert rolled_on(session) is None
    with session_factory() as session:  # a request of its own rolls first, then reads the tables
        read = load_portfolio(session, PortfolioFilter(), as_of=book.today, base=BASE)
        assert rolled_on(session) == book.today
    assert (read.rows, read.totals, read.total_rows) == (live.rows, live.totals, live.total_rows)
    check(session_factory, book.today)


def test_a_past_day_is_answered_live_and_never_rolls_the_tables_back(
    session_factory: sessionmaker[Session],
) -> None:
    book = Book(session_factory, 3)
    for _ in range(8):
        book.invoice()
    check(session_factory, book.today)
    past = book.today - timedelta(days=31)
    with session_factory() as session:
        shown = load_portfolio(session, PortfolioFilter(), as_of=past, base=BASE)
        exported, _ = export_rows(session, PortfolioFilter(), as_of=past, base=BASE)
    with session_factory() as session:
        assert rolled_on(session) == book.today
        rates = current_rates(session, past, BASE)
        live_ids, count = _page_ids(session, PortfolioFilter(), past, rates, None, None)
        assert [r.customer_id for r in shown.rows] == live_ids[:50] and shown.total_rows == count
        assert exported == _rows(session, live_ids, past, rates)
