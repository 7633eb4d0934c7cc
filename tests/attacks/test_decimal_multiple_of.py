"""A form field `"type": "number", "format": "money", "multipleOf": 0.01` (the natural way to say "whole
cents") failed every submission with a 500: money arrives as a Decimal, and jsonschema divides it by the
float 0.01 (TypeError). The same for start data and message data. Found by an attack on the build."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.handlers.test_money_moves import deploy, start
from tests.sod_diagrams import bundle, money_diagram

pytestmark = pytest.mark.usefixtures("shipped")

START_SCHEMA = {
    "type": "object",
    "required": ["amount"],
    "properties": {
        "amount": {"type": "number", "format": "money", "multipleOf": 0.01, "minimum": 0},
        "units": {"type": "number", "multipleOf": 0.5},
    },
}


def test_a_money_field_with_a_float_multiple_of_is_checked_not_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    key = "cents"
    params = {"to": '"initiator"', "template": '"generic"', "context": '{"subject": "s", "message": "m"}'}
    files = bundle(key, money_diagram(key, "notify.email", params))
    files[f"{key}_start.json"] = json.dumps(START_SCHEMA).encode()
    deploy(app, client, demo_tokens, files)
    token = demo_tokens["owner1"]
    for amount in ("12.34", 12.34, "999999999999.99", 5):
        accepted = start(client, token, key, {"amount": amount, "units": 1.5})
        assert accepted.status_code == 201, (amount, accepted.json)
    for amount in ("12.345", 0.001):
        refused = start(client, token, key, {"amount": amount})
        assert refused.status_code == 422, (amount, refused.json)
        assert "amount" in refused.json["error"]["fields"], refused.json
    refused = start(client, token, key, {"amount": "1.00", "units": 1.25})
    assert refused.status_code == 422 and "units" in refused.json["error"]["fields"], refused.json
