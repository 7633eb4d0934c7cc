"""A credit book for the cockpit benchmark (issue 17), bulk-inserted without engine steps or handlers.

`seed_cockpit_book(url, customers, invoices)` rebuilds the database (benchmarks/fresh_db.py: schema, demo
users, shipped diagrams) and writes, in chunks of customers, one transaction each:
- customers in EUR (60 %, regions EU and US), GBP (25 %, UK) and CNY (15 %, CN); grades A-E
  (15/30/30/15/10 %), twelve industries, twenty sales owners, payment terms 30-90 days, a credit limit
  near a quarter's sales;
- invoices spread over the 13 months before today (issue date uniform, due = issue + terms), amounts
  log-normal (median about 1,500 EUR in the customer's currency) and customer sizes Pareto-distributed, so
  the top exposures stand out;
- payments with one allocation each: an invoice is paid when its grade's odds say so and its grade's delay
  (A early ... E two months late) has passed by today: about 60 % of invoices end paid; a tenth of the
  other overdue ones are partly paid;
- 1 % of the open invoices got a credit note (a credited dispute with its line), 0.5 % are held by an open
  dispute; uncollectable write-offs (request, write-off lines) for a fifth of grade E's invoices more than
  180 days overdue;
- an active dunning case for 30 % of the customers with an invoice more than a week overdue (levels 1-4),
  a tenth of them with an open promise;
- daily GBP and CNY rates to EUR (workflows/credit/fx.py's table) from 14 months back.
Money is written as integer hundredths straight into the Decimal2 columns (their storage), so no Decimal
is built per row; PostgreSQL gets COPY, SQLite executemany. Everything is seeded from random.Random(17)
relative to today, so the KPIs of the current month are meaningful against a real clock.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import JSON, BigInteger, Column, Connection, MetaData, Table, insert, text  # noqa: E402

from benchmarks.fresh_db import fresh_database  # noqa: E402
from workflows.credit.disputes import CreditNote, Dispute, DisputeLine  # noqa: E402
from workflows.credit.fx import Decimal10, FxRate  # noqa: E402
from workflows.credit.models import (  # noqa: E402
    Customer,
    DunningCase,
    Invoice,
    Payment,
    PaymentAllocation,
)
from workflows.credit.promises import DunningPromise  # noqa: E402
from workflows.credit.write_offs import WriteOff, WriteOffRequest  # noqa: E402
from workflows.store.models import Decimal2  # noqa: E402

TODAY = datetime.now(UTC).date()
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0, tzinfo=UTC)
HISTORY_DAYS = 396  # 13 months of invoices
CHUNK = 5_000  # customers per transaction

CURRENCIES = {"EUR": 0.60, "GBP": 0.25, "CNY": 0.15}
EUR_PER = {"EUR": 1.0, "GBP": 1.16, "CNY": 0.128}  # start of the random walk of the stored rates
GRADES = {"A": 0.15, "B": 0.30, "C": 0.30, "D": 0.15, "E": 0.10}
# grade: (share of invoices paid in the end, mean days paid after due, spread)
BEHAVIOUR = {
    "A": (0.92, -1, 5),
    "B": (0.85, 5, 10),
    "C": (0.75, 12, 15),
    "D": (0.60, 30, 25),
    "E": (0.40, 60, 40),
}
INDUSTRIES = [
    "automotive", "chemicals", "construction", "electronics", "food", "logistics",
    "machinery", "pharma", "retail", "software", "textiles", "utilities",
]  # fmt: skip
SALES_OWNERS = [f"sales{n}" for n in range(1, 21)]
TERMS = [30, 30, 45, 60, 90]
REASONS = ["price", "quantity", "quality", "delivery", "duplicate"]

TABLES = {
    name: model.__table__
    for name, model in {
        "customers": Customer,
        "invoices": Invoice,
        "payments": Payment,
        "payment_allocations": PaymentAllocation,
        "disputes": Dispute,
        "dispute_lines": DisputeLine,
        "credit_notes": CreditNote,
        "write_off_requests": WriteOffRequest,
        "write_offs": WriteOff,
        "dunning_cases": DunningCase,
        "dunning_promises": DunningPromise,
        "fx_rates": FxRate,
    }.items()
}


def _raw(table: Any) -> Table:
    """The table with its money and rate columns as the integers they are stored as."""
    columns = [
        Column(c.name, BigInteger() if isinstance(c.type, (Decimal2, Decimal10)) else c.type)
        for c in table.columns
    ]
    return Table(table.name, MetaData(), *columns)


RAW = {name: _raw(table) for name, table in TABLES.items()}


def _complete(name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every column: the model's scalar defaults (money scaled to hundredths), else NULL.

    Columns added later by other migrations (with a default) are filled too, so the seed keeps working."""
    table = TABLES[name]
    missing: dict[str, Any] = {}
    for column in table.columns:
        if column.name in rows[0] or column.primary_key:
            continue
        value = column.default.arg if column.default is not None and column.default.is_scalar else None
        if value is not None and isinstance(column.type, Decimal2):
            value = int(value * 100)
        missing[column.name] = value
    if missing:
        for row in rows:
            row.update(missing)
    return rows


def bulk_insert(conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    rows = _complete(name, rows)
    table = RAW[name]
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns]
            )


def cents(value: float) -> int:
    return max(1, int(round(value * 100)))


# --- the book --------------------------------------------------------------------------------------------


class Book:
    """Generates the rows chunk by chunk; ids are given explicitly so rows can refer to each other."""

    def __init__(self, customers: int, invoices: int) -> None:
        self.rng = random.Random(17)
        self.customers = customers
        self.ids = Counter[str]()
        self.counts = self._invoice_counts(customers, invoices)
        self.stats = Counter[str]()

    def _invoice_counts(self, customers: int, invoices: int) -> list[int]:
        """Invoices per customer: at least one each, the rest by a Pareto-distributed size."""
        sizes = [min(200.0, self.rng.paretovariate(1.3)) for _ in range(customers)]
        counts = [1] * customers
        for c, n in Counter(
            self.rng.choices(range(customers), sizes, k=max(0, invoices - customers))
        ).items():
            counts[c] += n
        return counts

    def next_id(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    def chunks(self) -> Iterator[dict[str, list[dict[str, Any]]]]:
        for start in range(0, self.customers, CHUNK):
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES if name != "fx_rates"}
            for c in range(start, min(self.customers, start + CHUNK)):
                self._customer(c, rows)
            yield rows

    def _customer(self, c: int, rows: dict[str, list[dict[str, Any]]]) -> None:
        rng = self.rng
        cid = c + 1
        currency = rng.choices(list(CURRENCIES), list(CURRENCIES.values()))[0]
        region = {"EUR": "EU" if rng.random() < 0.9 else "US", "GBP": "UK", "CNY": "CN"}[currency]
        grade = rng.choices(list(GRADES), list(GRADES.values()))[0]
        terms = rng.choice(TERMS)
        scale = 1 / EUR_PER[currency]
        since = TODAY - timedelta(days=rng.randrange(HISTORY_DAYS, 4000))
        open_overdue: list[dict[str, Any]] = []
        volume = 0
        for _ in range(self.counts[c]):
            invoice = self._invoice(cid, currency, grade, terms, scale, rows)
            volume += invoice["amount"]
            if invoice["status"] == "open" and invoice["due_date"] < TODAY - timedelta(days=7):
                open_overdue.append(invoice)
        quarter_sales = volume * 90 // HISTORY_DAYS
        rows["customers"].append(
            dict(
                id=cid,
                external_id=f"ERP-{cid:07d}",
                name=f"Customer {cid:06d} {rng.choice(['Ltd', 'GmbH', 'S.p.A.', 'Inc', 'SARL', 'Co.'])}",
                email=f"ap{cid}@customers.example",
                industry=rng.choice(INDUSTRIES),
                currency=currency,
                sales_owner=rng.choice(SALES_OWNERS),
                region=region,
                customer_since=since,
                grade=grade,
                score={"A": 85, "B": 72, "C": 60, "D": 45, "E": 30}[grade] + rng.randrange(-4, 5),
                score_valid_to=TODAY + timedelta(days=rng.randrange(1, 365)),
                credit_limit=max(100_000, int(round(quarter_sales * rng.uniform(0.8, 1.6), -5))),
                credit_balance=0,
                next_review_date=TODAY + timedelta(days=rng.randrange(-30, 365)),
                blocked=grade == "E" and rng.random() < 0.2,
                created_at=NOW - timedelta(days=(TODAY - since).days),
                updated_at=NOW - timedelta(days=rng.randrange(0, 90)),
            )
        )
        self._write_offs(cid, currency, grade, open_overdue, rows)
        still_open = [i for i in open_overdue if i["status"] == "open"]
        if still_open and rng.random() < 0.3:
            self._dunning_case(cid, currency, grade, still_open, rows)

    def _invoice(
        self,
        cid: int,
        currency: str,
        grade: str,
        terms: int,
        scale: float,
        rows: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        rng = self.rng
        iid = self.next_id("invoices")
        issued = TODAY - timedelta(days=rng.randrange(0, HISTORY_DAYS))
        due = issued + timedelta(days=terms)
        amount = cents(rng.lognormvariate(7.3, 1.0) * scale)
        share, delay, spread = BEHAVIOUR[grade]
        paid_on = due + timedelta(days=max(-terms + 1, int(rng.gauss(delay, spread))))
        invoice = dict(
            id=iid,
            customer_id=cid,
            number=f"INV-{iid:08d}",
            amount=amount,
            open_amount=amount,
            currency=currency,
            issue_date=issued,
            due_date=due,
            status="open",
            paid_date=None,
            disputed_amount=0,
            created_at=NOW - timedelta(days=(TODAY - issued).days),
        )
        rows["invoices"].append(invoice)
        if rng.random() < share and paid_on < TODAY:
            self._payment(invoice, amount, paid_on, rows)
            invoice.update(open_amount=0, status="paid", paid_date=paid_on)
            self.stats["paid"] += 1
        elif due < TODAY and rng.random() < 0.1:  # partly paid
            part = int(amount * rng.uniform(0.2, 0.8))
            on = min(TODAY - timedelta(days=1), due + timedelta(days=rng.randrange(0, 30)))
            self._payment(invoice, part, on, rows)
            invoice["open_amount"] = amount - part
            self.stats["partly_paid"] += 1
        if invoice["status"] == "open":
            roll = rng.random()
            if roll < 0.01 and issued < TODAY - timedelta(days=5):
                self._credit_note(invoice, rows)
            elif roll < 0.015:
                self._open_dispute(invoice, rows)
        return invoice

    def _payment(
        self, invoice: dict[str, Any], amount: int, on: date, rows: dict[str, list[dict[str, Any]]]
    ) -> None:
        pid = self.next_id("payments")
        at = datetime(on.year, on.month, on.day, 10, 0, tzinfo=UTC)
        rows["payments"].append(
            dict(
                id=pid,
                customer_id=invoice["customer_id"],
                amount=amount,
                currency=invoice["currency"],
                paid_on=on,
                reference=f"BANK-{pid:09d}",
                unallocated=0,
                recorded_by="finance1",
                created_at=at,
            )
        )
        rows["payment_allocations"].append(
            dict(
                id=self.next_id("payment_allocations"),
                payment_id=pid,
                invoice_id=invoice["id"],
                amount=amount,
            )
        )

    def _dispute(
        self,
        invoice: dict[str, Any],
        amount: int,
        status: str,
        opened: datetime,
        rows: dict[str, list[dict[str, Any]]],
    ) -> int:
        did = self.next_id("disputes")
        credited = amount if status == "credited" else 0
        rows["disputes"].append(
            dict(
                id=did,
                customer_id=invoice["customer_id"],
                instance_id=None,
                case_id=None,
                owner_group="sales",
                description="Customer disputes the invoice.",
                currency=invoice["currency"],
                disputed_amount=amount,
                status=status,
                proposal="accept" if credited else None,
                proposed_credit=amount if credited else None,
                proposed_credit_base=None,
                proposal_comment="",
                proposed_by="sales1" if credited else None,
                proposed_at=opened + timedelta(days=3) if credited else None,
                decided_by="manager1" if credited else None,
                decision_comment="",
                credited_amount=credited,
                raised_by="collector1",
                opened_at=opened,
                closed_at=opened + timedelta(days=4) if credited else None,
            )
        )
        rows["dispute_lines"].append(
            dict(
                id=self.next_id("dispute_lines"),
                dispute_id=did,
                invoice_id=invoice["id"],
                invoice_number=invoice["number"],
                amount=amount,
                reason=self.rng.choice(REASONS),
                credited=credited,
            )
        )
        return did

    def _credit_note(self, invoice: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> None:
        rng = self.rng
        amount = (
            invoice["open_amount"]
            if rng.random() < 0.3
            else max(1, int(invoice["open_amount"] * rng.uniform(0.05, 0.5)))
        )
        days = (TODAY - invoice["issue_date"]).days
        opened = invoice["created_at"] + timedelta(days=rng.randrange(1, max(2, min(days, 60))))
        opened = min(opened, NOW - timedelta(days=5))
        did = self._dispute(invoice, amount, "credited", opened, rows)
        rows["credit_notes"].append(
            dict(
                id=self.next_id("credit_notes"),
                customer_id=invoice["customer_id"],
                invoice_id=invoice["id"],
                invoice_number=invoice["number"],
                amount=amount,
                currency=invoice["currency"],
                to_balance=0,
                dispute_id=did,
                instance_id=None,
                approved_by=["manager1"],
                requested_by="sales1",
                posted_at=opened + timedelta(days=4),
            )
        )
        invoice["open_amount"] -= amount
        if invoice["open_amount"] == 0:
            invoice["status"] = "credited"
        self.stats["credit_notes"] += 1

    def _open_dispute(self, invoice: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> None:
        amount = max(1, int(invoice["open_amount"] * self.rng.uniform(0.1, 1.0)))
        opened = min(
            NOW - timedelta(days=1), invoice["created_at"] + timedelta(days=self.rng.randrange(1, 40))
        )
        self._dispute(invoice, amount, "open", opened, rows)
        invoice["disputed_amount"] = amount
        self.stats["open_disputes"] += 1

    def _write_offs(
        self,
        cid: int,
        currency: str,
        grade: str,
        overdue: list[dict[str, Any]],
        rows: dict[str, list[dict[str, Any]]],
    ) -> None:
        old = [
            i
            for i in overdue
            if grade == "E" and i["due_date"] < TODAY - timedelta(days=180) and i["disputed_amount"] == 0
        ]
        chosen = [i for i in old if self.rng.random() < 0.2]
        if not chosen:
            return
        total = sum(i["open_amount"] for i in chosen)
        latest_due = max(i["due_date"] for i in chosen)
        posted = min(
            NOW - timedelta(days=1),
            datetime(latest_due.year, latest_due.month, latest_due.day, 15, tzinfo=UTC) + timedelta(days=150),
        )
        rid = self.next_id("write_off_requests")
        rows["write_off_requests"].append(
            dict(
                id=rid,
                customer_id=cid,
                instance_id=None,
                case_id=None,
                outcome="uncollectable",
                amount=0,
                costs=0,
                currency=currency,
                comment="Insolvency; nothing to recover.",
                invoices=[i["number"] for i in chosen],
                open_amount=total,
                write_off_amount=total,
                status="posted",
                requested_by="legal1",
                approved_by=["manager1", "cfo1"],
                decided_by="cfo1",
                decision_comment="",
                created_at=posted - timedelta(days=7),
                decided_at=posted,
            )
        )
        for invoice in chosen:
            rows["write_offs"].append(
                dict(
                    id=self.next_id("write_offs"),
                    request_id=rid,
                    customer_id=cid,
                    invoice_id=invoice["id"],
                    amount=invoice["open_amount"],
                    currency=currency,
                    outcome="uncollectable",
                    costs=0,
                    provision_used=0,
                    requested_by="legal1",
                    approved_by=["manager1", "cfo1"],
                    posted_at=posted,
                    instance_id=None,
                )
            )
            invoice.update(status="written_off", open_amount=0)
            self.stats["written_off"] += 1

    def _dunning_case(
        self,
        cid: int,
        currency: str,
        grade: str,
        overdue: list[dict[str, Any]],
        rows: dict[str, list[dict[str, Any]]],
    ) -> None:
        rng = self.rng
        oldest = min(i["due_date"] for i in overdue)
        days = (TODAY - oldest).days
        level = min(4, 1 + days // 20)
        case_id = self.next_id("dunning_cases")
        promise = rng.random() < 0.1
        promised = TODAY + timedelta(days=rng.randrange(1, 20))
        owed = sum(i["open_amount"] for i in overdue)
        rows["dunning_cases"].append(
            dict(
                id=case_id,
                customer_id=cid,
                instance_id=None,
                status="paused" if promise else "open",
                level=level,
                fees=0,
                currency=currency,
                blocked_customer=False,
                promised_date=promised if promise else None,
                promised_amount=owed if promise else None,
                last_notice_at=NOW - timedelta(days=rng.randrange(1, 20)),
                opened_at=NOW - timedelta(days=max(1, days - 7)),
                closed_at=None,
                outcome=None,
                grade=grade,
            )
        )
        if promise:
            rows["dunning_promises"].append(
                dict(
                    id=self.next_id("dunning_promises"),
                    case_id=case_id,
                    promised_date=promised,
                    amount=owed,
                    currency=currency,
                    overdue=owed,
                    status="open",
                    outside=[],
                    recorded_by="collector1",
                    recorded_at=NOW - timedelta(days=rng.randrange(1, 5)),
                    decided_by=None,
                    decided_at=None,
                    received=None,
                    judged_at=None,
                )
            )
        self.stats["dunning_cases"] += 1


def fx_rows(rng: random.Random) -> list[dict[str, Any]]:
    """A rate per currency and day from 14 months back, a small random walk around EUR_PER."""
    rows = []
    first = TODAY - timedelta(days=HISTORY_DAYS + 31)
    for currency in ("GBP", "CNY"):
        rate = EUR_PER[currency]
        for n in range((TODAY - first).days + 1):
            rate *= math.exp(rng.gauss(0, 0.003))
            rows.append(
                dict(
                    id=len(rows) + 1,
                    currency=currency,
                    day=first + timedelta(days=n),
                    rate=int(round(rate * 10**10)),
                    source="ECB reference rate (benchmark)",
                    created_by="finance1",
                    created_at=NOW - timedelta(days=(TODAY - first).days - n),
                )
            )
    return rows


def seed_cockpit_book(
    url: str, customers: int, invoices: int, progress: bool = True
) -> tuple[float, dict[str, int]]:
    """Rebuild the database at `url` and seed the book; returns (seconds, row counts)."""
    began = time.perf_counter()
    if url.startswith("sqlite:///"):  # fresh_database rebuilds PostgreSQL; an SQLite book starts empty
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    engine = fresh_database(url, NOW)
    book = Book(customers, invoices)
    with engine.begin() as conn:
        bulk_insert(conn, "fx_rates", fx_rows(book.rng))
    order = [name for name in TABLES if name != "fx_rates"]
    done = 0
    for rows in book.chunks():
        with engine.begin() as conn:
            for name in order:
                bulk_insert(conn, name, rows[name])
        done += len(rows["customers"])
        if progress and done % 20_000 < CHUNK:
            print(
                f"  {done:,} customers, {book.ids['invoices']:,} invoices"
                f" ({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for name in [*order, "fx_rates"]:
                conn.execute(
                    text(f"SELECT setval('{name}_id_seq', GREATEST(1, (SELECT max(id) FROM {name})))")
                )
            conn.execute(text("ANALYZE"))
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    counts = {"customers": customers, **{name: book.ids[name] for name in order if name != "customers"}}
    return time.perf_counter() - began, {**counts, **book.stats}


def past_month_ends() -> list[date]:
    """The month ends from the book's first month to the last one before today, oldest first."""
    ends = []
    day = TODAY.replace(day=1) - timedelta(days=1)
    first = TODAY - timedelta(days=HISTORY_DAYS)
    while day >= first:
        ends.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return ends[::-1]


def post_month_ends(url: str) -> dict[str, Any]:
    """What the daily jobs would have done by today (steady state): the provision run and the KPI snapshot
    (the quarter's too after a quarter end) on each past month end and the day after (each job acts on the
    day it is meant for and skips the other), then today's watchlist run."""
    from handlers.registry import build_operations
    from workflows.batch.jobs import DAILY_JOBS
    from workflows.engine.runtime import Runtime
    from workflows.settings import load_settings
    from workflows.store.db import make_engine

    began = time.perf_counter()
    settings = load_settings({}, database={"url": url}, mail={"sink_port": 0})
    rt = Runtime(make_engine(settings.database), settings, build_operations())
    done: dict[str, Any] = {}
    for end in past_month_ends():
        for day in (end, end + timedelta(days=1)):
            now = datetime(day.year, day.month, day.day, 23 if day == end else 2, 0, tzinfo=UTC)
            for job in ("provision_run", "kpi_snapshot"):
                done[f"{job} {day.isoformat()}"] = DAILY_JOBS[job](rt, day, now)
    done["watchlist_run"] = DAILY_JOBS["watchlist_run"](rt, TODAY, NOW)
    rt.engine.dispose()
    return {
        "seconds": round(time.perf_counter() - began, 1),
        "month_ends": len(past_month_ends()),
        "jobs": done,
    }
