"""Field rules shared by the credit file, suppliers and contracts: one converter per kind of value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from workflows.errors import Invalid, field_listing, message_of
from workflows.languages import check_language
from workflows.messages import _
from workflows.store.db import MAX_INTEGER
from workflows.store.jsonable import to_jsonable

# Money is stored as BIGINT hundredths (Decimal2: at most ~9.2e16). Amounts stop at 1e15, beyond any real
# amount in any currency (a yen revenue of ~4.5e13 fits), which leaves room for sums of many of them.
MAX_AMOUNT = Decimal("999999999999999.99")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# The contract's day: YYYY-MM-DD only. date.fromisoformat (3.11) also reads 20271231, 2027W525 and 2027-W52,
# and str() turned the JSON number 20271231 into a day, so an integer was stored as a date.
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


# The longest text each kind takes unless its FieldSpec says less (for a shorter column).
TEXT_LIMITS = {"text": 200, "email": 200, "rating": 10, "currency": 3}


@dataclass(frozen=True)
class FieldSpec:
    # text | email | currency | year | money | ratio | date | id | count | percent | days | rating | terms
    # | language (en, zh: workflows.languages)
    # | flag (true/false; a CSV cell says true, false, yes, no, 1 or 0)
    kind: str
    required: bool = False
    # Text kinds: at most this many characters (the column's length: PostgreSQL refuses longer values).
    max_length: int | None = None

    @property
    def text_limit(self) -> int | None:
        """The most characters a value of this field may have; None for kinds that are not text."""
        return self.max_length or TEXT_LIMITS.get(self.kind)


def parse_fields(
    what: str, specs: Mapping[str, FieldSpec], raw: Mapping[str, Any], today: date
) -> dict[str, Any]:
    """Check and convert fields (from JSON or a CSV row); empty strings count as absent.

    Raises:
        Invalid: `details["fields"]` names each bad field and why.
    """
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        errors["_unknown"] = _("Unknown field(s): %(unknown)s.", unknown=", ".join(unknown))
    for name, spec in specs.items():
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                errors[name] = _("This field is required.")
            continue
        try:
            out[name] = convert_field(spec.kind, value, today, max_length=spec.max_length)
        except ValueError as exc:
            errors[name] = message_of(exc)
    raise_field_errors(errors, what)
    return out


def raise_field_errors(errors: dict[str, str], what: str) -> None:
    """Raises: Invalid naming each field of `errors` ("The order has errors: amount: ..."), if any."""
    if errors:
        listing = field_listing(errors)
        raise Invalid(
            _("The %(what)s has errors: %(listing)s", what=what, listing=listing), details={"fields": errors}
        )


def parse_customer_id(value: Any, errors: dict[str, str]) -> int | None:
    """A customer id sent in JSON (a whole number in the id range); else None and errors["customer_id"]."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_INTEGER:
        return value
    errors["customer_id"] = _("The id of an existing customer is required.")
    return None


def convert_field(kind: str, value: Any, today: date, *, max_length: int | None = None) -> Any:
    """Check and convert one value of a kind; text kinds take at most `max_length` characters if given.

    Raises:
        ValueError: with a message that says what a valid value looks like.
    """
    if kind != "terms" and isinstance(value, (Mapping, list)):
        # str() would store the object's Python spelling, e.g. a name "{'typename': 'x'}".
        raise ValueError(_("A single value, not a JSON object or list."))
    if kind == "flag":
        flag = value if isinstance(value, bool) else _FLAGS.get(str(value).strip().lower())
        if flag is None:
            raise ValueError(_("true or false."))
        return flag
    if kind in ("id", "count", "percent", "days"):
        upper = {"id": MAX_INTEGER, "count": MAX_INTEGER, "percent": 100, "days": 365}[kind]
        text = str(value).strip()
        if isinstance(value, bool) or not _is_whole(text) or (kind == "id" and int(text) < 1):
            raise ValueError(
                _("A whole number of 1 or more.") if kind == "id" else _("A whole number of 0 or more.")
            )
        if int(text) > upper:
            raise ValueError(_("At most %(upper)s.", upper=upper))
        return int(text)
    limit = max_length or TEXT_LIMITS.get(kind, 0)
    if kind == "rating":
        text = str(value).strip().upper()
        if len(text) > limit:
            raise ValueError(_("An agency rating such as BBB+ (at most %(limit)s characters).", limit=limit))
        return text
    if kind == "terms":
        if not isinstance(value, Mapping):
            raise ValueError(_('An object of named terms, e.g. {"price": "EUR 820 per tonne"}.'))
        return to_jsonable(dict(value))
    text = str(value).strip()
    if kind == "language":
        # A language creditflow writes letters in (en, zh; "ZH" is read as zh): any other code would fall back
        # to English without a word, so it is refused, naming the languages there are.
        return check_language(text)
    if kind == "text":
        if len(text) > limit:
            raise ValueError(_("At most %(limit)s characters.", limit=limit))
        return text
    if kind == "email":
        if len(text) > limit:
            raise ValueError(_("At most %(limit)s characters.", limit=limit))
        if not _EMAIL.match(text):
            raise ValueError(_("'%(text)s' is not an e-mail address.", text=text))
        return text
    if kind == "currency":
        if not _CURRENCY.match(text):
            raise ValueError(_("Use a three-letter ISO currency code such as EUR."))
        return text
    if kind == "year":
        if isinstance(value, bool) or not _is_whole(text) or not 1800 <= int(text) <= today.year:
            raise ValueError(_("A year between 1800 and %(year)s.", year=today.year))
        return int(text)
    if kind in ("money", "ratio"):
        if isinstance(value, (bool, float)):
            raise ValueError(_("Send amounts as decimal strings or exact JSON numbers."))
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(
                _("'%(text)s' is not a decimal number (use a dot: 1234.50).", text=text)
            ) from exc
        return check_amount(amount, positive=False)
    if kind == "date":
        if not isinstance(value, (str, date)) or not _ISO_DAY.fullmatch(text):
            raise ValueError(_("'%(text)s' is not an ISO date (YYYY-MM-DD).", text=text[:40]))
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(_("'%(text)s' is not an ISO date (YYYY-MM-DD).", text=text)) from exc
    raise AssertionError(f"unknown field kind {kind}")


def check_amount(amount: Decimal, *, positive: bool) -> Decimal:
    """The amount when it is finite, zero or more (more than zero if `positive`), at most MAX_AMOUNT and
    in whole cents.

    Raises:
        ValueError: saying which rule it breaks.
    """
    if not amount.is_finite() or amount < 0 or (positive and amount == 0):
        raise ValueError(_("Must be more than zero.") if positive else _("Must be zero or more."))
    if amount > MAX_AMOUNT:
        raise ValueError(_("At most %(max_amount)s.", max_amount=MAX_AMOUNT))
    # Checked after the size: quantizing 1E+30 to cents exceeds the context's precision (InvalidOperation).
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(_("At most two decimal places."))
    return amount


def _is_whole(text: str) -> bool:
    # ASCII digits only: str.isdigit() is true for "²", which int() refuses; no column holds 20 digits.
    return text.isascii() and text.isdigit() and len(text) <= 19


def money_text(value: Decimal | None) -> str | None:
    """An amount as the API shows it: a string with two decimals."""
    return None if value is None else f"{value:.2f}"


def iso_text(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()
