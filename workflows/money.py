"""Money as people read it: exact Decimals from what clients send, and amounts shown with grouping."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal

LOCALE = "en"


def as_decimal(value: Any) -> Decimal | None:
    """The value as an exact Decimal (floats through their shortest repr); None when it is no number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float | str):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def format_money(value: Any, currency: str | None = None, *, empty: str = "-") -> str:
    """An amount with grouping and two decimals ("1,800,000.00", "1,200.50 EUR").

    `empty` stands for a missing amount (None or ""); anything else that is no number is shown as it is,
    so a template never fails on an odd value in task data.
    """
    if value is None or value == "":
        return empty
    number = as_decimal(value)
    if number is None:
        return str(value)
    text = format_decimal(number, format="#,##0.00", locale=LOCALE)
    return f"{text} {currency}" if currency else text
