"""A handler's refused request field is named by its words, in the reader's language, never by
"<operation>.<field>" (L1's leftover of R22 P-1: "credit.check.amount：'NaN' 不是有限数值")."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale, gettext

from handlers.registry import build_operations
from handlers.request_fields import REQUEST_FIELD_WORDS
from workflows.engine.service_tasks import HandlerInputError, build_request, field_words
from workflows.messages import translated

ROOT = Path(__file__).resolve().parents[2]
# The types build_request converts, so the ones whose refusal names the field.
CONVERTED = (Decimal, date, datetime, int)


@dataclass
class _Guarantee:
    guarantee_amount: Decimal
    amount: Decimal


def _refusal(params: dict[str, str]) -> str:
    with pytest.raises(HandlerInputError) as refused:
        build_request(
            _Guarantee, {"guarantee_amount": "1", "amount": "1", **params}, "contract.add_safeguard"
        )
    said: str = refused.value.args[0]  # a Text: said again in the reader's language
    return said


@pytest.mark.parametrize(
    ("params", "english", "chinese"),
    [
        ({"amount": "NaN"}, "Amount: 'NaN' is not a finite number", "金额：'NaN' 不是有限数值"),
        (
            {"guarantee_amount": "NaN"},
            "Guarantee amount: 'NaN' is not a finite number",
            "担保金额：'NaN' 不是有限数值",
        ),
    ],
)
def test_a_refused_field_is_named_by_its_words_in_the_reader_s_language(
    app: Flask, params: dict[str, str], english: str, chinese: str
) -> None:
    said = _refusal(params)
    assert said == english and "contract.add_safeguard" not in said
    with app.test_request_context(), force_locale("zh_Hans"):
        assert translated(said, gettext) == chinese


def test_every_converted_field_of_a_registered_request_has_words_the_catalogue_says() -> None:
    with (ROOT / "webui/translations/zh_Hans/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = read_po(po, locale="zh_Hans")
    listed = {str(words) for words in REQUEST_FIELD_WORDS}
    unsaid = []
    for operation in build_operations().values():
        hints = typing.get_type_hints(operation.request_type)
        for field in dataclasses.fields(operation.request_type):
            hint = hints[field.name]
            if typing.get_origin(hint) in (typing.Union, types.UnionType):
                hint = next(a for a in typing.get_args(hint) if a is not type(None))
            if hint not in CONVERTED:
                continue
            words = str(field_words(field.name))
            message = catalogue.get(words)
            if words not in listed and not (message and message.string):
                unsaid.append(f"{operation.name}.{field.name}")
    assert not unsaid, f"add their words to handlers/request_fields.py: {sorted(set(unsaid))}"
