"""Odd values in the decision log (issue 18, 8228a7c): a row whose inputs and outputs hold a NUL, a number
beyond float (1E+999, kept as the store's decimal string), markup, non-ASCII and a 100-deep object (a
script result may nest 100 levels; API input 64) comes back from GET /api/process-instances/ID/decisions
exactly as stored and is shown escaped on /instances/ID. Held on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from tests.attacks.test_decision_log_attack import started
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.store.decision_log_table import DecisionLogEntry
from workflows.store.jsonable import to_jsonable

pytestmark = pytest.mark.usefixtures("shipped")

HOSTILE = "<script>alert(1)</script>"


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"end": True}
    for _ in range(levels):
        value = {"d": value}
    return value


def test_odd_values_come_back_as_stored_and_are_shown_escaped(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    instance_id = started(client, demo_tokens)
    inputs = to_jsonable(
        {"nul": "a\x00b", "huge": Decimal("1E+999"), HOSTILE: HOSTILE, "名前": "信用", "deep": deep(100)}
    )
    outputs = to_jsonable({"level": HOSTILE, "amount": Decimal("-0.00")})
    with app.extensions["creditflow"].rt.factory() as session, session.begin():
        session.execute(
            insert(DecisionLogEntry),
            [
                {
                    "instance_id": instance_id,
                    "process_key": "credit_application",
                    "version": 1,
                    "decision_id": "hostile",
                    "bpmn_id": "grade_customer",
                    "inputs": inputs,
                    "outputs": outputs,
                    "rules": [{"row": 1, "id": HOSTILE}],
                    "at": clock,
                }
            ],
        )
    answer = client.get(
        f"/api/process-instances/{instance_id}/decisions?decision=hostile",
        headers=auth(demo_tokens["sales1"]),
    )
    assert answer.status_code == 200, answer.json
    [row] = answer.json["items"]
    assert (row["inputs"], row["outputs"], row["rules"]) == (inputs, outputs, [{"row": 1, "id": HOSTILE}])
    assert row["inputs"]["huge"] == "1E+999" and row["inputs"]["nul"] == "a\x00b"
    page = logged_in(app, "sales1").get(f"/instances/{instance_id}?decision=hostile")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
