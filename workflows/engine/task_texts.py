"""The texts an approver sees on a task: its one-line subject and its instructions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from workflows.money import format_money

logger = logging.getLogger(__name__)

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


_INSTRUCTIONS = SandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)
_INSTRUCTIONS.filters["money"] = format_money


@lru_cache(maxsize=512)
def _compiled(template: str) -> Template:
    # Instructions come from deployed diagrams and repeat on every task: compile each text once.
    return _INSTRUCTIONS.from_string(template)


def render_instructions(template: str, data: Mapping[str, Any]) -> str:
    """Fill `{{ placeholders }}` of a task's instructions from its data (sandboxed; escaped where shown)."""
    if "{" not in template:
        return template
    try:
        return _compiled(template).render(**data)
    except TemplateError:
        logger.warning("instructions could not be rendered: %r", template, exc_info=True)
        return template
