"""The money parser: what the API writes comes back exact, and nothing a client sends makes it crash."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.money import CENT, MAX_AMOUNT, parse_money

amounts = st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=2, allow_nan=False)


@given(amounts)
def test_an_amount_as_the_api_writes_it_comes_back_exactly(amount: Decimal) -> None:
    text = f"{amount:.2f}"  # records.money_text and the JSON answers write amounts like this
    assert parse_money(text) == amount and parse_money(text).as_tuple() == Decimal(text).as_tuple()
    # The same amount as a JSON number, parsed the way the API parses bodies.
    assert parse_money(json.loads(text, parse_float=Decimal)) == amount


@given(amounts)
def test_every_form_of_an_amount_means_the_same(amount: Decimal) -> None:
    for written in (str(amount), f"{amount:e}", f" {amount} ", f"{amount:f}"):
        assert parse_money(written) == amount


@given(st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1))
def test_whole_amounts_are_exact(units: int) -> None:
    assert parse_money(units) == Decimal(units)
    assert parse_money(str(units)) == Decimal(units)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_kept_only_when_no_cent_is_lost(number: float) -> None:
    try:
        parsed = parse_money(number)
    except ValueError:
        return
    assert parsed == Decimal(repr(number)) and parsed == parsed.quantize(CENT)
    assert abs(parsed) <= MAX_AMOUNT


@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")), st.decimals(), st.integers()))
def test_anything_else_is_an_amount_within_bounds_or_a_value_error(value: Any) -> None:
    try:
        parsed = parse_money(value)
    except ValueError as exc:
        assert str(exc)  # a sentence the form shows next to the field
        return
    assert isinstance(parsed, Decimal) and parsed.is_finite()
    assert abs(parsed) <= MAX_AMOUNT and parsed == parsed.quantize(CENT)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (0.1 + 0.2, "two decimal places"),
        ("12.345", "two decimal places"),
        ("1e30", "Must be between"),
        (Decimal("1e400"), "Must be between"),
        (10**40, "Must be between"),
        ("1e999999999999999999999", "out of range"),
        (float("nan"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (Decimal("sNaN"), "finite"),
        ("NaN", "not an amount"),
        ("1_000", "not an amount"),
        ("١٢٣", "not an amount"),
        ("1,000.00", "not an amount"),
        (True, "Must be an amount"),
        (None, "Must be an amount"),
        ([1], "Must be an amount"),
    ],
)
def test_refusals_say_why(value: Any, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_money(value)


def test_exponent_forms_and_trailing_zeros_are_written_plainly() -> None:
    assert str(parse_money("1e3")) == "1000"
    assert str(parse_money("1.2300")) == "1.23"
    assert str(parse_money("750000")) == "750000"
    assert str(parse_money("750000.00")) == "750000.00"
    assert str(parse_money(12.5)) == "12.5"
