"""Key customers (重点客户管理): a flag with the user who owns the account. Key customers are reviewed more
often (limit_policy.dmn, input `key_customer`) and have their own tab on /portfolio."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.models import Customer
from workflows.credit.record_fields import FieldSpec, parse_fields, raise_field_errors
from workflows.credit.roles import KEY_CUSTOMER_SETTERS
from workflows.errors import Forbidden
from workflows.messages import _
from workflows.store.audit import changed, record_event
from workflows.store.models import User
from workflows.users import Actor

# On a customer (create, import): absent means not a key customer.
KEY_CUSTOMER_FIELDS: dict[str, FieldSpec] = {
    "key_customer": FieldSpec("flag"),
    "account_owner": FieldSpec("text", max_length=80),
}
# The body of POST /api/customers/ID/key-customer: says yes or no.
KEY_CUSTOMER_BODY = {**KEY_CUSTOMER_FIELDS, "key_customer": FieldSpec("flag", required=True)}


def check_key_customer_rights(actor: Actor, raw: Mapping[str, Any], *, action: str) -> None:
    """Refuse key-customer fields from anyone but the credit staff of KEY_CUSTOMER_SETTERS (or an admin),
    before anything is written: naming a key customer changes how often it is reviewed.

    Raises:
        Forbidden: naming the fields sent and who may set them.
    """
    sent = [name for name in KEY_CUSTOMER_FIELDS if raw.get(name) not in (None, "", False)]
    if not sent or actor.in_any(KEY_CUSTOMER_SETTERS):
        return
    raise Forbidden(
        _(
            "%(user)s may not set %(sent)s when they %(action)s: only "
            "%(key_customer_setters)s or admin name key customers",
            user=actor.username,
            sent=", ".join(sent),
            action=action,
            key_customer_setters=", ".join(sorted(KEY_CUSTOMER_SETTERS)),
        ),
        details={"fields": dict.fromkeys(sent, _("Only credit staff name key customers."))},
    )


def check_owners(session: Session, fields: Mapping[str, Any]) -> None:
    """The people a customer's fields name: `sales_owner` must be a user, `account_owner` an active user,
    and a key customer must name its account owner.

    Raises:
        Invalid: naming each bad field.
    """
    errors: dict[str, str] = {}
    sales_owner = fields.get("sales_owner")
    if sales_owner and session.scalar(select(User.id).where(User.username == sales_owner)) is None:
        errors["sales_owner"] = _("Name an existing user.")
    owner = fields.get("account_owner")
    if owner and session.scalar(select(User.id).where(User.username == owner, User.active)) is None:
        errors["account_owner"] = _(
            "'%(owner)s' is not an active user: name an existing active user.", owner=owner[:80]
        )
    if fields.get("key_customer") and not owner:
        errors["account_owner"] = _("A key customer needs an account owner (an active user).")
    raise_field_errors(errors, _("customer"))


def parse_key_customer(raw: Mapping[str, Any], *, today: Any) -> dict[str, Any]:
    """The body of POST /api/customers/ID/key-customer: key_customer (true/false) and account_owner.

    Raises:
        Invalid: naming each bad field.
    """
    fields = parse_fields(_("key customer"), KEY_CUSTOMER_BODY, raw, today)
    fields.setdefault("account_owner", None)
    return fields


def set_key_customer(
    session: Session, customer: Customer, fields: Mapping[str, Any], *, actor: str, now: datetime
) -> Customer:
    """Name a customer a key customer (with its account owner) or no longer; audited with before and
    after as `key_customer_changed` (nothing recorded when nothing changes).

    Raises:
        Invalid: the account owner is not an active user, or a key customer names none.
    """
    check_owners(session, fields)
    before = {"key_customer": customer.key_customer, "account_owner": customer.account_owner}
    key, owner = bool(fields["key_customer"]), fields.get("account_owner")
    diff = changed(before, {"key_customer": key, "account_owner": owner})
    if diff["after"]:
        customer.key_customer, customer.account_owner = key, owner
        customer.updated_at = now
        record_event(
            session,
            actor=actor,
            action="key_customer_changed",
            now=now,
            customer_id=customer.id,
            name=customer.name,
            before=diff["before"],
            after=diff["after"],
        )
    return customer
