"""Money as people read it: exact Decimals from what clients send, and amounts shown with grouping."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from babel.numbers import format_currency, format_decimal

from workflows.languages import LANGUAGES
from workflows.messages import Worded, _

LOCALE = "en"
CENT = Decimal("0.01")
# The largest amount a client may send: amounts are stored as BigInteger hundredths (store.models.Decimal2),
# and sums of many amounts must still fit there; no credit limit or invoice comes near a trillion.
MAX_AMOUNT = Decimal("999999999999.99")
# What clients write: a plain decimal with a dot, optionally in exponent form; ASCII digits only (Decimal()
# alone would also take "1_000", "NaN" and Arabic-Indic digits). Longer strings are no amount anyway.
_AMOUNT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_AMOUNT_TEXT = 40


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


def parse_money(value: Any) -> Decimal:
    """An amount a client sent, as the exact Decimal it wrote ("1800000.00"; 750000 -> Decimal("750000")).

    Takes what the API itself writes (decimal strings such as "1800000.00") and JSON numbers (Decimal
    when parsed with parse_float=Decimal, int, or a float whose shortest form has at most two decimals).

    Raises:
        ValueError: with a sentence for the form: not an amount, not finite, more than two decimal places
            (a float such as 0.1 + 0.2 lands here: it would lose cents), or beyond ±MAX_AMOUNT.
    """
    number: Decimal
    if isinstance(value, bool) or value is None:
        raise ValueError(_("Must be an amount such as 1234.50."))
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        if abs(value) > MAX_AMOUNT:  # compared as int: no Decimal of a huge integer is built
            raise ValueError(_TOO_LARGE)
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(_("Must be a finite amount, not NaN or Infinity."))
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_AMOUNT_TEXT or not _AMOUNT_TEXT.fullmatch(text):
            raise ValueError(
                _(
                    "'%(value)s' is not an amount; write it with a dot: 1234.50.",
                    value=value[:_MAX_AMOUNT_TEXT],
                )
            )
        try:
            number = Decimal(text)
        except InvalidOperation as exc:  # an exponent beyond what decimal can hold, either way
            raise ValueError(_("'%(text)s' is out of range. %(range)s", text=text, range=_RANGE)) from exc
    else:
        raise ValueError(_("Must be an amount such as 1234.50."))
    if not number.is_finite():
        raise ValueError(_("Must be a finite amount, not NaN or Infinity."))
    if number.copy_abs() > MAX_AMOUNT:  # abs() would round in the context, or trap Overflow
        raise ValueError(_TOO_LARGE)
    cents = number.quantize(CENT)
    if cents != number:
        raise ValueError(_("Use at most two decimal places."))
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    # Written as sent, but never in exponent form ("1e3" -> 1000) nor with zeros past the cents.
    return number.quantize(Decimal(1)) if exponent > 0 else cents if exponent < -2 else number


_TOO_LARGE = _("Must be between -%(most)s and %(most)s.", most=f"{MAX_AMOUNT:,}")
_RANGE = _(
    "Amounts lie between -%(most)s and %(most)s, with at most two decimal places.", most=f"{MAX_AMOUNT:,}"
)


def format_money(
    value: Any, currency: str | None = None, *, empty: str = "-", locale: str | None = None
) -> str:
    """An amount as a reader of `locale` writes it, with grouping and two decimals (Babel, CLDR).

    One rule for every locale: the currency as CLDR's standard currency format for the reader writes it.
    English ("en", and None: mail, letters and messages that have no reader's locale yet): "€1,200,000.00",
    "£25,650.50", "$12.00", "CN¥1,200,000.00", "-€3.50"; zh_Hans: "¥1,200,000.00" (CNY), "€1,200,000.00",
    "US$12.00". Without a currency, a plain grouped number: "1,800,000.00".

    `empty` stands for a missing amount (None or ""); anything else that is no number is shown as it is,
    so a template never fails on an odd value in task data.
    """
    if value is None or value == "":
        return empty
    number = as_decimal(value)
    if number is None or not number.is_finite() or number.adjusted() >= _MOST_DIGITS:
        # No number (a NaN Decimal too, which Babel wrote "€NaN.00"), or one no amount comes near: as stored
        # (an int through Decimal: str() of a huge int raises).
        return str(number) if isinstance(value, int) and number is not None else str(value)
    if number.copy_abs() <= _HALF_CENT:
        number = Decimal(0)  # "-0" (or -0.001) owes nothing: "€0.00", not "-€0.00"
    locale = locale or LOCALE
    with localcontext() as context:
        # Babel rounds to the cents in the current context: 28 digits raised InvalidOperation from 10**26 on.
        context.prec = max(context.prec, _MOST_DIGITS + 4)
        if not currency:
            return format_decimal(number, format="#,##0.00", locale=locale)
        if not isinstance(currency, str) or not _CODE.fullmatch(currency):
            # A stored code that is no ISO code ("1", an emoji, 50 letters): after the number, set off, so
            # that "1" and 5 never read "15.00".
            return f"{format_decimal(number, format='#,##0.00', locale=locale)} {currency}"
        # Amounts are stored in cents whatever the currency (Decimal2), so two decimals for JPY too.
        text = format_currency(number, currency.upper(), locale=locale, currency_digits=False)
    return _SPACED_CODE.sub("\\1\xa0\\2", text, count=1)


_CODE = re.compile(r"[A-Za-z]{3}")
_HALF_CENT = Decimal("0.005")  # rounds to zero (half even, as Babel rounds)
# Amounts from 10**_MOST_DIGITS on are shown as stored: stored amounts stay below a trillion (MAX_AMOUNT), so
# only odd task data gets there, and "1e999999" must not become a million digits.
_MOST_DIGITS = 40


# CLDR's currencySpacing, which Babel does not apply: a symbol that ends in a letter (an ISO code such as
# "CHF", or a code CLDR has no symbol for) is set off from the digits by a no-break space, "CHF\xa01,200.00",
# where "€1,200.00", "CN¥1,200.00" and "US$1,200.00" end in a currency sign and stay joined.
_SPACED_CODE = re.compile(r"^(-?[^\W\d_]+)(\d)")


def money_words(value: Any, currency: str | None) -> Worded:
    """An amount as a sentence's parameter (a workflows.messages.Text): written as the reader of the
    catalogue that says the sentence writes it, "CN¥7,800,000.00" in English, "¥7,800,000.00" in Chinese."""
    said = {code: format_money(value, currency, locale=locale) for code, locale in LANGUAGES.items()}
    return Worded(said["en"], said)
