"""What a dispute is opened with (the API's and the dunning handler's body), checked field by field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from workflows.credit import roles
from workflows.credit.dispute_reasons import REASONS as REASONS
from workflows.errors import Invalid, field_listing, message_of
from workflows.messages import _
from workflows.money import parse_money

MAX_LINES = 200  # invoices in one dispute
MAX_TEXT = 4000


def invalid(summary: str, fields: dict[str, str]) -> Invalid:
    """An Invalid naming each field in its message too: a handler's error reaches the caller as text."""
    named = field_listing(fields)
    return Invalid(_("%(summary)s: %(named)s", summary=summary, named=named), details={"fields": fields})


@dataclass(frozen=True)
class LineInput:
    number: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class DisputeInput:
    customer_id: int
    lines: tuple[LineInput, ...]
    owner_group: str
    description: str


def parse_dispute(raw: Mapping[str, Any]) -> DisputeInput:
    """Start data or a `dispute` message as a dispute: every bad field named at once.

    Raises:
        Invalid: with `details["fields"]` naming each bad field (`invoices[2].amount`).
    """
    errors: dict[str, str] = {}
    customer_id = raw.get("customer_id")
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or not 0 < customer_id < 2**63:
        errors["customer_id"] = _("Must be the id of a customer.")
        customer_id = 0
    owner = raw.get("owner_group")
    if owner not in roles.DISPUTE_OWNER_GROUPS:
        errors["owner_group"] = _(
            "Must be one of %(dispute_owner_groups)s.",
            dispute_owner_groups=", ".join(roles.DISPUTE_OWNER_GROUPS),
        )
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_TEXT or "\x00" in description:
        errors["description"] = _("Must be text of at most %(max_text)s characters.", max_text=MAX_TEXT)
        description = ""
    items = raw.get("invoices")
    lines: list[LineInput] = []
    if not isinstance(items, list) or not items or len(items) > MAX_LINES:
        errors["invoices"] = _(
            "Name from 1 to %(max_lines)s invoices, each {number, amount, reason}.", max_lines=MAX_LINES
        )
        items = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"invoices[{index}]"
        if not isinstance(item, Mapping):
            errors[where] = _("Must be {number, amount, reason}.")
            continue
        number, reason = item.get("number"), item.get("reason")
        if not isinstance(number, str) or not number.strip() or len(number) > 80 or "\x00" in number:
            errors[f"{where}.number"] = _("Must be an invoice number.")
            continue
        if number in seen:
            errors[f"{where}.number"] = _("Invoice %(number)s is named twice.", number=number)
        seen.add(number)
        if reason not in REASONS:
            errors[f"{where}.reason"] = _("Must be one of %(reasons)s.", reasons=", ".join(REASONS))
        try:
            amount = parse_money(item.get("amount"))
        except ValueError as exc:
            errors[f"{where}.amount"] = message_of(exc)
            continue
        if amount <= 0:
            errors[f"{where}.amount"] = _(
                "Must be above zero: the part of the invoice the customer disputes."
            )
            continue
        lines.append(LineInput(number, amount, str(reason)))
    if errors:
        raise invalid(_("the dispute cannot be opened"), errors)
    return DisputeInput(int(customer_id), tuple(lines), str(owner), str(description))
