"""The contact log of dunning cases: every call, e-mail, letter or visit a collector made, its outcome and
the next action it set (migration 0013c).

The case's next action is the one its newest contact set; a contact whose outcome is a promise records the
promise through the dunning instance (collection_log.py), and its next action date is the promised date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.credit.record_fields import convert_field, iso_text, raise_field_errors
from workflows.errors import message_of
from workflows.messages import _
from workflows.store.models import Base
from workflows.store.paging import page_rows

KINDS = ("call", "email", "letter", "visit")
OUTCOMES = ("reached", "no_answer", "promise", "dispute", "refused", "wrong_contact")
PROMISE = "promise"
NOTE_MAX = 2000
NEXT_ACTION_MAX = 200
FIELDS = ("kind", "outcome", "note", "next_action", "next_action_date", "promised_date", "promised_amount")


class CollectionContact(Base):
    """One contact with the customer of a dunning case."""

    __tablename__ = "collection_contacts"
    __table_args__ = (Index("ix_collection_contacts_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dunning_cases.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    next_action: Mapped[str] = mapped_column(String(NEXT_ACTION_MAX), default="")
    next_action_date: Mapped[date | None]
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("dunning_promises.id"))
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]


@dataclass(frozen=True)
class ContactInput:
    kind: str
    outcome: str
    note: str
    next_action: str
    next_action_date: date | None
    promised_date: date | None = None
    promised_amount: Decimal | None = None


def parse_contact(raw: Mapping[str, Any], today: date) -> ContactInput:
    """A contact as posted (JSON or the case page's form). A promise needs its date and amount, and its
    date is the next action date; no date lies in the past.

    Raises:
        Invalid: naming each bad field (and any unknown one).
    """
    errors: dict[str, str] = {}
    for name in sorted(set(raw) - set(FIELDS)):
        errors[str(name)[:80]] = _("Unknown field; a contact takes %(fields)s.", fields=", ".join(FIELDS))
    kind, outcome = raw.get("kind"), raw.get("outcome")
    if kind not in KINDS:
        errors["kind"] = _("One of %(kinds)s.", kinds=", ".join(KINDS))
    if outcome not in OUTCOMES:
        errors["outcome"] = _("One of %(outcomes)s.", outcomes=", ".join(OUTCOMES))
    note = _text(raw, "note", NOTE_MAX, errors)
    next_action = _text(raw, "next_action", NEXT_ACTION_MAX, errors)
    next_date = _day(raw, "next_action_date", today, errors)
    promised_date = _day(raw, "promised_date", today, errors)
    amount = None
    if raw.get("promised_amount") not in (None, ""):
        try:
            amount = convert_field("money", raw["promised_amount"], today)
            if amount == 0:
                raise ValueError(_("Must be more than zero."))
        except ValueError as exc:
            errors["promised_amount"] = message_of(exc)
    if outcome == PROMISE:
        if promised_date is None and "promised_date" not in errors:
            errors["promised_date"] = _("A promise needs the promised payment date.")
        if amount is None and "promised_amount" not in errors:
            errors["promised_amount"] = _("A promise needs the promised amount.")
        if next_date is not None and promised_date is not None and next_date != promised_date:
            errors["next_action_date"] = _(
                "A promise's next action date is the promised date; leave it empty."
            )
    elif outcome in OUTCOMES:
        for name in ("promised_date", "promised_amount"):
            if raw.get(name) not in (None, "") and name not in errors:
                errors[name] = _('Only a contact with outcome "promise" takes a promised date or amount.')
    raise_field_errors(errors, _("contact"))
    assert isinstance(kind, str) and isinstance(outcome, str)
    if outcome == PROMISE:
        next_date = promised_date
        next_action = next_action or "Check the promised payment"
    return ContactInput(kind, outcome, note, next_action, next_date, promised_date, amount)


def _text(raw: Mapping[str, Any], name: str, limit: int, errors: dict[str, str]) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = _("Text, not a number, object or list.")
        return ""
    if "\x00" in value:
        errors[name] = _("NUL characters are not allowed.")
        return ""
    text = value.strip()
    if len(text) > limit:
        errors[name] = _("At most %(limit)s characters.", limit=limit)
    return text


def _day(raw: Mapping[str, Any], name: str, today: date, errors: dict[str, str]) -> date | None:
    value = raw.get(name)
    if value in (None, ""):
        return None
    try:
        day = convert_field("date", value, today)
    except ValueError as exc:
        errors[name] = message_of(exc)
        return None
    assert isinstance(day, date)
    if day < today:
        errors[name] = _(
            "%(day)s is in the past (today is %(today)s).", day=day.isoformat(), today=today.isoformat()
        )
        return None
    return day


def add_contact(
    session: Session,
    case_id: int,
    customer_id: int,
    data: ContactInput,
    *,
    actor: str,
    now: datetime,
    promise_id: int | None = None,
) -> CollectionContact:
    """Store a contact in the caller's transaction."""
    contact = CollectionContact(
        case_id=case_id,
        customer_id=customer_id,
        kind=data.kind,
        outcome=data.outcome,
        note=data.note,
        next_action=data.next_action,
        next_action_date=data.next_action_date,
        promise_id=promise_id,
        actor=actor,
        at=now,
    )
    session.add(contact)
    session.flush()
    return contact


def list_contacts(
    session: Session, case_id: int, *, page: int = 1, per_page: int = 50
) -> tuple[list[CollectionContact], int]:
    """A case's contacts, newest first."""
    query = select(CollectionContact).where(CollectionContact.case_id == case_id)
    return page_rows(session, query.order_by(CollectionContact.id.desc()), page, per_page)


def last_contacts(session: Session, case_ids: Sequence[int]) -> dict[int, CollectionContact]:
    """The newest contact of each case that has one (it sets the case's next action)."""
    if not case_ids:
        return {}
    newest = (
        select(func.max(CollectionContact.id))
        .where(CollectionContact.case_id.in_(case_ids))
        .group_by(CollectionContact.case_id)
    )
    rows = session.scalars(select(CollectionContact).where(CollectionContact.id.in_(newest)))
    return {row.case_id: row for row in rows}


def contact_json(contact: CollectionContact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "case_id": contact.case_id,
        "customer_id": contact.customer_id,
        "kind": contact.kind,
        "outcome": contact.outcome,
        "note": contact.note,
        "next_action": contact.next_action,
        "next_action_date": iso_text(contact.next_action_date),
        "promise_id": contact.promise_id,
        "actor": contact.actor,
        "at": contact.at.isoformat(),
    }
