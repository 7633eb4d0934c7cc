"""A case's data with its values hidden, for the studio's previews (issue 18).

A process owner who may read no case of a process still wants to see a task's subject or instructions
rendered: `credit_file["customer_name"] + ", " + money(requested_limit, currency)` over no data only says
NameError. `hidden(data)` keeps what a text needs to render, the keys, the nesting and each value's type,
and nothing of anyone's data: text becomes a placeholder naming its key (‹customer_name›), numbers 0,
amounts Decimal 0.00, dates and times a fixed date, booleans false; a list keeps one element's shape.

What is kept is bounded, whatever the stored case holds (a crafted diagram can store anything a script can
build): nesting deeper than MAX_DEPTH, more than MAX_KEYS keys in one mapping and more than MAX_NODES values
in all are cut, so a preview over a deep or huge case stays small. A key is itself data when it is not a
name (a mapping keyed by invoice number or by a person's name with a space): such keys are replaced by
placeholders too, numbered in their order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

MAX_DEPTH = 12  # levels of mappings and lists kept; a deeper value is a placeholder text
MAX_KEYS = 200  # keys kept of one mapping
MAX_NODES = 5_000  # values kept in all
PLACEHOLDER_CHARS = 60  # of a key named in a placeholder
FIXED_DAY = date(2000, 1, 1)  # every date; plainly not a case's own
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def hidden(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with every value replaced by a placeholder of its type (see the module's docstring)."""
    budget = [MAX_NODES]
    return _mapping(data, 0, budget)


def _mapping(value: Mapping[Any, Any], depth: int, budget: list[int]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for number, key in enumerate(value):
        if number >= MAX_KEYS or budget[0] <= 0:
            break
        name = key if isinstance(key, str) and _NAME.fullmatch(key) else f"‹key {number + 1}›"
        kept[name] = _value(value[key], name, depth + 1, budget)
    return kept


def _value(value: Any, name: str, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if isinstance(value, bool) or value is None:  # bool before int: True is an int
        return None if value is None else False
    if isinstance(value, Decimal):
        return Decimal("0.00")
    if isinstance(value, int):  # a plain 0 even for an int subclass (an IntEnum may have no member 0)
        return 0
    if isinstance(value, float):
        return 0.0
    if isinstance(value, datetime):
        return datetime.combine(FIXED_DAY, time(), UTC if value.tzinfo is not None else None)
    if isinstance(value, date):
        return FIXED_DAY
    if isinstance(value, time):
        return time()
    if isinstance(value, timedelta):
        return timedelta()
    if depth < MAX_DEPTH and budget[0] > 0:
        if isinstance(value, Mapping):
            return _mapping(value, depth, budget)
        if isinstance(value, (list, tuple)):
            shape = [_value(value[0], name, depth + 1, budget)] if value else []
            return tuple(shape) if isinstance(value, tuple) else shape
    return _placeholder(name)  # text, bytes, a cut branch, or a type a template only prints


def _placeholder(name: str) -> str:
    if name.startswith("‹"):  # a key that was data: its own placeholder already
        return name
    return f"‹{name[:PLACEHOLDER_CHARS]}›"
