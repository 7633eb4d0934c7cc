"""Collateral and guarantees on a customer's credit file: what secures its receivables, worth how much,
in which currency, until when. The scorecard counts those not expired (handlers/credit_scoring.py); how
much of each kind's value counts is policy (scorecard_weights.dmn, decision collateral_haircut)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, cast, func, or_, select
from sqlalchemy.orm import Mapped, Session, column_property, mapped_column

from workflows.credit.customers import get_customer
from workflows.credit.models import Customer
from workflows.credit.record_fields import FieldSpec, iso_text, money_text, parse_fields, raise_field_errors
from workflows.errors import Conflict, Invalid, NotFound
from workflows.messages import _
from workflows.store.audit import record_event
from workflows.store.models import Base, Decimal2
from workflows.store.shown_json import Unreadable, unreadable_note

log = logging.getLogger(__name__)

# What may secure a customer's receivables (the research note's "collateral / guarantee / credit insurance").
COLLATERAL_KINDS = (
    "bank_guarantee",
    "letter_of_credit",
    "cash_deposit",
    "credit_insurance",
    "parent_guarantee",
    "mortgage",
    "pledge",
)
# Kinds where a third party stands in for the customer: the customer's own promise secures nothing.
THIRD_PARTY_KINDS = ("bank_guarantee", "letter_of_credit", "credit_insurance", "parent_guarantee")
# A customer's file lists at most this many collateral rows (newest first); no real file has more.
MAX_LISTED = 500

COLLATERAL_FIELDS: dict[str, FieldSpec] = {
    "kind": FieldSpec("text", required=True, max_length=30),
    "provider": FieldSpec("text", max_length=200),  # the bank, insurer or guarantor
    "value": FieldSpec("money", required=True),
    "currency": FieldSpec("currency", required=True),
    "expires_on": FieldSpec("date"),  # none: open-ended (a cash deposit, a mortgage)
    "reference": FieldSpec("text", max_length=120),  # the guarantee's or policy's number
}


class Collateral(Base):
    """One guarantee, insurance policy, deposit or pledge securing a customer's receivables."""

    __tablename__ = "collateral"
    __table_args__ = (Index("ix_collateral_customer", "customer_id", "expires_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(30))
    provider: Mapped[str] = mapped_column(String(200), default="")
    value: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    expires_on: Mapped[date | None] = mapped_column()
    reference: Mapped[str] = mapped_column(String(120), default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    # The expiry as stored: on SQLite a hand edit can leave text that is no day, which expires_on reads as
    # None (column_types.ReadableDate), the same as "open-ended". This tells the two apart.
    expires_stored: Mapped[str | None] = column_property(cast(expires_on, String))

    @property
    def expiry_unreadable(self) -> bool:
        """A stored expiry no one can read: not open-ended, so the collateral does not count."""
        return self.expires_on is None and self.expires_stored is not None


def parse_collateral(raw: Any, *, today: date) -> dict[str, Any]:
    """Check and convert one collateral as the API sends it.

    Raises:
        Invalid: `details["fields"]` names each bad field and why.
    """
    if not isinstance(raw, Mapping):
        raise Invalid(
            _("A collateral is an object {kind, value, currency, expires_on?, provider?, reference?}."),
            details={"fields": {"_body": _("A JSON object.")}},
        )
    errors: dict[str, str] = {}
    try:
        fields = parse_fields(_("collateral"), COLLATERAL_FIELDS, raw, today)
    except Invalid as exc:
        errors = dict(exc.details["fields"])
        fields = {}
    if "kind" not in errors and "kind" in fields and fields["kind"] not in COLLATERAL_KINDS:
        errors["kind"] = _("One of %(collateral_kinds)s.", collateral_kinds=", ".join(COLLATERAL_KINDS))
    if "value" not in errors and fields.get("value") == 0:
        errors["value"] = _("Must be more than zero.")
    expires = fields.get("expires_on")
    if "expires_on" not in errors and expires is not None and expires < today:
        errors["expires_on"] = _(
            "%(expires)s has passed: an expired collateral secures nothing.", expires=expires.isoformat()
        )
    raise_field_errors(errors, _("collateral"))
    return fields


def add_collateral(
    session: Session, customer_id: int, fields: Mapping[str, Any], *, actor: str, now: datetime
) -> Collateral:
    """Record a collateral on the customer's file (in the caller's transaction), audited with its author.

    Raises:
        NotFound: no such customer.
        Invalid: a guarantee, letter of credit or insurance whose provider is the customer itself.
        Conflict: the same collateral (kind, provider and reference) is already on file and not expired:
            counting it twice would double its cover in the scorecard.
    """
    # Locked (PostgreSQL): two posts of the same guarantee at once both passed the check below and stored it
    # twice, doubling its cover; the second now waits for the first and sees its row.
    customer = session.scalar(select(Customer).where(Customer.id == customer_id).with_for_update())
    if customer is None:
        raise NotFound(_("customer %(customer_id)s does not exist", customer_id=customer_id))
    provider = _same_name(fields.get("provider") or "")
    if fields.get("kind") in THIRD_PARTY_KINDS and provider and provider == _same_name(customer.name):
        raise Invalid(
            _("A %(kind)s given by the customer itself secures nothing.", kind=fields["kind"]),
            details={"fields": {"provider": _("Must be a third party, not the customer itself.")}},
        )
    reference = _same_name(fields.get("reference") or "")
    if reference:
        for held in active_collateral(session, customer.id, now.date()):
            if (held.kind, _same_name(held.provider), _same_name(held.reference)) == (
                fields.get("kind"),
                provider,
                reference,
            ):
                raise Conflict(
                    _(
                        "Collateral %(held_id)s (%(held_kind)s %(held_reference)s of "
                        "%(held_provider)s) is already on the customer's file; record a changed "
                        "value as a new reference, or wait until the old one expires.",
                        held_id=held.id,
                        held_kind=held.kind,
                        held_reference=held.reference,
                        held_provider=held.provider or "no provider",
                    )
                )
    row = Collateral(customer_id=customer.id, created_by=actor, created_at=now, **fields)
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="collateral_added",
        now=now,
        customer_id=customer.id,
        collateral_id=row.id,
        kind=row.kind,
        value=money_text(row.value),
        currency=row.currency,
        expires_on=iso_text(row.expires_on),
    )
    return row


def _same_name(text: str) -> str:
    """A name or reference compared without case, spacing or punctuation ("ACME Machinery GmbH." is
    "acme machinery gmbh")."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.casefold()).split())


def list_collateral(session: Session, customer_id: int) -> list[Collateral]:
    """The customer's collateral, newest first (expired ones too: the file keeps its history).

    Raises:
        NotFound: no such customer.
    """
    get_customer(session, customer_id)
    return list(
        session.scalars(
            select(Collateral)
            .where(Collateral.customer_id == customer_id)
            .order_by(Collateral.id.desc())
            .limit(MAX_LISTED)
        )
    )


def active_collateral(session: Session, customer_id: int, today: date) -> list[Collateral]:
    """The customer's collateral that has not expired by `today` (it counts on its expiry day). One whose
    stored expiry no one can read (a hand edit on SQLite, where such text also compares as after today)
    does not count, with a warning naming it: never counted as open-ended."""
    rows = session.scalars(
        select(Collateral)
        .where(
            Collateral.customer_id == customer_id,
            or_(Collateral.expires_on.is_(None), Collateral.expires_on >= today),
        )
        .order_by(Collateral.id)
    )
    counted = []
    for row in rows:
        if row.expiry_unreadable:
            log.warning(
                "collateral %s of customer %s: its expiry cannot be read; not counted", row.id, customer_id
            )
        else:
            counted.append(row)
    return counted


def collateral_lapse(session: Session, customer_id: int, today: date) -> date | None:
    """The day after the first of the customer's counted collateral expires (None when none of it expires):
    the scorecard stops counting it then, so a limit resting on it is reviewed no later than that day."""
    first = session.scalar(
        select(func.min(Collateral.expires_on)).where(
            Collateral.customer_id == customer_id, Collateral.expires_on >= today
        )
    )
    return None if first is None else first + timedelta(days=1)


def collateral_json(row: Collateral, *, today: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "kind": row.kind,
        "provider": row.provider,
        "value": money_text(row.value),
        "currency": row.currency,
        "expires_on": iso_text(row.expires_on),
        "reference": row.reference,
        "active": not row.expiry_unreadable and (row.expires_on is None or row.expires_on >= today),
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        **unreadable_note(
            {"expires_on": Unreadable(row.expires_stored or "")} if row.expiry_unreadable else {}
        ),
    }
