"""Hostile books against this session's KPI changes (issue 17, attacker H2): CEI's opening AR is the AR the
previous period reports (its snapshot's, else computed at the previous end's own rates), the fast path
that skips the opening moves when the previous period reports it, and the fast path for a period ending
after the balances' day (rolled up to 7 days before the end: buckets moved forward by index ranges). Each
checks the fast path against the scan (tests/credit/test_kpi_today.py `both`) or the reported figures
against each other. Runs on PostgreSQL too (the `settings` fixture makes these `db` tests)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.credit.test_customer_balances import BASE, START, at
from tests.credit.test_kpi_today import KpiBook, both, month_end
from workflows.batch.kpi_month_end import backfill_snapshots, post_kpi_snapshot
from workflows.credit import kpis
from workflows.credit.fx import RateInput, store_rate
from workflows.credit.kpi_periods import MONTH, QUARTER, period_end_on_or_before, previous_end, trend_ends
from workflows.credit.kpi_rates import KpiRatesMissing
from workflows.credit.kpi_snapshots import KpiSnapshot, snapshots_of
from workflows.credit.kpi_today import usable
from workflows.credit.models import Customer, Invoice
from workflows.credit.portfolio_balances import ensure_rolled
from workflows.credit.receivables import InvoiceInput, post_invoice
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def _edge_invoices(book: KpiBook, rolled: date, end: date) -> None:
    """Open invoices due exactly on every bucket edge the forward move reads: R, E, R-90, E-90 and a day
    either side, in two currencies (EUR and USD customers), posted after the roll (maintained rows)."""
    with transaction(book.factory) as session:
        ids = {c.currency: c.id for c in session.query(Customer).filter(Customer.id.in_(book.customers))}
        for base_day in (rolled, end, rolled - timedelta(days=90), end - timedelta(days=90)):
            for shift in (-1, 0, 1):
                due = base_day + timedelta(days=shift)
                for currency in ("EUR", "USD"):
                    book.numbers += 1
                    issued = min(due, end) - timedelta(days=10)
                    data = InvoiceInput(
                        ids[currency], f"EDGE-{book.numbers}", Decimal("1000.01"), currency, issued, due
                    )
                    post_invoice(session, data, actor="finance1", now=at(book.today))


@pytest.mark.parametrize("gap", [1, 3, 7])
def test_bucket_edges_and_postings_between_the_roll_and_the_end_equal_the_scan(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, gap: int
) -> None:
    """Tables rolled `gap` days before the end (R < E); then invoices due on R, E, R-90, E-90 (and a day
    either side), payments, credit notes, write-offs and settlements dated between R and E: the forward
    move equals the scan for the month and the quarter, and the fast path is taken."""
    book = KpiBook(session_factory, 40 + gap)
    steps = [book.invoice] * 5 + [book.payment] * 4 + [book.credit_note, book.write_off, book.settlement]
    for _ in range(40):
        book.rng.choice(steps)()
    end = month_end(book.today + timedelta(days=40))
    rolled = end - timedelta(days=gap)
    book.today = rolled
    with session_factory() as session:
        ensure_rolled(session, rolled, BASE)
    between = [book.payment] * 3 + [book.credit_note, book.write_off, book.settlement, book.specific]
    for day in range(1, gap + 1):
        book.today = rolled + timedelta(days=day)
        for _ in range(4):
            book.rng.choice(between)()
    _edge_invoices(book, rolled, end)
    with session_factory() as session:
        assert usable(session, end, BASE) == rolled
    for period in (MONTH, QUARTER):
        fast, scanned, used = both(session_factory, end, period, monkeypatch)
        assert used and fast == scanned, period


@pytest.mark.parametrize("dated", ["between", "end"])
def test_a_rate_posted_after_the_roll_for_a_day_up_to_the_end_sends_the_period_to_the_scan(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, dated: str
) -> None:
    """Tables rolled at R < E at R's rates; then a USD rate dated between R and E, or on E itself: the KPIs
    convert at E's rates, the tables' exposures do not, so the fast path must step aside (and the answer
    is the scan's)."""
    book = KpiBook(session_factory, 51)
    for _ in range(25):
        book.rng.choice([book.invoice, book.invoice, book.payment])()
    end = month_end(book.today + timedelta(days=40))
    rolled = end - timedelta(days=3)
    book.today = rolled
    with session_factory() as session:
        ensure_rolled(session, rolled, BASE)
    day = rolled + timedelta(days=1) if dated == "between" else end
    with transaction(session_factory) as session:
        store_rate(session, RateInput("USD", day, Decimal("1.4321"), "t"), actor="finance1", now=at(day))
    with session_factory() as session:
        assert usable(session, end, BASE) is None
    fast, scanned, used = both(session_factory, end, MONTH, monkeypatch)
    assert not used and fast == scanned


def test_a_bulk_statement_after_a_roll_before_the_end_sends_the_period_to_the_scan(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk UPDATE of due dates marks the tables stale (no per-row maintenance): R < E must not bridge
    stale buckets."""
    book = KpiBook(session_factory, 52)
    for _ in range(25):
        book.rng.choice([book.invoice, book.invoice, book.payment])()
    end = month_end(book.today + timedelta(days=40))
    rolled = end - timedelta(days=2)
    with session_factory() as session:
        ensure_rolled(session, rolled, BASE)
        assert usable(session, end, BASE) == rolled
    with transaction(session_factory) as session:
        session.execute(update(Invoice).values(due_date=end - timedelta(days=100)))
    with session_factory() as session:
        assert usable(session, end, BASE) is None
    fast, scanned, used = both(session_factory, end, MONTH, monkeypatch)
    assert not used and fast == scanned
    assert Decimal(fast["over_90_ratio"]["value"]) == Decimal("100.0")


@pytest.mark.parametrize("issued", [1, 2])
def test_an_invoice_issued_after_the_roll_up_to_the_end_is_counted(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, issued: int
) -> None:
    """Found by this module: the tables count an invoice from its issue day on (open_invoices: issue_date <=
    R), so one issued on E (or between R and E) after a roll at R < E was in neither the buckets nor the
    exposures: AR, current AR, the opening AR and the top ten were short of it (fast 52,678.54 vs scan
    52,703.22). The fast path now steps aside for it and the answer is the scan's."""
    book = KpiBook(session_factory, 55)
    for _ in range(20):
        book.rng.choice([book.invoice, book.invoice, book.payment])()
    end = month_end(book.today + timedelta(days=40))
    rolled = end - timedelta(days=2)
    book.today = rolled
    with session_factory() as session:
        ensure_rolled(session, rolled, BASE)
    book.today = rolled + timedelta(days=issued)
    book.invoice_on(book.today)
    for period in (MONTH, QUARTER):
        fast, scanned, _ = both(session_factory, end, period, monkeypatch)
        assert fast == scanned, period


def _store(session: Session, period: str, end: date, base: str, ar: str) -> None:
    """A snapshot with only what the opening AR reads (DSO's 'ar'), as an imported history would be."""
    session.add(
        KpiSnapshot(
            period=period,
            period_end=end,
            base_currency=base,
            kpis={"dso": {"value": None, "unit": "days", "ar": ar}},
            posted_by="import",
            posted_at=at(end + timedelta(days=1)),
        )
    )


def _opening(factory: sessionmaker[Session], end: date, period: str) -> str:
    with factory() as session:
        return str(kpis.period_kpis(session, [end], period, BASE)[end]["cei"]["ar_start"])


def test_the_opening_ar_comes_only_from_the_same_period_kind_and_base_currency(
    session_factory: sessionmaker[Session],
) -> None:
    """The previous month's end is also the previous quarter's end: a quarter snapshot (or a snapshot in
    another base currency) stored for that day must not open the month, and a month snapshot must not open
    the quarter; each opens only its own kind in its own base."""
    book = KpiBook(session_factory, 53)
    for _ in range(30):
        book.rng.choice([book.invoice, book.invoice, book.payment])()
    end = period_end_on_or_before(book.today + timedelta(days=95), QUARTER)  # a quarter (and month) end
    previous_month, previous_quarter = previous_end(end, MONTH), previous_end(end, QUARTER)
    computed_month, computed_quarter = (
        _opening(session_factory, end, MONTH),
        _opening(session_factory, end, QUARTER),
    )
    with transaction(session_factory) as session:
        _store(session, QUARTER, previous_month, BASE, "111.11")  # only a quarter end when it is one
        _store(session, MONTH, previous_month, "USD", "222.22")
        _store(session, QUARTER, previous_quarter, "USD", "333.33")
    assert _opening(session_factory, end, MONTH) == computed_month
    assert _opening(session_factory, end, QUARTER) == computed_quarter
    with transaction(session_factory) as session:
        _store(session, MONTH, previous_month, BASE, "444.44")
        if previous_quarter != previous_month:
            _store(session, QUARTER, previous_quarter, BASE, "555.55")
    assert _opening(session_factory, end, MONTH) == "444.44"
    assert _opening(session_factory, end, QUARTER) == (
        "555.55" if previous_quarter != previous_month else "111.11"
    )


def test_a_backfilled_trend_reconciles_period_to_period_and_equals_the_live_answer(
    session_factory: sessionmaker[Session],
) -> None:
    """The backfill stores a window in one run, oldest first: each stored period's opening AR is the AR the
    period before it stored, and the stored figures equal what GET /api/kpis computed live before (no
    difference between a previous period computed in the same call and one read from its snapshot)."""
    book = KpiBook(session_factory, 54)
    steps = [book.invoice] * 5 + [book.payment] * 4 + [book.credit_note, book.write_off, book.rate, book.move]
    for _ in range(70):
        book.rng.choice(steps)()
    last = month_end(book.today) - timedelta(days=31)
    last = month_end(last)
    with session_factory() as session:
        live = {p: kpis.compute_kpis(session, last, p, BASE) for p in (MONTH, QUARTER)}
    summary = backfill_snapshots(session_factory, BASE, last, actor="system", now=at(book.today))
    assert "missing_rates" not in summary, summary
    for period in (MONTH, QUARTER):
        with session_factory() as session:
            ends = [date.fromisoformat(e) for e in summary["snapshots"][period]]
            stored = snapshots_of(session, period, BASE, ends)
        ordered = sorted(stored)
        assert len(ordered) >= 2, (period, ordered)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if previous_end(after, period) == before:
                assert stored[after]["cei"]["ar_start"] == stored[before]["dso"]["ar"], (period, after)
        for entry in live[period]["kpis"]["cei"]["trend"]:
            end = date.fromisoformat(entry["period_end"])
            if end in stored:
                assert stored[end]["cei"]["value"] == entry["value"], (period, end)


def _usd_book(factory: sessionmaker[Session], rates_from: date, issued: date) -> int:
    with transaction(factory) as session:
        row = Customer(
            name="Late rates",
            external_id="H2-LATE",
            currency="USD",
            grade="B",
            region="US",
            industry="retail",
            sales_owner="sales1",
            key_customer=False,
            created_at=at(START),
            updated_at=at(START),
        )
        session.add(row)
        session.flush()
        data = InvoiceInput(row.id, "H2-1", Decimal("500.00"), "USD", issued, issued + timedelta(days=30))
        post_invoice(session, data, actor="finance1", now=at(issued))
        store_rate(
            session, RateInput("USD", rates_from, Decimal("0.9"), "t"), actor="finance1", now=at(rates_from)
        )
        return row.id


def test_the_trend_s_first_opening_before_the_first_rate_is_a_409_naming_that_day(
    session_factory: sessionmaker[Session],
) -> None:
    """USD AR open at the start of the trend's first period, USD rates only from later: the first period's
    opening AR is the AR the period before reports, at that period end's rate, which does not exist. The
    answer is a 409 naming the day and the currency (never a guessed rate, never a 500), and one rate
    posted for that day makes it a 200."""
    as_of = date(2027, 3, 31)
    first_start = previous_end(trend_ends(as_of, MONTH)[0], MONTH)
    _usd_book(session_factory, first_start + timedelta(days=1), first_start - timedelta(days=5))
    with session_factory() as session, pytest.raises(KpiRatesMissing) as raised:
        kpis.compute_kpis(session, as_of, MONTH, BASE)
    assert raised.value.details["missing_rates"] == {first_start.isoformat(): ["USD"]}
    assert f"({first_start.isoformat()}: USD)" in raised.value.message
    with transaction(session_factory) as session:
        store_rate(
            session,
            RateInput("USD", first_start, Decimal("0.95"), "t"),
            actor="finance1",
            now=at(first_start),
        )
    with session_factory() as session:
        answer: Any = kpis.compute_kpis(session, as_of, MONTH, BASE)
        first_end = trend_ends(as_of, MONTH)[0]
        first = kpis.period_kpis(session, [first_end], MONTH, BASE)[first_end]
    assert answer["kpis"]["cei"]["trend"][0]["period_end"] == first_end.isoformat()
    assert first["cei"]["ar_start"] == "475.00"  # 500 USD at the day's 0.95, not the first end's 0.9


def test_a_backfill_refuses_the_period_whose_opening_has_no_rate_and_stores_it_once_one_is_posted(
    session_factory: sessionmaker[Session],
) -> None:
    """USD AR from April, USD rates from mid-June: April and May are refused (no rate at their ends), June
    too (its opening is May's AR, at May's end's rate: none), naming May's end; July is stored, opened at
    June's end's rate; the quarter ending in June opens with nothing in USD and is stored. Once a rate is
    posted for April, a second run stores April to June, and June's AR is July's stored opening AR."""
    _usd_book(session_factory, date(2026, 6, 15), date(2026, 4, 10))
    last = date(2026, 7, 31)
    first = backfill_snapshots(session_factory, BASE, last, actor="system", now=at(date(2026, 8, 1)))
    assert first["missing_rates"] == {
        "2026-04-30": ["USD"],
        "2026-05-31": ["USD"],
        "2026-06-30": ["USD"],
    }
    assert first["snapshots"] == {MONTH: ["2026-07-31"], QUARTER: ["2026-06-30"]}
    with session_factory() as session:
        july = snapshots_of(session, MONTH, BASE, [last])[last]
    assert july["cei"]["ar_start"] == july["dso"]["ar"] == "450.00"  # 500 USD at June's 0.9
    with transaction(session_factory) as session:
        april = date(2026, 4, 1)
        store_rate(session, RateInput("USD", april, Decimal("0.8"), "t"), actor="finance1", now=at(april))
    second = backfill_snapshots(session_factory, BASE, last, actor="system", now=at(date(2026, 8, 2)))
    assert "missing_rates" not in second
    june = date(2026, 6, 30)
    with session_factory() as session:
        stored = snapshots_of(session, MONTH, BASE, [date(2026, 4, 30), date(2026, 5, 31), june])
    assert stored[date(2026, 4, 30)]["cei"]["ar_start"] == "0.00"
    assert stored[date(2026, 5, 31)]["cei"]["ar_start"] == stored[date(2026, 4, 30)]["dso"]["ar"] == "400.00"
    assert stored[june]["cei"]["ar_start"] == "400.00"  # May's AR at May's 0.8
    assert stored[june]["dso"]["ar"] == july["cei"]["ar_start"]


def test_before_the_roll_with_the_previous_periods_stored_the_fast_path_equals_the_scan(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both changes at once: the previous month and quarter stored (the fast path skips the opening moves)
    and the tables rolled two days before the end, postings in between; then a payment dated back into the
    stored quarter: the opening stays the snapshot's, on both paths."""
    book = KpiBook(session_factory, 56)
    steps = [book.invoice] * 5 + [book.payment] * 4 + [book.credit_note, book.write_off, book.specific]
    for _ in range(40):
        book.rng.choice(steps)()
    previous = period_end_on_or_before(book.today + timedelta(days=92), QUARTER)
    book.today = previous + timedelta(days=1)
    end = period_end_on_or_before(previous + timedelta(days=95), QUARTER)
    with transaction(session_factory) as session:
        for period in (MONTH, QUARTER):
            post_kpi_snapshot(session, period, previous_end(end, period), base=BASE, actor="s", now=at(end))
    book.today = end - timedelta(days=2)
    with session_factory() as session:
        ensure_rolled(session, book.today, BASE)
    between = [book.payment] * 3 + [book.credit_note, book.write_off, book.settlement]
    for day in (1, 2):
        book.today = end - timedelta(days=2) + timedelta(days=day)
        for _ in range(5):
            book.rng.choice(between)()
    book.today = previous  # a payment valued in the stored quarter, posted now
    book.payment()
    with session_factory() as session:
        assert usable(session, end, BASE) == end - timedelta(days=2)
        stored = snapshots_of(session, QUARTER, BASE, [previous])[previous]
    for period in (MONTH, QUARTER):
        fast, scanned, used = both(session_factory, end, period, monkeypatch)
        assert used and fast == scanned, period
        if period == QUARTER:
            assert fast["cei"]["ar_start"] == stored["dso"]["ar"]
