"""Every text a record's fields take fits its column: PostgreSQL refuses a longer value inside the INSERT
(a 500 found by the API fuzzer), SQLite would store it. The parser names the field instead (422)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import String

from workflows.credit.contracts import CONTRACT_FIELDS
from workflows.credit.customers import CUSTOMER_FIELDS, MIGRATED_CUSTOMER_FIELDS
from workflows.credit.models import Contract, Customer, Supplier
from workflows.credit.record_fields import FieldSpec, parse_fields
from workflows.credit.suppliers import SUPPLIER_FIELDS
from workflows.errors import Invalid
from workflows.languages import LANGUAGES

RECORDS = [
    ("customer", CUSTOMER_FIELDS, Customer),
    ("migrated customer", MIGRATED_CUSTOMER_FIELDS, Customer),
    ("supplier", SUPPLIER_FIELDS, Supplier),
    ("contract", CONTRACT_FIELDS, Contract),
]


@pytest.mark.parametrize(("what", "specs", "model"), RECORDS, ids=[r[0] for r in RECORDS])
def test_every_text_field_takes_at_most_its_column_length(
    what: str, specs: dict[str, FieldSpec], model: Any
) -> None:
    for name, spec in specs.items():
        column = model.__table__.c[name].type
        if isinstance(column, String) and column.length is not None:
            if spec.kind == "language":  # only the codes creditflow speaks are taken (workflows/languages.py)
                assert all(len(code) <= column.length for code in LANGUAGES), (what, name)
                continue
            assert spec.text_limit is not None and spec.text_limit <= column.length, (what, name)


def test_a_language_creditflow_does_not_speak_is_named() -> None:
    raw = {"name": "X", "currency": "EUR", "language": "x" * 11, "external_id": "E" * 81}
    with pytest.raises(Invalid) as caught:
        parse_fields("customer", CUSTOMER_FIELDS, raw, date(2026, 3, 2))
    assert caught.value.details["fields"] == {
        "language": "language must be one of en, zh, got 'xxxxxxxxxxx'",
        "external_id": "At most 80 characters.",
    }
