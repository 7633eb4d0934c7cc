"""The e-mail templates' money and when filters keep what they wrote (workflows/mail/templates.py, issue 19):
each answer is the one format_money / format_when_for gives for that very value, whatever equal value was
written before it (1.0 and 1.00, the same instant in two zones, a day and its midnight)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest

from workflows.mail import templates
from workflows.mail.templates import _environment, format_when_for
from workflows.money import format_money
from workflows.settings import TEMPLATE_DIR

VALUES: list[Any] = [
    Decimal("1.0"),
    Decimal("1.00"),
    Decimal("1"),
    1,
    True,
    "1.00",
    "1",
    1.0,
    Decimal("-0.00"),
    Decimal("0.005"),
    Decimal("0.015"),
    Decimal("1E+41"),
    Decimal("100000000000000000000000000000000000000000"),
    10**41,
    Decimal("NaN"),
    "",
    None,
    "not an amount",
    [1, 2],
]
DAYS: list[Any] = [
    date(2027, 1, 14),
    datetime(2027, 1, 14, tzinfo=UTC),
    datetime(2027, 1, 14),
    datetime(2027, 1, 14, 9, 30, tzinfo=UTC),
    datetime(2027, 1, 14, 10, 30, tzinfo=timezone(timedelta(hours=1))),
    datetime(2027, 1, 14, 23, 30, tzinfo=timezone(timedelta(hours=-2))),
    "2027-01-14",
    "2027-01-14T09:30:00+00:00",
    "soon",
    "",
    None,
]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_money_filter_writes_each_value_as_format_money_does(language: str) -> None:
    money = _environment(TEMPLATE_DIR, language).filters["money"]
    locale = None if language == "en" else "zh_Hans"
    for _round in range(2):  # the second round from what the first kept
        for currency in ("EUR", "CNY", None, "X1"):
            for value in VALUES:
                expected = format_money(value, currency, locale=locale)
                assert money(value, currency) == expected, (value, currency)
        assert money(None, "EUR", empty="n/a") == "n/a"


def test_the_money_filter_rounds_in_the_context_it_is_called_in() -> None:
    money = _environment(TEMPLATE_DIR, "en").filters["money"]
    half = Decimal("0.125")
    assert money(half, "EUR") == format_money(half, "EUR")
    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        assert money(half, "EUR") == format_money(half, "EUR") == "€0.13"
    assert money(half, "EUR") == format_money(half, "EUR") == "€0.12"  # half even


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_when_filter_writes_each_value_as_format_when_for_does(language: str) -> None:
    when = _environment(TEMPLATE_DIR, language).filters["when"]
    for _round in range(2):
        for value in DAYS:
            assert when(value) == format_when_for(value, language=language), value


def test_a_notice_is_written_as_before_and_once_more_alike() -> None:
    context = {
        "level": 2,
        "title": "Second reminder",
        "customer_name": "Acme <GmbH>",
        "contact_name": None,
        "invoices": [
            {"number": "INV-1", "due_date": "2027-01-14", "days_overdue": 30, "open_amount": "1200.50"},
            {"number": "INV-2", "due_date": "2027-01-20", "days_overdue": 24, "open_amount": "1200.5"},
        ],
        "total": Decimal("2401.00"),
        "fees": Decimal("5.0"),
        "currency": "EUR",
        "blocked": False,
        "next_step_on": "2027-02-28",
        "interest": None,
    }
    first = templates.render_email("dunning_notice", context, language="en")
    templates._kept_money.cache_clear()
    templates._kept_when.cache_clear()
    assert templates.render_email("dunning_notice", context, language="en") == first
    assert "€1,200.50" in first.text and "€5.00" in first.text and "28 Feb 2027" in first.text
