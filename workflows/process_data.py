"""What a user may put into process data: any JSON, within limits the engine can save, show and reload.

Start data, form fields and message payloads are checked before they reach the engine, so bad input is a
422 naming the field instead of an instance that fails on its next step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from workflows.errors import Invalid, field_listing
from workflows.messages import _

# Containers (objects, arrays) nested inside one top-level field. Saving and restoring an instance recurse a
# few Python frames per level: 200 levels still round-tripped through the engine, 250 hit the recursion
# limit (measured). Real process data is a handful of levels deep.
MAX_DATA_DEPTH = 50


def check_process_data(data: Mapping[str, Any], what: str) -> None:
    """Refuse data the engine could not save or show; `what` names it in the message ("message dispute").

    Refused: nesting deeper than MAX_DATA_DEPTH, NaN and Infinity, NUL characters and unpaired surrogates
    in strings (PostgreSQL and UTF-8 reject them), and keys that are not strings.

    Raises:
        Invalid: with `details["fields"]` naming each bad top-level field.
    """
    errors: dict[str, str] = {}
    for key, value in data.items():
        problem = _problem(key, 0) if isinstance(key, str) else _("field names must be strings")
        problem = problem or _problem(value, 0)
        if problem:
            errors[str(key)[:100]] = problem
    if errors:
        listing = field_listing(dict(sorted(errors.items())))
        raise Invalid(
            _("%(what)s cannot be used: %(listing)s", what=what, listing=listing), details={"fields": errors}
        )


def _problem(value: Any, depth: int) -> str | None:
    # Iterative, so data nested far deeper than the limit is refused without exhausting the stack.
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level > MAX_DATA_DEPTH:
            return _("nested deeper than %(depth)s levels; flatten the data", depth=MAX_DATA_DEPTH)
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, float) and not math.isfinite(item):
            return _("NaN and Infinity are not numbers; send a finite number")
        elif isinstance(item, Decimal) and not item.is_finite():
            return _("NaN and Infinity are not numbers; send a finite number")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    return _("keys must be strings, not %(type)s", type=type(key).__name__)
                stack.append((key, level + 1))
                stack.append((child, level + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, level + 1) for child in item)
    return None


def text_problem(text: str) -> str | None:
    """Why a string cannot be process data (a NUL character, an unpaired surrogate), or None."""
    if "\x00" in text:
        return _("contains a NUL character (\\u0000); remove it")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _(
                "contains an unpaired surrogate (such as \\ud800), which is not text; send valid Unicode"
            )
    return None
