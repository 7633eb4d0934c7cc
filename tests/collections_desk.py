"""A collections desk for end-to-end tests: drives the API like the ERP, the collectors and the scheduler.

The `desk` fixture (tests/conftest.py) builds one per test.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth

if TYPE_CHECKING:
    from tests.conftest import SteppingClock
    from tests.smtp import RecordingSink

DUE = date(2026, 3, 2)  # the clock fixture's day: invoices fall due "today" and time runs on from there


class Collections:
    """Drives the API like the ERP, the collectors and the scheduler would."""

    def __init__(
        self,
        app: Flask,
        client: FlaskClient,
        tokens: dict[str, str],
        clock: SteppingClock,
        sink: RecordingSink,
    ) -> None:
        self.client, self.tokens, self.clock, self.sink = client, tokens, clock, sink
        app.extensions["creditflow"].sink_port = sink.port  # tick dispatches mail to the test's SMTP server

    def customer(self, name: str, **fields: Any) -> int:
        body = {"name": name, "email": f"ap@{name.split()[0].lower()}.example", "currency": "EUR", **fields}
        response = self.client.post("/api/customers", json=body, headers=auth(self.tokens["sales1"]))
        assert response.status_code == 201, response.json
        return int(response.json["id"])

    def invoice(self, customer_id: int, number: str, amount: str, due: date = DUE) -> None:
        body = {
            "customer_id": customer_id,
            "number": number,
            "amount": amount,
            "currency": "EUR",
            "issue_date": (due - timedelta(days=30)).isoformat(),
            "due_date": due.isoformat(),
        }
        response = self.client.post("/api/invoices", json=body, headers=auth(self.tokens["finance1"]))
        assert response.status_code == 201, response.json

    def pay(self, customer_id: int, amount: str, reference: str, by: str = "finance1") -> Any:
        body = {
            "customer_id": customer_id,
            "amount": amount,
            "currency": "EUR",
            "date": self.clock.now.date().isoformat(),
            "reference": reference,
        }
        return self.client.post("/api/payments", json=body, headers=auth(self.tokens[by]))

    def tick(self, days: int = 1) -> dict[str, Any]:
        self.clock.advance(days=days)
        response = self.client.post(
            "/api/admin/tick", json={"now": self.clock.now.isoformat()}, headers=auth(self.tokens["admin"])
        )
        assert response.status_code == 200, response.json
        return dict(response.json)

    def case(self, customer_id: int) -> dict[str, Any]:
        cases = self.client.get(
            f"/api/dunning-cases?customer_id={customer_id}", headers=auth(self.tokens["collector1"])
        )
        [case] = cases.json["items"]
        return dict(case)

    def notices_to(self, address: str) -> list[Any]:
        return [m for m in self.sink.messages if m["To"] == address]

    def open_tasks(self, user: str) -> list[dict[str, Any]]:
        return list(self.client.get("/api/tasks", headers=auth(self.tokens[user])).json["items"])

    def complete(self, user: str, task_id: int, **data: Any) -> Any:
        return self.client.post(
            f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth(self.tokens[user])
        )
