"""The libraries' sentences a person reads are said in their language (issue 20): pydantic's query
parameter messages by error type (webui/pydantic_said.py), jsonschema's const and
additionalProperties in a form, and Python's syntax error framed with its line and column."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import BaseModel, Field, ValidationError

from tests.helpers import auth
from webui.pydantic_said import said
from workflows.definitions.forms import validate_form
from workflows.engine.script_code import check_code
from workflows.errors import Invalid
from workflows.messages import translated

CJK = re.compile(r"[\u4e00-\u9fff]")


class _Query(BaseModel, extra="forbid"):
    page: int = Field(1, ge=1, le=100)
    name: str = Field("", max_length=3)


def _errors(data: dict[str, Any]) -> list[Any]:
    with pytest.raises(ValidationError) as refused:
        _Query.model_validate(data)
    return list(refused.value.errors())


def test_pydantic_s_common_messages_keep_their_english_and_have_chinese(app: Flask) -> None:
    errors = _errors({"page": "x", "name": "abcd", "extra": 1})
    errors += _errors({"page": 0})
    for error in errors:
        sentence = said(error)
        assert str(sentence) == error["msg"], error  # English as pydantic wrote it
        with app.test_request_context("/api/x", headers={"Accept-Language": "zh"}):
            from flask_babel import gettext

            chinese = translated(sentence, gettext)
        assert CJK.search(chinese) and chinese != error["msg"], (error["type"], chinese)


def test_an_api_query_refusal_is_chinese_for_a_chinese_caller(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    headers = {**auth(demo_tokens["admin"]), "Accept-Language": "zh"}
    refused = client.get("/api/customers?page=0", headers=headers)
    assert refused.status_code == 400, refused.get_json()
    message = refused.get_json()["error"]["message"]
    assert "应大于或等于 1" in message and "greater than" not in message, message
    english = client.get("/api/customers?page=0", headers=auth(demo_tokens["admin"]))
    assert "Input should be greater than or equal to 1" in english.get_json()["error"]["message"]


def test_a_form_s_const_and_additional_properties_are_said(app: Flask) -> None:
    schema = {
        "type": "object",
        "properties": {
            "agree": {"const": True},
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
        },
    }
    with pytest.raises(Invalid) as refused:
        validate_form(schema, {"agree": False, "rows": [{"a": "x", "b": 1}]})
    fields = refused.value.details["fields"]
    assert isinstance(fields, dict)
    assert fields["agree"] == "True was expected"
    assert fields["rows"] == "/0: Additional properties are not allowed ('b' was unexpected)"
    with app.test_request_context("/api/x", headers={"Accept-Language": "zh"}):
        from flask_babel import gettext

        assert translated(fields["agree"], gettext) == "应为 True"
        assert translated(fields["rows"], gettext).startswith("/0：不允许额外的字段（'b'")


def test_a_python_syntax_error_is_framed_with_its_line_and_column(app: Flask) -> None:
    problem = check_code("x = 1\ny = (2 +\n", "exec")[0]
    english = str(problem.message)
    assert english.startswith("Python syntax error at line 2, column ") and "'(' was never closed" in english
    with app.test_request_context("/api/x", headers={"Accept-Language": "zh"}):
        from flask_babel import gettext

        chinese = translated(problem.message, gettext)
    # Python's own words stay; the frame, with where, is Chinese.
    assert chinese.startswith("Python 语法错误（代码第 2 行第 ") and "'(' was never closed" in chinese
