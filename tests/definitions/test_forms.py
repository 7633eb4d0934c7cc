"""Task and start forms: money accepts what the API writes, patterns run in linear time, and a form never
reaches outside its deployment (checked at deploy, and impossible at run time)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from workflows.definitions.form_checks import bundle_form
from workflows.definitions.forms import validate_form
from workflows.definitions.validation import InvalidBundle, Problem, validate_bundle
from workflows.errors import Invalid
from workflows.settings import BPMN_DIR

VALID = Path(__file__).resolve().parents[1] / "fixtures" / "valid"
OPERATIONS = {"notify.email", "credit.score"}

MONEY_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["amount"],
    "properties": {
        "amount": {"type": "number", "format": "money", "exclusiveMinimum": 0},
        "impact": {"type": "number", "format": "money"},
        "invoices": {
            "type": "array",
            "items": {"type": "object", "properties": {"amount": {"type": "number", "format": "money"}}},
        },
    },
}


def field_errors(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(Invalid) as refused:
        validate_form(schema, data)
    assert refused.value.status == 422
    return dict(refused.value.details["fields"])


# --- money ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("1800000.00", Decimal("1800000.00")),  # what GET /api/... writes
        (Decimal("1800000.00"), Decimal("1800000.00")),  # a JSON number parsed with parse_float=Decimal
        (1800000, Decimal("1800000")),
        (12.5, Decimal("12.5")),  # a float whose shortest form keeps the cents
        (" 99.9 ", Decimal("99.9")),
        ("1e3", Decimal("1000")),
    ],
)
def test_money_fields_take_decimal_strings_and_json_numbers_as_exact_decimals(
    sent: Any, kept: Decimal
) -> None:
    accepted = validate_form(MONEY_FORM, {"amount": sent, "impact": "-250.50"})
    assert accepted["amount"] == kept and type(accepted["amount"]) is Decimal
    assert accepted["impact"] == Decimal("-250.50")


@pytest.mark.parametrize(
    ("sent", "complaint"),
    [
        (0.1 + 0.2, "at most two decimal places"),  # 0.30000000000000004 would lose cents
        ("12.345", "at most two decimal places"),
        ("1e30", "Must be between"),
        (Decimal("1e400"), "Must be between"),
        ("1e400", "Must be between"),
        (10**400, "Must be between"),
        ("1e999999999999999999999", "out of range"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (Decimal("NaN"), "finite"),
        ("NaN", "is not an amount"),
        ("Infinity", "is not an amount"),
        ("1,800.00", "is not an amount"),
        ("1_000", "is not an amount"),
        ("١٢٣", "is not an amount"),
        (True, "Must be an amount"),
        ({"typename": "Decimal", "value": "1"}, "Must be an amount"),
        ("", "is not an amount"),
        ("9" * 5000, "is not an amount"),
    ],
)
def test_bad_amounts_are_refused_naming_the_field(sent: Any, complaint: str) -> None:
    errors = field_errors(MONEY_FORM, {"amount": sent})
    assert complaint.lower() in errors["amount"].lower()
    assert set(errors) == {"amount"}


def test_money_rules_still_apply_after_parsing() -> None:
    assert field_errors(MONEY_FORM, {"amount": "0.00"}) == {"amount": "Must be greater than 0."}


def test_money_inside_an_array_of_objects_is_parsed_and_a_bad_one_is_named_by_its_path() -> None:
    accepted = validate_form(MONEY_FORM, {"amount": "1", "invoices": [{"amount": "5.10"}, {"amount": 7}]})
    assert accepted["invoices"] == [{"amount": Decimal("5.10")}, {"amount": Decimal("7")}]
    errors = field_errors(MONEY_FORM, {"amount": "1", "invoices": [{"amount": "5.10"}, {"amount": "1e30"}]})
    assert errors["invoices"].startswith("/1/amount: Must be between")


def shipped_forms() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in sorted(BPMN_DIR.glob("*.json")):
        for name, spec in json.loads(path.read_text())["properties"].items():
            yield path.name, name, spec


def test_every_number_field_of_every_shipped_form_is_money() -> None:
    numbers = [(f, n, s) for f, n, s in shipped_forms() if s.get("type") == "number"]
    assert len(numbers) >= 8
    assert [(f, n) for f, n, s in numbers if s.get("format") != "money"] == []


@pytest.mark.parametrize(
    ("form", "field"),
    sorted({(f, n) for f, n, s in shipped_forms() if s.get("format") == "money"}),
)
def test_each_shipped_money_field_takes_the_api_string_and_refuses_a_huge_amount(
    form: str, field: str
) -> None:
    spec = json.loads((BPMN_DIR / form).read_text())["properties"][field]
    schema = {"type": "object", "properties": {field: spec}}  # the field alone: others may be required
    assert validate_form(schema, {field: "1800000.00"}) == {field: Decimal("1800000.00")}
    assert validate_form(schema, {field: Decimal("1800000.00")}) == {field: Decimal("1800000.00")}
    with pytest.raises(Invalid) as refused:
        validate_form(schema, {field: "1e30"})
    assert "Must be between" in refused.value.details["fields"][field]


# --- patterns ---------------------------------------------------------------------------------------


def test_a_catastrophic_pattern_answers_in_well_under_a_second() -> None:
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}},
        "patternProperties": {"^(x+)+$": {"type": "integer"}},
    }
    started = time.perf_counter()
    errors = field_errors(schema, {"code": "a" * 28 + "!"})  # 8.9 s with Python's re
    assert errors == {"code": "'aaaaaaaaaaaaaaaaaaaaaaaaaaaa!' does not match '^(a+)+$'"}
    assert validate_form(
        {"type": "object", "patternProperties": schema["patternProperties"]}, {"x" * 40 + "!": 1}
    )
    assert time.perf_counter() - started < 3  # well under Python's 8.9 s even on a loaded CI machine


def test_patterns_still_match_and_refuse() -> None:
    schema = {"type": "object", "properties": {"currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}}
    assert validate_form(schema, {"currency": "EUR"}) == {"currency": "EUR"}
    assert "does not match" in field_errors(schema, {"currency": "eur"})["currency"]


def test_a_pattern_deployed_before_the_check_is_reported_not_crashed() -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "(a)\\1"}}}
    assert "cannot be checked" in field_errors(schema, {"code": "aa"})["code"]


# --- deploy-time checks -------------------------------------------------------------------------------


def problems_with_form(form: dict[str, Any], **others: dict[str, Any]) -> list[Problem]:
    files = {
        "approval.bpmn": (VALID / "approval.bpmn").read_bytes(),
        "approval_form.json": json.dumps(form, indent=2).encode(),
        **{f"{name}.json": json.dumps(schema, indent=2).encode() for name, schema in others.items()},
    }
    with pytest.raises(InvalidBundle) as refused:
        validate_bundle(files, OPERATIONS)
    return refused.value.problems


def form_with(field_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["decision"],
        "properties": {"decision": {"type": "string", "enum": ["approve", "reject"]}, "amount": field_schema},
    }


class Listener:
    """A real TCP server on a free port that records every connection it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append(conn.recv(4096))
                except TimeoutError:
                    self.connections.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def test_a_ref_to_a_local_url_is_refused_at_deploy_and_never_fetched(listener: Listener) -> None:
    url = f"http://127.0.0.1:{listener.port}/schema.json"
    form = form_with({"$ref": url})
    [problem] = problems_with_form(form)
    text = json.dumps(form, indent=2)
    assert problem.file == "approval_form.json"
    assert problem.line == text[: text.index('"$ref"')].count("\n") + 1
    assert str(problem).startswith(
        f"approval_form.json:{problem.line}: -: $ref {url!r} at properties/amount:"
    )
    assert "no URL or file is fetched" in problem.message
    # A form stored before this check (or by hand) is not fetched at run time either.
    errors = field_errors(form, {"decision": "approve", "amount": 1})
    assert "is not part of its deployment" in errors["_form"]
    time.sleep(0.3)
    assert listener.connections == []
    with socket.create_connection(("127.0.0.1", listener.port)) as probe:  # the listener does listen
        probe.sendall(b"probe")
    time.sleep(0.3)
    assert listener.connections == [b"probe"]


@pytest.mark.parametrize(
    "ref",
    [
        "file:///etc/passwd",
        "/dev/zero",
        "https://json-schema.org/draft/2020-12/schema",
        "../bpmn/credit_review.json",
        "missing.json#/$defs/x",
        "urn:uuid:deadbeef",
        "//127.0.0.1/x.json",
        "approval_form.json#/nowhere",
    ],
)
def test_refs_outside_the_deployment_are_refused_with_file_and_line(ref: str) -> None:
    [problem] = problems_with_form(form_with({"$ref": ref}))
    assert problem.file == "approval_form.json" and problem.line > 1
    assert f"$ref {ref!r}" in problem.message
    with pytest.raises(Invalid):  # and at run time it is an error, not a read
        validate_form(form_with({"$ref": ref}), {"decision": "approve", "amount": 1})


def test_id_and_nested_schema_keywords_are_refused() -> None:
    form = {**form_with({"type": "number", "$schema": "http://evil.example/"}), "$id": "http://evil.example/"}
    messages = sorted(p.message for p in problems_with_form(form))
    assert messages[0].startswith("$id at the top level is not allowed")
    assert messages[1].startswith("$schema at properties/amount is not allowed")


def test_a_pattern_re2_cannot_compile_is_refused_at_deploy_naming_the_line() -> None:
    form = form_with({"type": "string", "pattern": "^(?=a)(a)\\1$"})
    [problem] = problems_with_form(form)
    text = json.dumps(form, indent=2)
    assert problem.line == text[: text.index('"pattern"')].count("\n") + 1
    assert "RE2" in problem.message and "properties/amount" in problem.message


def test_ref_like_text_in_data_keywords_is_not_a_reference() -> None:
    form = form_with({"type": "object", "default": {"$ref": "http://x/"}, "enum": [{"pattern": "(?="}]})
    files = {
        "approval.bpmn": (VALID / "approval.bpmn").read_bytes(),
        "approval_form.json": json.dumps(form).encode(),
    }
    assert validate_bundle(files, OPERATIONS).forms["approval_form.json"] == form


def test_refs_to_another_form_of_the_deployment_work_after_bundling() -> None:
    shared = {
        "$defs": {"amount": {"type": "number", "minimum": 1}, "back": {"$ref": "#/$defs/amount"}},
    }
    form = form_with({"$ref": "shared.json#/$defs/back"})
    files = {
        "approval.bpmn": (VALID / "approval.bpmn").read_bytes(),
        "approval_form.json": json.dumps(form).encode(),
        "shared.json": json.dumps(shared).encode(),
    }
    forms = validate_bundle(files, OPERATIONS).forms
    bundled = bundle_form("approval_form.json", forms["approval_form.json"], forms.__getitem__)
    assert bundled["$defs"]["creditflow:shared.json"]["$id"] == "shared.json"
    assert validate_form(bundled, {"decision": "approve", "amount": 5}) == {
        "decision": "approve",
        "amount": 5,
    }
    assert field_errors(bundled, {"decision": "approve", "amount": 0}) == {"amount": "Must be at least 1."}
    assert bundle_form("shared.json", shared, forms.__getitem__) is shared  # nothing to embed
