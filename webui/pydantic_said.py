"""pydantic's validation messages (a query parameter the API refuses, 400) as sentences the catalogue
translates, chosen by the error's `type`: pydantic's own `msg` is English only.

The English of each is pydantic's sentence word for word, so an English caller reads what it read before;
an error type not listed keeps pydantic's English sentence (its values are the caller's own input).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from workflows.errors import message_of
from workflows.messages import _

# type -> the sentence, from the error's ctx (pydantic v2's error types; ctx keys as pydantic names them).
_SAID: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda ctx: _("Field required"),
    "extra_forbidden": lambda ctx: _("Extra inputs are not permitted"),
    "int_parsing": lambda ctx: _("Input should be a valid integer, unable to parse string as an integer"),
    "int_type": lambda ctx: _("Input should be a valid integer"),
    "int_from_float": lambda ctx: _("Input should be a valid integer, got a number with a fractional part"),
    "float_parsing": lambda ctx: _("Input should be a valid number, unable to parse string as a number"),
    "decimal_parsing": lambda ctx: _("Input should be a valid decimal"),
    "bool_parsing": lambda ctx: _("Input should be a valid boolean, unable to interpret input"),
    "greater_than_equal": lambda ctx: _("Input should be greater than or equal to %(ge)s", ge=ctx.get("ge")),
    "greater_than": lambda ctx: _("Input should be greater than %(gt)s", gt=ctx.get("gt")),
    "less_than_equal": lambda ctx: _("Input should be less than or equal to %(le)s", le=ctx.get("le")),
    "less_than": lambda ctx: _("Input should be less than %(lt)s", lt=ctx.get("lt")),
    "string_too_long": lambda ctx: _(
        "String should have at most %(max_length)s characters", max_length=ctx.get("max_length")
    ),
    "string_too_short": lambda ctx: _(
        "String should have at least %(min_length)s characters", min_length=ctx.get("min_length")
    ),
    "string_pattern_mismatch": lambda ctx: _(
        "String should match pattern '%(pattern)s'", pattern=ctx.get("pattern")
    ),
    "literal_error": lambda ctx: _("Input should be %(expected)s", expected=ctx.get("expected")),
    "enum": lambda ctx: _("Input should be %(expected)s", expected=ctx.get("expected")),
    "date_parsing": lambda ctx: _(
        "Input should be a valid date in the format YYYY-MM-DD, %(error)s", error=ctx.get("error")
    ),
    "date_from_datetime_parsing": lambda ctx: _(
        "Input should be a valid date or datetime, %(error)s", error=ctx.get("error")
    ),
    "datetime_parsing": lambda ctx: _("Input should be a valid datetime, %(error)s", error=ctx.get("error")),
}


def said(error: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ValidationError.errors()) as a sentence the reader's language has."""
    ctx = error.get("ctx") or {}
    if error.get("type") == "value_error" and isinstance(ctx.get("error"), Exception):
        # Our own validator's ValueError: its sentence (a Text when made with _) after pydantic's frame.
        return _("Value error, %(problem)s", problem=message_of(ctx["error"]))
    make = _SAID.get(str(error.get("type")))
    return make(ctx) if make is not None else str(error.get("msg", ""))
