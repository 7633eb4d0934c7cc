"""format_money writes an amount as CLDR's standard currency format for the reader's locale (issue 20):
one rule for English and Chinese, the currency's symbol before the number, grouping, two decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from workflows.money import format_money

MILLION = Decimal("1200000.00")


@pytest.mark.parametrize(
    ("currency", "english", "chinese"),
    [
        ("EUR", "€1,200,000.00", "€1,200,000.00"),
        ("GBP", "£1,200,000.00", "£1,200,000.00"),
        # CLDR's choice: the en reader sees the yuan as CN¥ (¥ alone is the yen there), the zh reader as ¥.
        ("CNY", "CN¥1,200,000.00", "¥1,200,000.00"),
        ("USD", "$1,200,000.00", "US$1,200,000.00"),
        ("JPY", "¥1,200,000.00", "JP¥1,200,000.00"),  # stored in cents, so two decimals for the yen too
        # A symbol ending in a letter is set off by a no-break space (CLDR's currencySpacing).
        ("CHF", "CHF\xa01,200,000.00", "CHF\xa01,200,000.00"),
        ("XTS", "XTS\xa01,200,000.00", "XTS\xa01,200,000.00"),  # a code CLDR names no symbol for
    ],
)
def test_each_currency_as_an_english_and_a_chinese_reader_write_it(
    currency: str, english: str, chinese: str
) -> None:
    assert format_money(MILLION, currency, locale="en") == english
    assert format_money(MILLION, currency) == english  # no reader's locale (mail, messages): English
    assert format_money(MILLION, currency, locale="zh_Hans") == chinese


@pytest.mark.parametrize(
    ("value", "currency", "english", "chinese"),
    [
        (Decimal("-25650.5"), "GBP", "-£25,650.50", "-£25,650.50"),
        (Decimal("-3.5"), "CNY", "-CN¥3.50", "-¥3.50"),
        (Decimal("-1200"), "CHF", "-CHF\xa01,200.00", "-CHF\xa01,200.00"),
        (Decimal("0"), "EUR", "€0.00", "€0.00"),
        (0, "USD", "$0.00", "US$0.00"),
        (Decimal("0.004"), "EUR", "€0.00", "€0.00"),
        ("1234.5", "EUR", "€1,234.50", "€1,234.50"),
        (1234.5, "CNY", "CN¥1,234.50", "¥1,234.50"),
    ],
)
def test_negative_zero_and_other_forms_of_an_amount(
    value: object, currency: str, english: str, chinese: str
) -> None:
    assert (format_money(value, currency, locale="en"), format_money(value, currency, locale="zh_Hans")) == (
        english,
        chinese,
    )


def test_an_amount_without_a_currency_is_a_plain_grouped_number() -> None:
    assert format_money(MILLION) == "1,200,000.00"
    assert format_money(Decimal("-25650.5"), locale="zh_Hans") == "-25,650.50"
    assert format_money(0, "") == "0.00"


def test_a_missing_amount_or_no_number_is_shown_as_the_caller_asks() -> None:
    assert format_money(None, "EUR") == "-"
    assert format_money("", "EUR", empty="—") == "—"
    assert format_money("n/a", "EUR") == "n/a"
