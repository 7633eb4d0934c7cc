"""The KPI fast path (workflows/credit/kpi_today.py): a period ending on the maintained balances' day (or a
few days before it, nothing posted since) read from those tables gives exactly the scan's answer
(kpi_book.py), after random postings: invoices in four currencies, partial payments, credit notes,
write-offs (in full and settled, leaving an unpaid part), regrades and rate changes. Any condition not met
falls back to the scan. Runs on PostgreSQL too (the `settings` fixture makes these `db` tests)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.credit.test_customer_balances import BASE, START, Book, at
from workflows.batch.kpi_month_end import post_kpi_snapshot
from workflows.credit import kpi_today, kpis
from workflows.credit.fx import RateInput, store_rate
from workflows.credit.kpi_periods import MONTH, QUARTER, period_end_on_or_before
from workflows.credit.kpi_rates import KpiRatesMissing
from workflows.credit.kpi_snapshots import KpiSnapshot, reported_ar, snapshots_of
from workflows.credit.models import Customer, Provision
from workflows.credit.portfolio_balances import ensure_rolled
from workflows.credit.receivables import InvoiceInput, post_invoice
from workflows.credit.write_off_posting import post_request
from workflows.credit.write_offs import SETTLED, Proposal, open_request, pending_request
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def both(factory: sessionmaker[Session], end: date, period: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """(fast path's answer or error, scan's answer or error, whether the fast path was taken)."""

    def answer() -> Any:
        with factory() as session:
            try:
                return kpis.period_kpis(session, [end], period, BASE)[end]
            except KpiRatesMissing as exc:
                return ("409", exc.message, exc.details)

    with factory() as session:
        taken = kpi_today.usable(session, end, BASE) is not None  # today_figures answers exactly then
    fast = answer()
    with monkeypatch.context() as patch:
        patch.setattr(kpis, "today_figures", lambda *args, **kwargs: None)
        scanned = answer()
    return fast, scanned, taken


class KpiBook(Book):
    def __init__(self, factory: sessionmaker[Session], seed: int) -> None:
        super().__init__(factory, seed)
        with transaction(factory) as session:  # a rate for CNY too: the fourth currency is counted
            rate = RateInput("CNY", START - timedelta(days=400), Decimal("0.1298765432"), "t")
            store_rate(session, rate, actor="finance1", now=at(START))
            for n in range(18):  # more than ten customers, so the top ten is a choice
                row = Customer(
                    name=f"Extra {n}",
                    external_id=f"KT-{n}",
                    currency=("EUR", "GBP", "USD", "CNY")[n % 4],
                    grade=("A", "B", "C", "D", None)[n % 5],
                    region="EU",
                    industry="retail",
                    sales_owner="sales1",
                    key_customer=False,
                    created_at=at(START),
                    updated_at=at(START),
                )
                session.add(row)
                session.flush()
                self.customers.append(row.id)

    def settlement(self) -> None:
        """A settled write-off: the settlement's amount stays open on the written-off invoices (AR)."""
        with transaction(self.factory) as session:
            found = self._open(session)
            if found is None or pending_request(session, found.customer_id) is not None:
                return
            amount = (found.open_amount / 3).quantize(Decimal("0.01"))
            proposal = Proposal(found.customer_id, SETTLED, amount, Decimal("0"), "settled")
            request = open_request(
                session, proposal, requested_by="legal1", instance_id=None, now=at(self.today)
            )
            post_request(session, request, approvers=["manager1"], actor="manager1", now=at(self.today))

    def specific(self) -> None:
        """A specific provision on a customer with an open invoice (legal handover): the provision counts
        that customer's receivables through it, out of the matrix (kpi_today's `exact`)."""
        with transaction(self.factory) as session:
            found = self._open(session)
            if found is None:
                return
            amount = (found.open_amount * Decimal("0.8")).quantize(Decimal("0.01"))
            session.add(
                Provision(
                    customer_id=found.customer_id,
                    amount=amount,
                    currency=found.currency,
                    rate=Decimal("0.80"),
                    reason="legal handover",
                    created_by="manager1",
                    created_at=at(self.today),
                )
            )

    def invoice_on(self, day: date) -> None:
        with transaction(self.factory) as session:
            self.numbers += 1
            data = InvoiceInput(self.customers[0], f"CB-{self.numbers}", Decimal("12.34"), "EUR", day, day)
            post_invoice(session, data, actor="finance1", now=at(self.today))


@pytest.mark.parametrize("seed", [4, 2027])
def test_a_period_ending_on_the_balances_day_equals_the_scan(
    session_factory: sessionmaker[Session], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = KpiBook(session_factory, seed)
    steps = [book.invoice] * 6 + [book.payment] * 4 + [book.credit_note, book.write_off, book.settlement]
    steps += [book.regrade, book.rate, book.specific]
    taken = with_specific = 0
    # The shipped matrix cuts "over 120" into three rates: those runs are summed by due-date ranges, never
    # by the per-due-date fallback.
    per_due = kpi_today._per_due

    def no_fallback(*args: Any) -> Any:
        raise AssertionError("the provision fell back to the balances per due date")

    monkeypatch.setattr(kpi_today, "_per_due", no_fallback)
    for checkpoint in range(7):
        for _ in range(30):
            book.rng.choice(steps)()
        # Postings are dated `today`; the period end is the month's last day, later than all of them.
        book.today = month_end(book.today)
        for _ in range(4):
            book.rng.choice(steps)()
        # The balances rolled on the end, a few days later, or not yet (the month's last day before the
        # daily roll: the tables are a day or more behind the end).
        gap = book.rng.choice((0, 0, 1, 3, -1, -2))
        with session_factory() as session:
            ensure_rolled(session, book.today + timedelta(days=gap), BASE)
        with session_factory() as session:
            provided = session.scalar(select(func.count()).select_from(Provision)) or 0
        for period in (MONTH, QUARTER):
            fast, scanned, used = both(session_factory, book.today, period, monkeypatch)
            assert fast == scanned, (checkpoint, period, gap)
            taken += used
            with_specific += bool(used and provided)
        book.today += timedelta(days=book.rng.randint(1, 20))
    assert taken >= 10  # the fast path answered (not only fell back)
    assert with_specific >= 2  # and with customers out of the matrix by a specific provision
    monkeypatch.setattr(kpi_today, "_per_due", per_due)


def test_the_fast_path_steps_aside_when_anything_is_dated_after_the_end(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = KpiBook(session_factory, 11)
    for _ in range(20):
        book.invoice()
    for _ in range(6):
        book.payment()
    book.today = month_end(book.today)
    end = book.today
    with session_factory() as session:
        ensure_rolled(session, end, BASE)
        assert kpi_today.usable(session, end, BASE) == end
    book.invoice_on(end + timedelta(days=1))  # issued after the end: the scan answers
    with session_factory() as session:
        ensure_rolled(session, end + timedelta(days=1), BASE)
        assert kpi_today.usable(session, end, BASE) is None
    fast, scanned, used = both(session_factory, end, MONTH, monkeypatch)
    assert not used and fast == scanned
    # A rate posted for a later day than the end, rolled into the tables: their order is not the KPIs'.
    book.today = month_end(end + timedelta(days=5))
    end2 = book.today
    with transaction(session_factory) as session:
        store_rate(session, RateInput("USD", end2, Decimal("1.2345"), "t"), actor="finance1", now=at(end2))
    with session_factory() as session:
        ensure_rolled(session, end2, BASE)
        assert kpi_today.usable(session, end2, BASE) == end2
        assert kpi_today.usable(session, end2 - timedelta(days=1), BASE) is None  # other rates then
    fast, scanned, used = both(session_factory, end2, QUARTER, monkeypatch)
    assert used and fast == scanned


def test_with_the_previous_period_stored_its_reported_ar_opens_the_period_and_the_fast_path_skips_it(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quarter ending today after the previous quarter's snapshot (docs/kpis.md "CEI"): the fast path
    reads the opening AR from the snapshot instead of joining the quarter's payments to their invoices,
    equals the scan, and the opening AR is the snapshot's (tests/credit/test_kpis_by_hand.py shows it
    staying so after a payment dated back into the stored period)."""
    book = KpiBook(session_factory, 7)
    steps = [book.invoice] * 6 + [book.payment] * 4 + [book.credit_note, book.write_off, book.rate]
    for _ in range(60):
        book.rng.choice(steps)()
    previous = period_end_on_or_before(book.today + timedelta(days=92), QUARTER)
    book.today = previous + timedelta(days=1)
    with transaction(session_factory) as session:
        for period in (MONTH, QUARTER):
            post_kpi_snapshot(session, period, previous, base=BASE, actor="system", now=at(book.today))
    for _ in range(40):
        book.rng.choice(steps)()
    end = period_end_on_or_before(previous + timedelta(days=95), QUARTER)
    book.today = end
    book.payment()  # on the quarter end: dated into the period, not before its start
    with session_factory() as session:
        ensure_rolled(session, end, BASE)
    asked: list[bool] = []
    real = kpi_today.today_figures

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("start_known", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(kpis, "today_figures", spy)
    monkeypatch.setattr(kpi_today, "_period_rows", _without_moves(kpi_today._period_rows))
    with session_factory() as session:
        assert kpi_today.usable(session, end, BASE) == end, (previous, end)
    fast, scanned, used = both(session_factory, end, QUARTER, monkeypatch)
    assert used and asked == [True] and fast == scanned
    with session_factory() as session:
        stored = snapshots_of(session, QUARTER, BASE, [previous])[previous]
    assert fast["cei"]["ar_start"] == stored["dso"]["ar"]


def _without_moves(period_rows: Any) -> Any:
    """_period_rows that fails if asked for the opening AR (the moves since the start)."""

    def checked(*args: Any) -> Any:
        assert args[-1] is True, "the fast path computed the opening AR the snapshot reports"
        return period_rows(*args)

    return checked


def test_on_the_month_s_last_day_before_the_daily_roll_the_fast_path_bridges_the_day(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """00:00 on the last day of a month until `[scheduler] daily_hour`: the tables are rolled to yesterday,
    and postings of today are in them (maintained with each posting). The buckets are moved forward a day
    by index ranges, equal to the scan, instead of scanning a million invoices."""
    book = KpiBook(session_factory, 23)
    steps = [book.invoice] * 6 + [book.payment] * 4 + [book.credit_note, book.write_off, book.specific]
    for _ in range(40):
        book.rng.choice(steps)()
    end = month_end(book.today + timedelta(days=35))
    book.today = end - timedelta(days=2)
    for _ in range(10):
        book.rng.choice(steps)()
    with session_factory() as session:
        ensure_rolled(session, end - timedelta(days=1), BASE)
    book.today = end
    for _ in range(10):  # today's postings, after the last roll
        book.rng.choice(steps)()
    with session_factory() as session:
        assert kpi_today.usable(session, end, BASE) == end - timedelta(days=1)
    for period in (MONTH, QUARTER):
        fast, scanned, used = both(session_factory, end, period, monkeypatch)
        assert used and fast == scanned, period


@pytest.mark.parametrize("stored", ["not an amount", "NaN", "Infinity", None, 12, {"x": 1}])
def test_a_snapshot_whose_ar_is_not_an_amount_is_computed_instead(
    session_factory: sessionmaker[Session], stored: Any
) -> None:
    """A kpi_snapshots row edited by hand (or imported) with an AR that is no amount: the next period's
    opening AR is computed from the book, never a 500 or a NaN."""
    book = KpiBook(session_factory, 3)
    for _ in range(20):
        book.invoice()
    end = month_end(book.today)
    with transaction(session_factory) as session:
        post_kpi_snapshot(session, MONTH, end, base=BASE, actor="system", now=at(end + timedelta(days=1)))
        row = session.scalars(select(KpiSnapshot).where(KpiSnapshot.period_end == end)).one()
        row.kpis = {**row.kpis, "dso": {**row.kpis["dso"], "ar": stored}}
    with session_factory() as session:
        assert reported_ar(session, MONTH, BASE, [end]) == {}
