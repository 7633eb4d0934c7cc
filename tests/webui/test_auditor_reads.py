"""The auditor reads customers, suppliers, contracts, receivables and every instance, and changes nothing
(the domain side; the full endpoint-by-role matrix is tested with the API)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import auth, credit_hold_files, upload
from tests.webui.test_pages import logged_in
from workflows.credit.roles import AUDITOR

pytestmark = pytest.mark.usefixtures("shipped")

READS = (
    "/api/customers",
    "/api/suppliers",
    "/api/contracts",
    "/api/invoices",
    "/api/dunning-cases",
    "/api/provisions/preview",
    "/api/fx-rates",
    "/api/process-instances",
    "/api/tasks",
)


def test_the_auditor_reads_and_cannot_write(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    auditor = auth(demo_tokens["auditor1"])
    for path in READS:
        response = client.get(path, headers=auditor)
        assert response.status_code == 200, (path, response.json)
    writes = (
        ("/api/customers", {"name": "Audit Probe", "currency": "EUR"}),
        ("/api/suppliers", {"name": "Audit Probe", "currency": "EUR"}),
        ("/api/process-instances", {"process_key": "credit_application", "data": {}}),
        ("/api/messages", {"name": "promise_to_pay", "correlation_key": "1", "data": {}}),
        ("/api/admin/tick", {}),
    )
    for path, body in writes:
        response = client.post(path, json=body, headers=auditor)
        assert response.status_code == 403, (path, response.json)


# --- a diagram cannot make an auditor act (each path answered 200/201 to auditor1 once) --------------------


def hold_bundle(tmp_path: Path, replace: dict[str, str]) -> list[Path]:
    """credit_hold's files with text of its diagram replaced (key and names stay those of credit_hold)."""
    # A directory of its own: tmp_path also holds the test's database, which is no part of a bundle.
    directory = tmp_path / "bundle"
    directory.mkdir()
    for path in credit_hold_files():
        content = path.read_text()
        if path.suffix == ".bpmn":
            for old, new in replace.items():
                assert old in content, old
                content = content.replace(old, new)
        (directory / path.name).write_text(content)
    return sorted(directory.iterdir())


def test_a_diagram_naming_the_auditors_to_start_work_or_send_does_not_deploy(
    tmp_path: Path, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    files = hold_bundle(
        tmp_path,
        {
            'name="sales">': 'name="auditor">',  # the start event's lane
            '<spiffworkflow:property name="dueIn" value="P1D" />': (
                '<spiffworkflow:property name="candidateGroups" value="credit_analyst, auditor" />'
            ),
            '<spiffworkflow:property name="senderGroups" value="sales" />': (
                '<spiffworkflow:property name="senderGroups" value="auditor" />'
            ),
        },
    )
    response = upload(client, demo_tokens["owner1"], files)
    assert response.status_code == 422, response.json
    problems = response.json["error"]["problems"]
    for element in ("sales_lane", "review_hold", "wait_for_confirmation"):
        assert any(f": {element}: " in p and "auditors' group" in p for p in problems), (element, problems)
    listed = client.get("/api/process-definitions", headers=auth(demo_tokens["owner1"])).json
    assert "credit_hold" not in {d["key"] for d in listed}


def test_a_task_assigned_to_an_auditor_by_name_stays_closed_to_them(
    tmp_path: Path, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    files = hold_bundle(
        tmp_path,
        {
            '<spiffworkflow:property name="dueIn" value="P1D" />': (
                '<spiffworkflow:property name="assignee" value="auditor1" />'
            )
        },
    )
    assert upload(client, demo_tokens["owner1"], files).status_code == 201
    start = {"order_amount": 12, "available_limit": 10, "order_number": "SO-1"}
    body = {"process_key": "credit_hold", "business_key": "K-1", "data": start}
    started = client.post("/api/process-instances", json=body, headers=auth(demo_tokens["sales1"])).json
    task = next(t for t in started["tasks"] if t["status"] == "open")
    assert task["assignee"] == "auditor1"
    auditor = auth(demo_tokens["auditor1"])
    for action, payload in (("claim", {}), ("unclaim", {}), ("complete", {"data": {"decision": "keep"}})):
        response = client.post(f"/api/tasks/{task['id']}/{action}", json=payload, headers=auditor)
        assert response.status_code == 403, (action, response.json)
        assert "auditors change nothing" in response.json["error"]["message"] or action == "unclaim"
    assert client.get(f"/api/tasks/{task['id']}", headers=auditor).json["status"] == "open"


def test_a_version_deployed_before_the_check_still_refuses_the_auditor(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    from workflows.engine.messages import MessageRule, require_any_sender, require_sender
    from workflows.errors import Forbidden
    from workflows.store.db import transaction
    from workflows.store.models import ProcessDefinition
    from workflows.users import Actor

    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    factory = client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session:  # as a diagram with `startGroups="auditor"` would have left it
        definition = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.process_key == "credit_hold")
        ).one()
        definition.start_groups = [AUDITOR]
    body = {
        "process_key": "credit_hold",
        "data": {"order_amount": 2, "available_limit": 1, "order_number": "x"},
    }
    response = client.post("/api/process-instances", json=body, headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == 403
    assert "auditors read everything and change nothing" in response.json["error"]["message"]
    auditor = Actor("auditor1", frozenset({AUDITOR}))
    rule = MessageRule("credit_hold", 1, "wait_for_confirmation", (AUDITOR,), None)
    assert not rule.may_send(auditor)
    for check in (require_sender, require_any_sender):
        with pytest.raises(Forbidden, match="change nothing"):
            check(auditor, "customer_confirmed", [rule])


# --- what auditors read besides the cases: the definitions workbench and the mail ---------------------------


def test_the_auditor_reads_the_definitions_workbench_but_gets_no_upload_nor_modeler(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    auditor, owner = logged_in(app, "auditor1"), logged_in(app, "owner1")
    listing = auditor.get("/definitions")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert "credit_hold" in page and 'href="/definitions"' in page  # in the navigation too
    assert "definitions/upload" not in page and "Edit as new version" not in page
    assert "definitions/upload" in owner.get("/definitions").get_data(as_text=True)
    shown = auditor.get("/definitions/credit_hold/1")
    assert shown.status_code == 200 and "Open in the modeler" not in shown.get_data(as_text=True)
    # Read before any instance exists (others see a diagram only through a case of theirs).
    assert auditor.get("/definitions/credit_hold/1/diagram.bpmn").status_code == 200
    assert logged_in(app, "legal1").get("/definitions/credit_hold/1/diagram.bpmn").status_code == 403
    assert auditor.get("/definitions/credit_hold/1/edit").status_code == 403


def test_the_auditor_reads_the_whole_outbox_and_the_mail_sink(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    from workflows.cli.demo import seed_demo, start_demo_cases
    from workflows.store.db import transaction
    from workflows.store.sink_tables import SinkMessage

    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo(session, clock)
        session.add(
            SinkMessage(
                received_at=clock,
                mail_from="creditflow@example.com",
                rcpt_to="office@quickbuild.example",
                subject="First reminder",
                message_id="<reminder@example.com>",
                raw="Subject: First reminder\r\n\r\nPlease pay.\r\n",
            )
        )
    start_demo_cases(svc.rt, clock)  # Quickbuild's dunning case queues its first reminder
    outbox = client.get("/api/emails", headers=auth(demo_tokens["auditor1"])).json
    assert outbox["total"] >= 1 and any("quickbuild" in e["to"] for e in outbox["items"]), outbox
    others = client.get("/api/emails", headers=auth(demo_tokens["legal1"])).json
    assert not any("quickbuild" in e["to"] for e in others["items"])
    auditor = logged_in(app, "auditor1")
    sink = auditor.get("/mail").get_data(as_text=True)
    assert "First reminder" in sink and 'name="to"' in sink  # the whole sink, filterable by recipient
    assert auditor.get("/mail/1").status_code == 200
    assert logged_in(app, "legal1").get("/mail/1").status_code == 403
