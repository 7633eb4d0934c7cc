"""The one-line subject an approver sees for a task ("ACME Ltd · 2,000,000 EUR")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NAME_KEYS = ("subject", "customer_name", "supplier_name", "contract_number")
_AMOUNT_KEYS = ("requested_limit", "recommended_limit", "value_impact", "overdue_amount", "amount")


def render_subject(data: Mapping[str, Any], business_key: str | None) -> str:
    """Name and amount from well-known task data keys, else the business key."""
    if isinstance(data.get("subject"), str):
        return str(data["subject"])[:300]
    parts = [str(data[k]) for k in _NAME_KEYS[1:] if data.get(k) not in (None, "")][:1]
    amount = next((data[k] for k in _AMOUNT_KEYS if data.get(k) not in (None, "")), None)
    if amount is not None:
        currency = data.get("currency")
        parts.append(f"{amount} {currency}" if currency else str(amount))
    if not parts and business_key:
        parts.append(business_key)
    return " · ".join(parts)[:300]
