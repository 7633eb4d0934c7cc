"""A cache of computed KPI answers (workflows/credit/kpis.py), so the dashboard and GET /api/kpis do not
rebuild twelve periods of the book on every call while nothing changed.

An answer is kept per database engine (a new engine, e.g. each test's, starts empty) under the period,
its end, the base currency and a fingerprint of the book: the highest id of every table the KPIs read and
of the audit trail, which every change made through creditflow extends (an in-place change such as a
corrected exchange rate or a completed task is audited). One indexed query, whatever the size of the book.
A change made outside creditflow (SQL by hand) shows after at most TTL_SECONDS.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from workflows.credit.disputes import CreditNote
from workflows.credit.fx import FxRate
from workflows.credit.kpi_snapshots import KpiSnapshot
from workflows.credit.models import DunningEvent, Invoice, Payment, PaymentAllocation, Provision
from workflows.credit.promises import DunningPromise
from workflows.credit.provision_tables import ProvisionRelease, ProvisionRun
from workflows.credit.write_offs import WriteOff, WriteOffProvisionUse
from workflows.store.models import AuditEvent, Deployment, InboxItem, ProcessInstance

TTL_SECONDS = 300.0
MAX_ANSWERS = 64  # per engine: periods x ends x currencies asked for recently
READ = (
    Invoice,
    Payment,
    PaymentAllocation,
    CreditNote,
    WriteOff,
    WriteOffProvisionUse,
    FxRate,
    Provision,
    ProvisionRelease,
    ProvisionRun,
    KpiSnapshot,
    DunningPromise,
    DunningEvent,
    ProcessInstance,
    InboxItem,
    Deployment,
    AuditEvent,
)
_ANSWERS: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[Any, ...], tuple[float, dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)


def fingerprint(session: Session) -> tuple[Any, ...]:
    """The highest id of each table the KPIs read (a primary-key lookup each), in one query."""
    return tuple(session.execute(select(*(select(func.max(t.id)).scalar_subquery() for t in READ))).one())


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def first_issue_date(session: Session) -> date | None:
    """The earliest issue date of any invoice (None: no invoice), which decides whether a live period can
    hold anything at all: one lookup in ix_invoices_issue_sales (migration 0014f, which replaced 0014e's
    ix_invoices_issue_date). It was kept per engine by the highest invoice id seen, which missed an invoice
    committed out of id order on PostgreSQL."""
    return session.scalar(select(func.min(Invoice.issue_date)))


def cached(session: Session, key: tuple[Any, ...], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The answer stored under `key` and the book's fingerprint, else `compute()` stored."""
    answers = _ANSWERS.setdefault(_engine(session), OrderedDict())
    full = (*key, fingerprint(session))
    now = time.monotonic()
    found = answers.get(full)
    if found is not None and now - found[0] < TTL_SECONDS:
        answers.move_to_end(full)
        return found[1]
    answer = compute()
    answers[full] = (now, answer)
    while len(answers) > MAX_ANSWERS:
        answers.popitem(last=False)
    return answer
