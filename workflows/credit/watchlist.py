"""The watchlist: customers the early-warning table flags, with an owner, the indicators that fired and the
action they require; an entry clears when none fires any more, and cleared entries stay as history.

Evaluated by the daily job `watchlist_run` (workflows/batch/watchlist_run.py) and, for the one customer, on
the events its indicators read (`flag_customer`): an external rating recorded, a promise judged broken, an
invoice or a payment posted (utilisation, a first late payment), a credit limit changed, a dispute opened;
read by GET /api/watchlist, /watchlist and the dashboard (`open_entries`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, String, case, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.credit import roles
from workflows.credit.concentration_cap import concentration_cap
from workflows.credit.models import Customer
from workflows.credit.record_fields import iso_text
from workflows.credit.watchlist_rules import (
    ACTIONS,
    SEVERITIES,
    Fired,
    Rules,
    RulesError,
    deployed_rules,
    strongest_action,
)
from workflows.credit.watchlist_signals import book_signals
from workflows.store.audit import record_event
from workflows.store.models import Base
from workflows.store.paging import MAX_PER_PAGE
from workflows.users import Actor

logger = logging.getLogger(__name__)

SYSTEM = "system"  # the daily run evaluates; no person acted
STATUSES = ("open", "cleared", "all")
# Each shipped indicator and the input it measures: its value is shown with the entry.
MEASURES = {
    "utilisation": "utilisation_percent",
    "over_limit": "utilisation_percent",
    "dbt_rising": "dbt_rising_months",
    "first_late_payment": "first_late_days",
    "broken_promise": "broken_promise_days",
    "rating_downgrade": "downgrade_days",
    "dispute_rate": "dispute_rate_percent",
    "concentration": "ar_share_percent",
}
# Who reads the watchlist; sales (only) read their own customers' entries.
READERS = frozenset({roles.CREDIT_MANAGER, roles.CREDIT_ANALYST, roles.CFO, roles.AUDITOR, roles.SALES})
FULL_READERS = READERS - {roles.SALES}


def sales_only(actor: Actor) -> bool:
    """Whether the actor reads only their own customers' entries (in sales, and in no other reader group)."""
    return not actor.in_any(FULL_READERS)


class WatchlistEntry(Base):
    """One spell of a customer on the watchlist: opened when an indicator first fired, cleared on the first
    evaluation where none did. At most one entry per customer is open."""

    __tablename__ = "watchlist_entries"
    __table_args__ = (
        Index(
            "uq_watchlist_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
        Index("ix_watchlist_entries_opened", "cleared_at", "opened_at"),
        # The list's ids in its order's columns: the page query sorts and pages from this index alone.
        Index("ix_watchlist_entries_list", "cleared_at", "action", "opened_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    owner: Mapped[str] = mapped_column(String(80))  # the customer's sales owner, else the credit managers
    indicators: Mapped[list[Any]]  # [{indicator, severity, action, value}] as the last evaluation found
    indicator_names: Mapped[str] = mapped_column(String(400))  # ",utilisation,over_limit," for the filter
    action: Mapped[str] = mapped_column(String(20))  # the strongest action the indicators require
    severity: Mapped[str] = mapped_column(String(10))  # the highest severity among them
    rules: Mapped[str] = mapped_column(String(120))  # "early_warning.dmn of credit_limit_review v3"
    opened_at: Mapped[datetime]
    evaluated_on: Mapped[date]  # the last day an evaluation confirmed it
    cleared_at: Mapped[datetime | None]


@dataclass
class Evaluation:
    opened: int = 0
    updated: int = 0
    cleared: int = 0
    open: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"opened": self.opened, "updated": self.updated, "cleared": self.cleared, "open": self.open}


def _indicators(fired: tuple[Fired, ...], signals: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for f in fired:
        value = signals.get(MEASURES.get(f.indicator, ""))
        found.append(
            {
                "indicator": f.indicator,
                "severity": f.severity,
                "action": f.action,
                "measure": None if value is None or isinstance(value, str) else str(value),
            }
        )
    return found


def evaluate_watchlist(
    session: Session,
    rules: Rules,
    as_of: date,
    now: datetime,
    *,
    base: str,
    customer_ids: Collection[int] | None = None,
    actor: str = SYSTEM,
) -> dict[str, Any]:
    """Open, update and clear watchlist entries from the indicators the table fires on `as_of` (for every
    customer, or `customer_ids` only). Running it again the same day changes nothing. The audit event
    names `actor`: the system for the daily run and timers, the person whose action triggered it otherwise.

    Raises:
        RulesError: the table fails on a customer's signals; nothing is written.
    """
    book = book_signals(session, as_of, base, customer_ids)
    normal = {
        "normal_dispute_rate_percent": book.normal_dispute_rate_percent,
        "concentration_cap_percent": concentration_cap(session).percent,
    }
    fired = {cid: rules.fired(signals | normal) for cid, signals in book.customers.items()}
    current = select(WatchlistEntry).where(WatchlistEntry.cleared_at.is_(None))
    if customer_ids is not None:
        current = current.where(WatchlistEntry.customer_id.in_(sorted(customer_ids)))
    entries = {e.customer_id: e for e in session.scalars(current.with_for_update())}
    done = Evaluation()
    for cid, found in fired.items():
        entry = entries.get(cid)
        if not found:
            if entry is not None:
                entry.cleared_at, entry.evaluated_on = now, as_of
                done.cleared += 1
            continue
        indicators = _indicators(found, book.customers[cid])
        values = {
            "owner": book.owners.get(cid) or roles.CREDIT_MANAGER,
            "indicators": indicators,
            "indicator_names": "," + ",".join(dict.fromkeys(f.indicator for f in found)) + ",",
            "action": strongest_action(found),
            "severity": max((f.severity for f in found), key=SEVERITIES.index),
            "rules": rules.source[:120],
        }
        done.open += 1
        if entry is None:
            session.add(WatchlistEntry(customer_id=cid, opened_at=now, evaluated_on=as_of, **values))
            done.opened += 1
        elif any(getattr(entry, k) != v for k, v in values.items()) or entry.evaluated_on != as_of:
            for key, value in values.items():
                setattr(entry, key, value)
            entry.evaluated_on = as_of
            done.updated += 1
    session.flush()
    summary: dict[str, Any] = {"as_of": as_of.isoformat(), **done.as_dict(), "rules": rules.source}
    if book.missing_rates:
        summary["missing_rates"] = book.missing_rates
    if customer_ids is not None:  # an event's evaluation: recorded whenever it changed the entry
        summary["customer_ids"] = sorted(customer_ids)
    if done.opened or done.cleared or (customer_ids is not None and done.updated):
        # The audit trail's before/after: the open entries among the customers evaluated, before and after.
        before = {"open_entries": done.open - done.opened + done.cleared}
        after = {"open_entries": done.open, "opened": done.opened, "cleared": done.cleared}
        record_event(
            session, actor=actor, action="watchlist_evaluated", now=now, before=before, after=after, **summary
        )
    return summary


def flag_customer(
    session: Session, customer_id: int, now: datetime, *, base: str, actor: str = SYSTEM
) -> dict[str, Any] | None:
    """Evaluate one customer at once after an event (a promise judged broken, a new external rating, an
    invoice or payment posted, a limit changed, a dispute opened; by `actor`), in a savepoint of the caller's
    transaction, so it commits with the event; None when no table is deployed or the evaluation fails (the
    daily run reports that): the savepoint is rolled back and the event itself is never refused or lost for
    the watchlist's sake."""
    try:
        with session.begin_nested():  # the rules' read too: a database error there must not abort the event
            rules = deployed_rules(session)
            return evaluate_watchlist(
                session, rules, now.date(), now, base=base, customer_ids=[customer_id], actor=actor
            )
    except (RulesError, IntegrityError):  # a concurrent evaluation opened the entry first: it stands
        return None
    except Exception:  # noqa: BLE001 - whatever fails in the evaluation, the posting stands; the daily run retries
        logger.exception("watchlist: evaluating customer %s after an event failed", customer_id)
        return None


# --- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFilter:
    status: str = "open"  # open | cleared | all
    indicator: str | None = None
    owner: str | None = None
    customer_id: int | None = None
    sales_owner: str | None = None  # a salesperson sees only their own customers' entries


def _where(query: Select[Any], flt: EntryFilter) -> Select[Any]:
    """`query` (over watchlist_entries) narrowed to the entries `flt` selects."""
    if flt.status == "open":
        query = query.where(WatchlistEntry.cleared_at.is_(None))
    elif flt.status == "cleared":
        query = query.where(WatchlistEntry.cleared_at.is_not(None))
    if flt.indicator:
        query = query.where(WatchlistEntry.indicator_names.contains(f",{flt.indicator},", autoescape=True))
    if flt.owner:
        query = query.where(WatchlistEntry.owner == flt.owner)
    if flt.customer_id is not None:
        query = query.where(WatchlistEntry.customer_id == flt.customer_id)
    if flt.sales_owner is not None:  # the only filter that reads the customer
        query = query.join(Customer, Customer.id == WatchlistEntry.customer_id).where(
            Customer.sales_owner == flt.sales_owner
        )
    return query


# The list's order: open ones first, the strongest action, the newest, the highest id (a unique tie-break).
def _order() -> tuple[Any, ...]:
    return (
        WatchlistEntry.cleared_at.is_not(None),
        _rank(WatchlistEntry.action, ACTIONS).desc(),
        WatchlistEntry.opened_at.desc(),
        WatchlistEntry.id.desc(),
    )


def list_entries(
    session: Session, flt: EntryFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[dict[str, Any]], int]:
    """Entries matching `flt`: open ones first, the strongest action and the newest first; and the total.

    Sorts and pages only the ids (read from ix_watchlist_entries_list, so the sort never carries the wide
    indicator columns), then reads the page's rows; the total is a plain COUNT of the same selection."""
    total = session.scalar(_where(select(func.count(WatchlistEntry.id)), flt)) or 0
    size = max(1, min(per_page, MAX_PER_PAGE))
    ids = list(
        session.scalars(
            _where(select(WatchlistEntry.id), flt)
            .order_by(*_order())
            .limit(size)
            .offset((max(1, page) - 1) * size)
        )
    )
    if not ids:
        return [], total
    rows = session.execute(
        select(WatchlistEntry, Customer.name)
        .outerjoin(Customer, Customer.id == WatchlistEntry.customer_id)
        .where(WatchlistEntry.id.in_(ids))
    ).all()
    found = {entry.id: entry_json(entry, name) for entry, name in rows}
    return [found[i] for i in ids if i in found], total


def _rank(column: Any, order: tuple[str, ...]) -> Any:
    return case({value: i for i, value in enumerate(order)}, value=column, else_=-1)


def open_entries(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    """The open entries for a dashboard: the strongest action first, then the newest; at most `limit`."""
    rows, _ = list_entries(
        session, EntryFilter(status="open"), page=1, per_page=max(1, min(limit, MAX_PER_PAGE))
    )
    return rows


def owners(session: Session) -> list[str]:
    """Every owner an entry names, for the page's filter."""
    return list(session.scalars(select(WatchlistEntry.owner).distinct().order_by(WatchlistEntry.owner)))


def indicator_names(session: Session) -> list[str]:
    """Every indicator an entry names (a process owner's new rule too), for the page's filter."""
    combos = session.scalars(select(WatchlistEntry.indicator_names).distinct())
    return sorted({name for combo in combos for name in combo.split(",") if name})


def entry_json(entry: WatchlistEntry, customer_name: str | None) -> dict[str, Any]:
    return {
        "id": entry.id,
        "customer_id": entry.customer_id,
        "customer_name": customer_name,
        "owner": entry.owner,
        # A stored list no one can read (shown_json.Unreadable, a hand edit) shows none; the action and
        # severity still do, and the next evaluation writes the list again.
        "indicators": list(entry.indicators) if isinstance(entry.indicators, list) else [],
        "action": entry.action,
        "severity": entry.severity,
        "rules": entry.rules,
        "opened_at": entry.opened_at.isoformat(),
        "evaluated_on": iso_text(entry.evaluated_on),  # None: a stored day no one can read (column_types)
        "cleared_at": None if entry.cleared_at is None else entry.cleared_at.isoformat(),
        "status": "open" if entry.cleared_at is None else "cleared",
    }


def counts_by_action(session: Session) -> dict[str, int]:
    """Open entries per required action (every action named, 0 when none)."""
    found = dict(
        session.execute(
            select(WatchlistEntry.action, func.count())
            .where(WatchlistEntry.cleared_at.is_(None))
            .group_by(WatchlistEntry.action)
        ).all()
    )
    return {action: int(found.get(action, 0)) for action in reversed(ACTIONS)}
