"""Operations declared read-only (`writes=False`) write nothing, and those declared `writes_once` write
once, last: a step runs them without a savepoint on SQLite (workflows/engine/step.py), so an earlier write
of theirs would survive their failure.

A credit application runs end to end over REST, the analyst's ratings changing the file so the case
re-scores and re-proposes; every statement sent while a read-only handler runs, and every ORM change it
leaves pending, is recorded: only
reads may be among them. Then a read-only handler that fails still becomes the step's incident.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from tests.helpers import auth
from workflows.engine.service_tasks import Operation, TaskContext
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, Incident

pytestmark = pytest.mark.usefixtures("shipped")

CUSTOMER = {
    "name": "Readonly Machinery GmbH",
    "email": "ap@readonly.example",
    "industry": "manufacturing",
    "founded_year": 1990,
    "annual_revenue": "50000000.00",
    "currency": "EUR",
}
# The analyst rates the customer: the file changes, so the diagram re-scores and re-proposes.
RATINGS = {"management_rating": 4, "industry_rating": 4, "strategic_rating": 4}
SHIPPED_READ_ONLY = {"credit.load_file", "credit.score", "credit.propose_limit"}


@pytest.fixture
def watched(app: Flask) -> Iterator[dict[str, list[str]]]:
    """{read-only operation: the statements sent while its handler ran}, for the app's runtime."""
    svc = app.extensions["creditflow"]
    table: dict[str, Operation] = svc.rt.operations  # type: ignore[assignment]
    originals = dict(table)
    running: list[str] = []
    sent: dict[str, list[str]] = {}

    def watching(op: Operation) -> Operation:
        def func(ctx: TaskContext, request: Any) -> Any:
            running.append(op.name)
            sent.setdefault(op.name, []).append(f"-- {op.name} runs")
            try:
                result = op.func(ctx, request)
            finally:
                running.pop()
            # ORM writes go out at a later flush, outside the handler: caught as pending changes instead.
            session = ctx.session
            pending = [*session.new, *session.dirty, *session.deleted]
            sent[op.name] += [f"ORM change of {obj!r}" for obj in pending]
            return result

        return dataclasses.replace(op, func=func)

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if running:
            sent[running[-1]].append(" ".join(statement.split())[:120])

    for name, op in originals.items():
        if not op.writes or op.writes_once:
            table[name] = watching(op)
    event.listen(svc.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(svc.engine, "before_cursor_execute", record)
        table.update(originals)


def _open_task(client: FlaskClient, token: str, instance_id: int, name: str) -> dict[str, Any]:
    instance = client.get(f"/api/process-instances/{instance_id}", headers=auth(token)).json
    return next(t for t in instance["tasks"] if t["name"] == name and t["status"] == "open")


def test_the_shipped_read_only_operations_are_the_expected_ones(app: Flask) -> None:
    operations = app.extensions["creditflow"].rt.operations
    assert {name for name, op in operations.items() if not op.writes} == SHIPPED_READ_ONLY
    assert all(op.writes for op in operations.values() if op.moves_money)


def test_read_only_operations_send_only_reads_through_a_whole_credit_application(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], watched: dict[str, list[str]]
) -> None:
    customer = client.post("/api/customers", json=CUSTOMER, headers=auth(demo_tokens["sales1"])).json
    data = {
        "customer_id": customer["id"],
        "requested_limit": 400_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "read-only check",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    instance_id = started.json["id"]
    review = _open_task(client, demo_tokens["analyst1"], instance_id, "review_application")
    done = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "approve", "recommended_limit": 300_000, **RATINGS}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert done.status_code == 200, done.json
    approval = _open_task(client, demo_tokens["manager1"], instance_id, "manager_approval")
    done = client.post(
        f"/api/tasks/{approval['id']}/complete",
        json={"data": {"decision": "approve"}},
        headers=auth(demo_tokens["manager1"]),
    )
    assert done.status_code == 200, done.json
    assert done.json["instance"]["status"] == "completed"

    runs = {name: sum(s.startswith("-- ") for s in sent) for name, sent in watched.items()}
    # The ratings changed the file: the case was scored and proposed again with them. notify.email sends
    # the approval letter (with its PDF) and one more e-mail.
    assert runs == {"credit.load_file": 1, "credit.score": 2, "credit.propose_limit": 2, "notify.email": 2}
    # On PostgreSQL the step keeps the savepoint (SQLAlchemy sends it with the handler's first read).
    reads = ("SELECT", "WITH", "-- ", "SAVEPOINT", "RELEASE SAVEPOINT")
    for name, statements in watched.items():
        writes = [s for s in statements if not s.upper().startswith(reads)]
        if name in SHIPPED_READ_ONLY:
            assert writes == [], f"{name} is declared read-only but sent {writes}"
            continue
        # writes_once (no savepoint on SQLite either): in each run at most one write, its last statement
        kept = [s for s in statements if not s.upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        for run in "\n".join(kept).split(f"-- {name} runs")[1:]:
            said = run.strip().splitlines()
            wrote = [s for s in said if not s.upper().startswith(reads)]
            assert wrote in ([], said[-1:]), f"{name} wrote before its last statement: {said}"


def test_a_failing_read_only_handler_is_an_incident_and_the_step_keeps_its_rows(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    svc = app.extensions["creditflow"]
    table: dict[str, Operation] = svc.rt.operations  # type: ignore[assignment]
    original = table["credit.score"]

    def broken(ctx: TaskContext, request: Any) -> Any:
        raise ConnectionError("the scorecard service is down")

    table["credit.score"] = dataclasses.replace(original, func=broken)
    try:
        customer = client.post("/api/customers", json=CUSTOMER, headers=auth(demo_tokens["sales1"])).json
        data = {
            "customer_id": customer["id"],
            "requested_limit": 400_000,
            "currency": "EUR",
            "payment_terms_days": 30,
            "justification": "failing read",
        }
        started = client.post(
            "/api/process-instances",
            json={"process_key": "credit_application", "data": data},
            headers=auth(demo_tokens["sales1"]),
        )
    finally:
        table["credit.score"] = original
    assert started.status_code == 201, started.json
    assert started.json["status"] == "error"
    with transaction(svc.rt.factory) as session:
        incident = session.scalar(select(Incident).where(Incident.instance_id == started.json["id"]))
        assert incident is not None
        assert "the scorecard service is down" in incident.message
        assert incident.bpmn_id
        # What the step did before the failure commits with the incident: the credit file it loaded.
        called = session.scalars(
            select(AuditEvent.detail["operation"].as_string()).where(
                AuditEvent.instance_id == started.json["id"], AuditEvent.action == "service_called"
            )
        ).all()
        assert called == ["credit.load_file"]
