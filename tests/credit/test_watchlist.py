"""The early-warning watchlist (issue 17): each indicator of bpmn/early_warning.dmn fires on a book built for
it and not on a clean customer; entries clear and keep their history; the daily job changes nothing the
second time the same day; the weekly summary reaches the credit managers once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.registry import build_operations
from tests.collections_desk import Collections
from tests.helpers import auth
from tests.smtp import RecordingSink
from workflows.batch.jobs import DAILY_JOBS, tick
from workflows.batch.watchlist_run import watchlist_run
from workflows.credit.disputes import Dispute, DisputeLine
from workflows.credit.fx import FxRate
from workflows.credit.limit_review import record_rating
from workflows.credit.models import Customer, DunningCase, Invoice, InvoiceStatus
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.credit.watchlist import EntryFilter, WatchlistEntry, list_entries, open_entries
from workflows.credit.watchlist_rules import INPUTS, Rules
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.engine.decisions import evaluate_decision
from workflows.engine.runner import Runtime
from workflows.mail.smtp import mailer_for
from workflows.settings import BPMN_DIR
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, OutboxEmail

pytestmark = pytest.mark.usefixtures("shipped")

TODAY = date(2026, 3, 2)  # a Monday: the summary's weekday
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FAR = date(2026, 12, 31)  # not due for long


@dataclass
class Book:
    session: Session
    n: int = 0

    def customer(
        self, name: str, *, limit: str = "0", grade: str | None = None, currency: str = "EUR"
    ) -> int:
        row = Customer(
            name=name,
            currency=currency,
            credit_limit=Decimal(limit),
            grade=grade,
            sales_owner="sales1" if name.startswith("owned") else None,
            created_at=NOW - timedelta(days=900),
            updated_at=NOW - timedelta(days=900),
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def invoice(
        self,
        customer_id: int,
        amount: str,
        *,
        due: date = FAR,
        issued: date = date(2025, 1, 1),
        paid: date | None = None,
        currency: str = "EUR",
    ) -> int:
        self.n += 1
        row = Invoice(
            customer_id=customer_id,
            number=f"W-{self.n}",
            amount=Decimal(amount),
            open_amount=Decimal("0.00") if paid else Decimal(amount),
            currency=currency,
            issue_date=issued,
            due_date=due,
            status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
            paid_date=paid,
            created_at=NOW - timedelta(days=400),
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def fillers(self) -> None:
        """Twelve customers of 10,000.00 each: no customer the test builds holds 10 % of the book."""
        for i in range(12):
            self.invoice(self.customer(f"filler{i}"), "10000.00")

    def promise(self, customer_id: int, status: str, judged: datetime) -> None:
        case = DunningCase(customer_id=customer_id, currency="EUR", opened_at=judged - timedelta(days=30))
        self.session.add(case)
        self.session.flush()
        self.session.add(
            DunningPromise(
                case_id=case.id,
                promised_date=judged.date() - timedelta(days=3),
                amount=Decimal("100.00"),
                currency="EUR",
                overdue=Decimal("100.00"),
                status=status,
                outside=[],
                recorded_by="collector1",
                recorded_at=judged - timedelta(days=10),
                judged_at=judged,
            )
        )

    def dispute(self, customer_id: int, invoice_id: int) -> None:
        dispute = Dispute(
            customer_id=customer_id,
            owner_group="sales",
            currency="EUR",
            disputed_amount=Decimal("10.00"),
            raised_by="collector1",
            opened_at=NOW - timedelta(days=5),
        )
        self.session.add(dispute)
        self.session.flush()
        self.session.add(
            DisputeLine(
                dispute_id=dispute.id,
                invoice_id=invoice_id,
                invoice_number="-",
                amount=Decimal("10.00"),
                reason="price",
            )
        )


def runtime(app: Flask) -> Runtime:
    rt: Runtime = app.extensions["creditflow"].rt
    return rt


def rating(session: Session, customer_id: int, value: str, day: date) -> None:
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    body = {"agency": "S&P", "rating": value, "date": day.isoformat()}
    record_rating(session, customer_id, body, actor="analyst1", now=at)


def build_book(app: Flask) -> dict[str, int]:
    """One customer per indicator, a clean one, and twelve of equal size so that no single one of them
    holds more than 10 % of the book."""
    ids: dict[str, int] = {}
    with transaction(runtime(app).factory) as session:
        session.add(
            FxRate(
                currency="GBP",
                day=date(2026, 1, 1),
                rate=Decimal("1.17"),
                created_by="finance1",
                created_at=NOW,
            )
        )
        b = Book(session)
        b.fillers()
        ids["utilisation"] = c = b.customer("util", limit="1000")
        b.invoice(c, "950.00")  # 95.0 %
        ids["over_limit"] = c = b.customer("over", limit="1000")
        b.invoice(c, "1000.00", currency="GBP")  # 1,170.00 EUR: 117.0 %
        ids["dbt_rising"] = c = b.customer("dbt")
        # Paid 1, 5, 10 and 20 days late in November, December, January and February: three rises.
        for due, late in (
            (date(2025, 11, 10), 1),
            (date(2025, 12, 10), 5),
            (date(2026, 1, 10), 10),
            (date(2026, 2, 5), 20),
        ):
            b.invoice(c, "100.00", due=due, paid=due + timedelta(days=late))
        ids["first_late_payment"] = c = b.customer("firstlate", grade="A")
        b.invoice(c, "100.00", due=date(2026, 1, 10), paid=date(2026, 1, 10))  # on time
        b.invoice(c, "100.00", due=date(2026, 2, 20))  # open, 10 days past due: the first time late
        ids["broken_promise"] = c = b.customer("broken")
        b.promise(c, PromiseStatus.BROKEN, NOW - timedelta(days=4))
        ids["rating_downgrade"] = c = b.customer("downgraded")
        rating(session, c, "BBB", date(2025, 6, 1))
        rating(session, c, "BB+", date(2026, 2, 1))
        ids["dispute_rate"] = c = b.customer("disputes")
        b.invoice(c, "10.00", issued=date(2026, 2, 1))
        b.dispute(c, b.invoice(c, "10.00", issued=date(2026, 2, 1)))  # 1 of 2: 50 %
        ids["concentration"] = c = b.customer("big")
        b.invoice(c, "20000.00")  # 20,000 of about 142,000: 14 %
        # Clean: within its limit, paid on time, a kept promise, upgraded, no dispute, a grade B payer.
        ids["clean"] = c = b.customer("owned-clean", limit="10000", grade="B")
        b.invoice(c, "1000.00")
        for due in (date(2025, 11, 10), date(2025, 12, 10), date(2026, 1, 10), date(2026, 2, 5)):
            b.invoice(c, "100.00", due=due, paid=due, issued=date(2026, 1, 5))
        b.promise(c, PromiseStatus.KEPT, NOW - timedelta(days=4))
        rating(session, c, "BB", date(2025, 6, 1))
        rating(session, c, "BBB-", date(2026, 2, 1))
    return ids


def fired(app: Flask) -> dict[int, set[str]]:
    with runtime(app).factory() as session:
        entries = session.scalars(select(WatchlistEntry).where(WatchlistEntry.cleared_at.is_(None)))
        return {e.customer_id: {i["indicator"] for i in e.indicators} for e in entries}


def test_each_indicator_fires_on_its_customer_and_none_on_a_clean_one(app: Flask) -> None:
    ids = build_book(app)
    summary = watchlist_run(runtime(app), TODAY, NOW)
    assert summary["opened"] == 8 and summary["rules"].startswith(
        "early_warning.dmn of credit_limit_review v"
    )
    found = fired(app)
    expected = {
        ids["utilisation"]: {"utilisation"},
        ids["over_limit"]: {"utilisation", "over_limit"},
        ids["dbt_rising"]: {"dbt_rising"},
        ids["first_late_payment"]: {"first_late_payment"},
        ids["broken_promise"]: {"broken_promise"},
        ids["rating_downgrade"]: {"rating_downgrade"},
        ids["dispute_rate"]: {"dispute_rate"},
        ids["concentration"]: {"concentration"},
    }
    assert found == expected  # the clean customer and the twelve fillers are not listed
    with runtime(app).factory() as session:
        over = session.scalar(select(WatchlistEntry).where(WatchlistEntry.customer_id == ids["over_limit"]))
        assert over is not None
        # The strongest action wins; the measure of each indicator is kept with it.
        assert (over.action, over.severity, over.owner) == ("credit_hold", "high", "credit_manager")
        assert {i["indicator"]: i["measure"] for i in over.indicators} == {
            "utilisation": "117.0",
            "over_limit": "117.0",
        }
        late = session.scalar(
            select(WatchlistEntry).where(WatchlistEntry.customer_id == ids["first_late_payment"])
        )
        assert late is not None and late.action == "call" and late.indicators[0]["measure"] == "9"
        top = open_entries(session, limit=3)
        assert [e["action"] for e in top][0] == "credit_hold" and len(top) == 3


def test_entries_clear_keep_their_history_and_a_reflag_opens_a_new_one(app: Flask) -> None:
    rt = runtime(app)
    with transaction(rt.factory) as session:
        b = Book(session)
        b.fillers()
        customer = b.customer("owned-util", limit="1000")
        invoice = b.invoice(customer, "950.00")
    watchlist_run(rt, TODAY, NOW)
    with transaction(rt.factory) as session:  # paid down to 500: no indicator fires the next day
        row = session.get(Invoice, invoice)
        assert row is not None
        row.open_amount = Decimal("500.00")
    later = NOW + timedelta(days=1)
    assert watchlist_run(rt, TODAY + timedelta(days=1), later)["cleared"] == 1
    with transaction(rt.factory) as session:
        row = session.get(Invoice, invoice)
        assert row is not None
        row.open_amount = Decimal("990.00")
    again = NOW + timedelta(days=2)
    assert watchlist_run(rt, TODAY + timedelta(days=2), again)["opened"] == 1
    with rt.factory() as session:
        every, total = list_entries(session, EntryFilter(status="all", customer_id=customer))
        assert total == 2
        assert [(e["status"], e["owner"]) for e in every] == [("open", "sales1"), ("cleared", "sales1")]
        assert every[1]["cleared_at"] == later.isoformat() and every[0]["opened_at"] == again.isoformat()
        measures = [e["indicators"][0]["measure"] for e in every]
        assert measures == ["99.0", "95.0"]
        cleared, _ = list_entries(session, EntryFilter(status="cleared", indicator="utilisation"))
        assert [e["customer_id"] for e in cleared] == [customer]
        assert list_entries(session, EntryFilter(status="all", indicator="over_limit"))[1] == 0


def test_the_daily_job_run_twice_the_same_day_changes_nothing(app: Flask) -> None:
    rt = runtime(app)
    build_book(app)
    first = watchlist_run(rt, TODAY, NOW)
    with rt.factory() as session:
        before = [
            (e.id, e.indicators, e.action, e.cleared_at) for e in session.scalars(select(WatchlistEntry))
        ]
    second = watchlist_run(rt, TODAY, NOW + timedelta(hours=3))
    assert (first["opened"], second["opened"], second["updated"], second["cleared"]) == (8, 0, 0, 0)
    with rt.factory() as session:
        after = [
            (e.id, e.indicators, e.action, e.cleared_at) for e in session.scalars(select(WatchlistEntry))
        ]
        events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "watchlist_evaluated")
        )
    assert after == before and events == 1


def test_the_weekly_summary_reaches_the_credit_managers_once(
    app: Flask, demo_tokens: dict[str, str], smtp_sink: RecordingSink
) -> None:
    rt = runtime(app)
    build_book(app)
    mailer = mailer_for(rt.settings.mail, smtp_sink.port)
    jobs = {"watchlist_run": DAILY_JOBS["watchlist_run"]}
    tick(rt, mailer, NOW, jobs=jobs)
    assert watchlist_run(rt, TODAY, NOW + timedelta(hours=1))["summary_email"] is None  # once a week
    tick(rt, mailer, NOW + timedelta(hours=2), jobs=jobs)
    tuesday = NOW + timedelta(days=1)
    assert watchlist_run(rt, tuesday.date(), tuesday)["summary_email"] is None  # not its weekday
    tick(rt, mailer, tuesday, jobs=jobs)
    summaries = [m for m in smtp_sink.messages if str(m["Subject"]).startswith("Watchlist 2026-W10")]
    assert len(summaries) == 1
    (message,) = summaries
    assert str(message["Subject"]) == "Watchlist 2026-W10: 8 open, 8 new, 0 cleared"
    with rt.factory() as session:
        (row,) = session.scalars(select(OutboxEmail).where(OutboxEmail.template == "watchlist_summary"))
    assert row.to == "manager1@example.com" and row.status == "sent"
    # Actions and indicators by the names the watchlist page gives them, not their codes (R21 F-10).
    assert "credit hold 1, call 3, review 4" in row.body_text
    assert (
        "- over (customer " in row.body_text and "): credit hold; utilisation, over limit;" in row.body_text
    )


def test_no_weekly_summary_when_the_watchlist_is_empty_and_did_not_change(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    """An empty watchlist sends no Monday mail (it broke the countersignature test's count of reminders)."""
    rt = runtime(app)
    assert TODAY.weekday() == 0  # the summary weekday
    result = watchlist_run(rt, TODAY, NOW)
    assert result["summary_email"] is None
    with rt.factory() as session:
        queued = session.scalar(
            select(func.count()).select_from(OutboxEmail).where(OutboxEmail.template == "watchlist_summary")
        )
    assert queued == 0


def test_a_table_that_answers_an_unknown_action_is_refused_at_deploy(app: Flask, tmp_path: Path) -> None:
    (bundle,) = [b for b in shipped_bundles() if b[0].stem == "credit_limit_review"]
    files = read_files(bundle)
    assert "early_warning.dmn" in files
    broken = (BPMN_DIR / "early_warning.dmn").read_text(encoding="utf-8").replace('"credit_hold"', '"hold"')
    files["early_warning.dmn"] = broken.encode()
    with transaction(runtime(app).factory) as session, pytest.raises(InvalidBundle) as refused:
        deploy_files(session, files, build_operations(), deployed_by="owner1", now=NOW)
    assert "gives action 'hold' for over_limit" in str(refused.value)


def test_a_broken_promise_flags_the_customer_when_it_is_judged(desk: Collections) -> None:
    customer = desk.customer("Promise Breakers")
    desk.invoice(customer, "INV-W1", "900.00")
    for _ in range(5):
        desk.tick()
    promised = desk.clock.now.date() + timedelta(days=30)
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": promised.isoformat(), "amount": "900.00"},
    }
    reached = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    assert len(reached.json["delivered_to"]) == 1
    for _ in range(36):
        desk.tick()
    assert "promise_broken" in [e["kind"] for e in desk.case(customer)["history"]]
    rt = runtime(desk.client.application)
    with rt.factory() as session:
        (entry,) = session.scalars(select(WatchlistEntry).where(WatchlistEntry.customer_id == customer))
        assert "broken_promise" in {i["indicator"] for i in entry.indicators} and entry.action == "call"
        # Flagged by the judging step itself (an evaluation of this customer alone), not only daily.
        scoped = [
            e.detail
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "watchlist_evaluated"))
            if e.detail.get("customer_ids") == [customer]
        ]
    assert scoped and scoped[-1]["open"] == 1


def test_cell_by_cell_evaluation_answers_as_the_dmn_engine_does() -> None:
    """Rules caches each cell's answer by the values it reads; on a grid around every threshold it fires
    exactly what SpiffWorkflow's whole-table evaluation (evaluate_decision) collects."""
    text = (BPMN_DIR / "early_warning.dmn").read_text(encoding="utf-8")
    rules = Rules(text, "early_warning.dmn")
    numbers: list[Any] = [None, 0, 2, 3, Decimal("4.9"), 5, Decimal("9.99"), 10, Decimal("10.01"), 29, 30, 31]
    numbers += [Decimal("89.9"), 90, 91, 100, Decimal("100.1"), 150]
    compared = 0
    for grade in (None, "A", "B", "C"):
        for value in numbers:
            for normal in (0, Decimal("2.5"), 10):
                signals: dict[str, Any] = dict.fromkeys(INPUTS, value) | {
                    "grade": grade,
                    "dbt_rising_months": 0 if value is None else value,
                    "normal_dispute_rate_percent": normal,
                    "concentration_cap_percent": Decimal(10),  # concentration_cap.dmn as shipped
                }
                expected = evaluate_decision(text, "early_warning", signals)
                got = rules.fired(signals)
                assert [f.indicator for f in got] == expected.get("indicator", []), signals
                assert [f.action for f in got] == expected.get("action", []), signals
                compared += 1
    assert compared == 216 and len(rules._cells) < compared * 3  # noqa: SLF001 - the cache is the point


def test_the_list_pages_entries_with_equal_sort_keys_by_id_and_counts_them(app: Flask) -> None:
    """The page query sorts and pages ids only, then reads the rows: the order stays open first, the
    strongest action, the newest, the highest id on equal keys, and no entry is lost or repeated across
    pages of every size, with each filter."""
    ranks = {"review": 0, "call": 1, "credit_hold": 2}
    earlier = NOW - timedelta(days=3)
    with transaction(runtime(app).factory) as session:
        b = Book(session)
        # Open and cleared entries sharing actions and opening times, so only the id breaks the ties.
        for i, (action, opened, cleared) in enumerate(
            [
                ("call", NOW, None),
                ("credit_hold", earlier, None),
                ("call", NOW, None),
                ("review", NOW, None),
                ("credit_hold", earlier, None),
                ("call", earlier, NOW),
                ("call", earlier, NOW),
                ("credit_hold", NOW, None),
                ("review", earlier, None),
                ("call", NOW, None),
                ("credit_hold", earlier, NOW),
            ]
        ):
            customer = b.customer(f"owned-tie{i}" if i % 3 == 0 else f"tie{i}")
            session.add(
                WatchlistEntry(
                    customer_id=customer,
                    owner="sales1" if i % 3 == 0 else "credit_manager",
                    indicators=[{"indicator": "utilisation", "severity": "high", "action": action}],
                    indicator_names=",utilisation," if i % 2 else ",utilisation,over_limit,",
                    action=action,
                    severity="high",
                    rules="early_warning.dmn of credit_limit_review v1",
                    opened_at=opened,
                    evaluated_on=TODAY,
                    cleared_at=cleared,
                )
            )
    with runtime(app).factory() as session:
        entries = list(session.scalars(select(WatchlistEntry)))
        owners = dict(session.execute(select(Customer.id, Customer.sales_owner)).all())
        for flt, keep in (
            (EntryFilter(status="all"), lambda e: True),
            (EntryFilter(status="open"), lambda e: e.cleared_at is None),
            (EntryFilter(status="cleared"), lambda e: e.cleared_at is not None),
            (EntryFilter(status="all", indicator="over_limit"), lambda e: "over_limit" in e.indicator_names),
            (EntryFilter(status="all", owner="credit_manager"), lambda e: e.owner == "credit_manager"),
            (EntryFilter(status="all", sales_owner="sales1"), lambda e: owners[e.customer_id] == "sales1"),
        ):
            expected = [
                e.id
                for e in sorted(
                    (e for e in entries if keep(e)),
                    key=lambda e: (
                        e.cleared_at is not None,
                        -ranks[e.action],
                        -e.opened_at.timestamp(),
                        -e.id,
                    ),
                )
            ]
            assert len(expected) >= 3, flt
            whole, total = list_entries(session, flt, per_page=100)
            assert [row["id"] for row in whole] == expected and total == len(expected), flt
            for size in (1, 2, 4):
                paged = []
                for page in range(1, len(expected) // size + 3):  # one page past the end: empty
                    rows, total = list_entries(session, flt, page=page, per_page=size)
                    assert total == len(expected) and len(rows) <= size
                    paged += [row["id"] for row in rows]
                assert paged == expected, (flt, size)
            by_id = {e.id: e for e in entries}
            assert all(row["customer_name"] and row["action"] == by_id[row["id"]].action for row in whole)
