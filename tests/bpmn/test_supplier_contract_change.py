"""The supplier contract change process end to end over the REST API, with e-mail at a real SMTP server."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import SteppingClock
from tests.helpers import auth
from tests.smtp import RecordingSink
from workflows.credit.models import ContractChangeRequest
from workflows.mail.outbox import dispatch_due_emails
from workflows.mail.smtp import mailer_for
from workflows.store.db import transaction
from workflows.store.models import AuditEvent
from workflows.users import add_user

pytestmark = pytest.mark.usefixtures("shipped")

SOLID_SUPPLIER = {
    "external_id": "S-1",
    "name": "Baltic Steel Supply AB",
    "email": "contracts@baltic-steel.example",
    "registration_no": "SE556677889901",
    "founded_year": 1978,
    "annual_revenue": "85000000.00",
    "currency": "EUR",
    "litigation_count": 0,
    "penalties_count": 0,
    "delivery_score": 94,
    "external_rating": "A",
}
RISKY_SUPPLIER = {
    "name": "FlashParts Trading Ltd",
    "email": "office@flashparts.example",
    "founded_year": 2025,
    "annual_revenue": "400000",
    "currency": "GBP",
    "litigation_count": 3,
    "penalties_count": 6,
    "delivery_score": 48,
    "external_rating": "CCC",
}
TERMS = {
    "price": "EUR 820 per tonne",
    "quantity": "1,500 t per year",
    "liability": "capped at the annual contract value",
}


# --- helpers ------------------------------------------------------------------------------------------


def post(client: FlaskClient, token: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers=auth(token))


def make_contract(
    client: FlaskClient, tokens: dict[str, str], supplier: dict[str, Any] = SOLID_SUPPLIER, **extra: Any
) -> dict[str, Any]:
    created = post(client, tokens["buyer1"], "/api/suppliers", supplier)
    assert created.status_code == 201, created.json
    contract = {
        "supplier_id": created.json["id"],
        "number": f"PC-{created.json['id']}",
        "value": "1200000.00",
        "currency": "EUR",
        "payment_terms_days": 60,
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        "terms": TERMS,
        **extra,
    }
    response = post(client, tokens["pm1"], "/api/contracts", contract)
    assert response.status_code == 201, response.json
    return dict(response.json)


def start_change(
    client: FlaskClient,
    token: str,
    contract_id: int,
    change_type: str,
    changes: dict[str, Any],
    value_impact: Any,
    reason: str = "Supplier asked for longer terms in exchange for a volume rebate",
) -> Any:
    data = {
        "contract_id": contract_id,
        "change_type": change_type,
        "changes": changes,
        "value_impact": value_impact,
        "reason": reason,
    }
    return post(
        client, token, "/api/process-instances", {"process_key": "supplier_contract_change", "data": data}
    )


def started(client: FlaskClient, token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    response = start_change(client, token, *args, **kwargs)
    assert response.status_code == 201, response.json
    return dict(response.json)


def refresh(client: FlaskClient, tokens: dict[str, str], instance_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/process-instances/{instance_id}", headers=auth(tokens["admin"])).json)


def open_tasks(instance: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in instance["tasks"] if t["status"] == "open"}


def complete(client: FlaskClient, token: str, task_id: int, **data: Any) -> Any:
    return client.post(f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth(token))


def approve(client: FlaskClient, token: str, task: dict[str, Any], comment: str = "") -> dict[str, Any]:
    response = complete(client, token, task["id"], decision="approve", comment=comment)
    assert response.status_code == 200, response.json
    return dict(response.json)


def get_contract(client: FlaskClient, tokens: dict[str, str], contract_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/contracts/{contract_id}", headers=auth(tokens["finance1"])).json)


def tick(client: FlaskClient, tokens: dict[str, str], clock: SteppingClock, **delta: float) -> dict[str, Any]:
    now = clock.advance(**delta).isoformat()
    return dict(client.post("/api/admin/tick", json={"now": now}, headers=auth(tokens["admin"])).json)


def countersign(client: FlaskClient, token: str, instance_id: int, signed_by: str) -> list[int]:
    body = {
        "name": "supplier_countersigned",
        "correlation_key": str(instance_id),
        "data": {"signed_by": signed_by},
    }
    response = post(client, token, "/api/messages", body)
    assert response.status_code == 200, response.json
    return list(response.json["delivered_to"])


def send_outbox(app: Flask, sink: RecordingSink) -> None:
    svc = app.extensions["creditflow"]
    relay = svc.rt.settings.replace("mail", smtp_host=sink.host, smtp_port=sink.port).mail
    dispatch_due_emails(svc.rt.factory, mailer_for(relay, None), relay, svc.clock())


def text_of(message: EmailMessage) -> str:
    """The HTML body as plain words (yagmail derives the text part from the HTML)."""
    html = message.get_body(preferencelist=("html",)).get_content()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def join_group(app: Flask, username: str, group: str) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, username, groups=[group], now=svc.clock())


def change_request(app: Flask, instance_id: int) -> ContractChangeRequest:
    with app.extensions["creditflow"].rt.factory() as session:
        found = session.scalar(
            select(ContractChangeRequest).where(ContractChangeRequest.instance_id == instance_id)
        )
        assert found is not None
        session.expunge(found)
        return found


def audit_actions(app: Flask, instance_id: int) -> list[tuple[str, str]]:
    with app.extensions["creditflow"].rt.factory() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.action.like("contract_%"))
            .order_by(AuditEvent.id)
        )
        return [(action, actor) for action, actor in rows]


# --- the "must show" walk ---------------------------------------------------------------------------


def test_payment_terms_change_over_half_million_needs_both_reviews_manager_cfo_and_countersignature(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    app_clock: SteppingClock,
    smtp_sink: RecordingSink,
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "payment_terms", {"payment_terms_days": 90}, 750_000
    )

    # 1. Finance and legal review at the same time; the supplier was graded on the way.
    tasks = open_tasks(instance)
    assert set(tasks) == {"finance_review", "legal_review"}
    assert (tasks["finance_review"]["group"], tasks["legal_review"]["group"]) == ("finance", "legal")
    assert tasks["finance_review"]["subject"] == (
        f"Baltic Steel Supply AB, {contract['number']}: payment_terms €750,000.00"
    )
    assert (
        f"contract {contract['number']}, payment_terms change: payment terms days: 60 -> 90. "
        "Value impact €750,000.00. Reason: Supplier asked" in tasks["legal_review"]["context"]["instructions"]
    )
    assert instance["data"]["supplier_grade"] == "A"
    supplier = client.get(
        f"/api/suppliers/{contract['supplier']['id']}", headers=auth(demo_tokens["cfo1"])
    ).json
    assert supplier["grade"] == "A" and [e["grade"] for e in supplier["evaluations"]] == ["A"]
    assert (
        complete(client, demo_tokens["buyer1"], tasks["finance_review"]["id"], decision="approve").status_code
        == 403
    )
    assert (
        complete(client, demo_tokens["finance1"], tasks["finance_review"]["id"], decision="maybe").status_code
        == 422
    )
    approve(client, demo_tokens["legal1"], tasks["legal_review"], "Clause 7 still holds")
    assert set(open_tasks(refresh(client, demo_tokens, instance["id"]))) == {"finance_review"}
    approve(client, demo_tokens["finance1"], tasks["finance_review"], "Cash flow fine")

    # 2. The procurement manager approves (never the requester), then the CFO (never an earlier approver).
    manager_task = open_tasks(refresh(client, demo_tokens, instance["id"]))["manager_approval"]
    assert manager_task["group"] == "procurement_manager"
    assert (
        "Finance: approve (Cash flow fine). Legal: approve (Clause 7 still holds)."
        in (manager_task["context"]["instructions"])
    )
    assert complete(client, demo_tokens["buyer1"], manager_task["id"], decision="approve").status_code == 403
    join_group(app, "buyer1", "procurement_manager")
    refused = complete(client, demo_tokens["buyer1"], manager_task["id"], decision="approve")
    assert refused.status_code == 403 and "Four-eyes" in refused.json["error"]["message"]
    approve(client, demo_tokens["pm1"], manager_task)
    cfo_task = open_tasks(refresh(client, demo_tokens, instance["id"]))["cfo_approval"]
    join_group(app, "finance1", "cfo")
    refused = complete(client, demo_tokens["finance1"], cfo_task["id"], decision="approve")
    assert refused.status_code == 403 and "already completed" in refused.json["error"]["message"]
    done = approve(client, demo_tokens["cfo1"], cfo_task)
    assert done["instance"]["status"] == "running"

    # 3. The supplier is asked to countersign and reminded; the contract waits for the countersignature.
    send_outbox(app, smtp_sink)
    [request_mail] = smtp_sink.wait_for(1)
    assert request_mail["To"] == "contracts@baltic-steel.example"
    assert request_mail["Subject"] == (
        f"Please countersign: change to contract {contract['number']} (reference {instance['id']})"
    )
    text = text_of(request_mail)
    assert "payment terms days 60 90" in text and "by 1 Apr 2026" in text
    assert tick(client, demo_tokens, app_clock, days=8)["timers"] == 1
    send_outbox(app, smtp_sink)
    reminder = smtp_sink.wait_for(2)[1]
    assert reminder["To"] == "contracts@baltic-steel.example"
    assert reminder["Subject"].startswith(
        f"Reminder: please countersign the change to contract {contract['number']}"
    )
    unchanged = get_contract(client, demo_tokens, contract["id"])
    assert (unchanged["payment_terms_days"], unchanged["version"], len(unchanged["versions"])) == (60, 1, 1)
    assert unchanged["change_requests"][0]["status"] == "awaiting_countersignature"

    # 4. The countersignature makes version 2 with the new terms, its approvers and the signature.
    assert countersign(client, demo_tokens["buyer1"], instance["id"], "Eva Lind") == [instance["id"]]
    assert refresh(client, demo_tokens, instance["id"])["status"] == "completed"
    changed = get_contract(client, demo_tokens, contract["id"])
    assert (changed["payment_terms_days"], changed["version"], changed["terms"]) == (90, 2, TERMS)
    first, second = changed["versions"]
    assert (first["version"], first["payment_terms_days"], first["change_request"]) == (1, 60, None)
    assert (second["version"], second["payment_terms_days"], second["instance_id"]) == (2, 90, instance["id"])
    assert second["change_request"]["change_type"] == "payment_terms"
    assert second["change_request"]["value_impact"] == "750000.00"
    assert second["change_request"]["previous"] == {"payment_terms_days": 60}
    assert [a["step"] for a in second["approvers"]][2:] == ["manager_approval", "cfo_approval"]
    assert {a["user"] for a in second["approvers"]} == {"legal1", "finance1", "pm1", "cfo1"}
    assert (second["countersigned_by"], second["countersigned_at"]) == ("Eva Lind", app_clock.now.isoformat())
    send_outbox(app, smtp_sink)
    notice = smtp_sink.wait_for(3)[2]
    assert notice["To"] == "buyer1@example.com"
    assert notice["Subject"] == f"Contract {contract['number']} changed: version 2 is in force"
    assert audit_actions(app, instance["id"]) == [
        ("contract_change_requested", "buyer1"),
        ("contract_change_approved", "cfo1"),
        ("contract_version_created", "buyer1"),  # who reported the countersignature
    ]


def test_price_change_rejected_by_legal_completes_without_a_new_version(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], smtp_sink: RecordingSink
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "price", {"price": "EUR 905 per tonne"}, 120_000
    )
    tasks = open_tasks(instance)
    assert set(tasks) == {"finance_review", "legal_review"}
    done = complete(
        client,
        demo_tokens["legal1"],
        tasks["legal_review"]["id"],
        decision="reject",
        comment="Breaks the cap",
    )
    assert done.status_code == 200, done.json
    assert done.json["instance"]["status"] == "completed"
    after = refresh(client, demo_tokens, instance["id"])
    assert {t["name"]: t["status"] for t in after["tasks"]} == {
        "finance_review": "cancelled",
        "legal_review": "completed",
    }
    assert (
        complete(
            client, demo_tokens["finance1"], tasks["finance_review"]["id"], decision="approve"
        ).status_code
        == 409
    )
    unchanged = get_contract(client, demo_tokens, contract["id"])
    assert (unchanged["terms"], unchanged["version"], len(unchanged["versions"])) == (TERMS, 1, 1)
    [request] = unchanged["change_requests"]
    assert (request["status"], request["decided_by"], request["decision_comment"]) == (
        "rejected",
        "legal1",
        "Breaks the cap",
    )
    send_outbox(app, smtp_sink)
    [notice] = smtp_sink.wait_for(1)
    assert notice["To"] == "buyer1@example.com"
    assert notice["Subject"] == f"Contract change rejected: {contract['number']} (Baltic Steel Supply AB)"
    assert "rejected by legal1. The contract is unchanged. Comment: Breaks the cap" in text_of(notice)
    assert ("contract_change_rejected", "legal1") in audit_actions(app, instance["id"])


# --- the other routes through the diagram -------------------------------------------------------------------


def test_quantity_change_up_to_half_million_skips_legal_and_the_cfo(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], smtp_sink: RecordingSink
) -> None:
    contract = make_contract(client, demo_tokens)
    # A fall in value counts by its size. JSON numbers with a fraction arrive as exact Decimals.
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "quantity", {"quantity": "900 t per year"}, -499999.99
    )
    tasks = open_tasks(instance)
    assert set(tasks) == {"finance_review"}
    approve(client, demo_tokens["finance1"], tasks["finance_review"])
    after_review = refresh(client, demo_tokens, instance["id"])
    assert after_review["data"]["approval_level"] == "procurement_manager"
    manager_task = open_tasks(after_review)["manager_approval"]
    assert "Legal: not needed for a quantity change." in manager_task["context"]["instructions"]
    done = approve(client, demo_tokens["pm1"], manager_task)
    waiting = refresh(client, demo_tokens, done["instance"]["id"])
    assert waiting["status"] == "running" and open_tasks(waiting) == {}
    assert "cfo_approval" not in {t["name"] for t in waiting["tasks"]}
    assert countersign(client, demo_tokens["buyer1"], instance["id"], "Jan Berg") == [instance["id"]]
    changed = get_contract(client, demo_tokens, contract["id"])
    assert changed["terms"] == {**TERMS, "quantity": "900 t per year"} and changed["version"] == 2
    assert [a["user"] for a in changed["versions"][1]["approvers"]] == ["finance1", "pm1"]
    assert changed["versions"][1]["change_request"]["value_impact"] == "-499999.99"
    send_outbox(app, smtp_sink)
    assert [m["To"] for m in smtp_sink.wait_for(2)] == [
        "contracts@baltic-steel.example",
        "buyer1@example.com",
    ]


def test_finance_rejection_cancels_the_legal_review_and_keeps_the_contract(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "termination", {"termination": "3 months' notice"}, 0
    )
    tasks = open_tasks(instance)
    done = complete(client, demo_tokens["finance1"], tasks["finance_review"]["id"], decision="reject")
    assert done.json["instance"]["status"] == "completed"
    after = refresh(client, demo_tokens, instance["id"])
    assert {t["name"]: t["status"] for t in after["tasks"]}["legal_review"] == "cancelled"
    assert change_request(app, instance["id"]).status == "rejected"
    assert change_request(app, instance["id"]).decided_by == "finance1"
    assert get_contract(client, demo_tokens, contract["id"])["terms"] == TERMS
    # The contract is free again for the next request.
    assert (
        start_change(
            client, demo_tokens["buyer1"], contract["id"], "clauses", {"audit": "yearly"}, 0
        ).status_code
        == 201
    )


@pytest.mark.parametrize("rejecting_step", ["manager_approval", "cfo_approval"])
def test_manager_or_cfo_rejection_ends_the_request(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], rejecting_step: str
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "delivery_date", {"end_date": "2028-06-30"}, 600_000
    )
    approve(client, demo_tokens["finance1"], open_tasks(instance)["finance_review"])
    approvers = {"manager_approval": "pm1", "cfo_approval": "cfo1"}
    for step in ("manager_approval", "cfo_approval"):
        task = open_tasks(refresh(client, demo_tokens, instance["id"]))[step]
        if step == rejecting_step:
            done = complete(
                client, demo_tokens[approvers[step]], task["id"], decision="reject", comment="Not now"
            )
            assert done.json["instance"]["status"] == "completed"
            break
        approve(client, demo_tokens[approvers[step]], task)
    request = change_request(app, instance["id"])
    assert (request.status, request.decided_by, request.decision_comment) == (
        "rejected",
        approvers[rejecting_step],
        "Not now",
    )
    unchanged = get_contract(client, demo_tokens, contract["id"])
    assert (unchanged["end_date"], unchanged["version"]) == ("2027-12-31", 1)


def test_risky_supplier_needs_a_guarantee_from_the_requester_before_the_reviews(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens, RISKY_SUPPLIER, currency="GBP")
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "price", {"price": "list less 5 %"}, 40_000
    )
    assert instance["data"]["supplier_grade"] == "E" and instance["data"]["needs_safeguard"] is True
    [guarantee] = open_tasks(instance).values()
    assert (guarantee["name"], guarantee["assignee"]) == ("record_safeguard", "buyer1")
    assert "graded E" in guarantee["context"]["instructions"]
    assert client.get("/api/tasks", headers=auth(demo_tokens["finance1"])).json["items"] == []
    assert (
        complete(
            client, demo_tokens["pm1"], guarantee["id"], safeguard="justification", details="x"
        ).status_code
        == 403
    )
    missing_amount = complete(
        client, demo_tokens["buyer1"], guarantee["id"], safeguard="guarantee", details="Bank"
    )
    assert missing_amount.status_code == 422 and set(missing_amount.json["error"]["fields"]) == {
        "guarantee_amount"
    }
    done = complete(
        client,
        demo_tokens["buyer1"],
        guarantee["id"],
        safeguard="guarantee",
        guarantee_amount=50000.25,
        details="Bank guarantee by Barclays, 12 months",
    )
    assert done.status_code == 200, done.json
    tasks = open_tasks(refresh(client, demo_tokens, instance["id"]))
    assert set(tasks) == {"finance_review", "legal_review"}
    assert (
        "Safeguard (guarantee, £50,000.25): Bank guarantee by Barclays"
        in tasks["finance_review"]["context"]["instructions"]
    )
    request = change_request(app, instance["id"])
    assert (request.supplier_grade, request.safeguard, str(request.guarantee_amount)) == (
        "E",
        "guarantee",
        "50000.25",
    )
    assert ("contract_change_safeguard_recorded", "buyer1") in audit_actions(app, instance["id"])


def test_countersignature_is_reminded_weekly_and_expires_after_30_days(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    app_clock: SteppingClock,
    smtp_sink: RecordingSink,
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "quantity", {"quantity": "2,000 t"}, 90_000
    )
    approve(client, demo_tokens["finance1"], open_tasks(instance)["finance_review"])
    approve(
        client,
        demo_tokens["pm1"],
        open_tasks(refresh(client, demo_tokens, instance["id"]))["manager_approval"],
    )
    send_outbox(app, smtp_sink)
    assert smtp_sink.wait_for(1)[0]["Subject"].startswith("Please countersign")

    assert tick(client, demo_tokens, app_clock, days=6, hours=23)["timers"] == 0
    assert tick(client, demo_tokens, app_clock, hours=2)["timers"] == 1  # day 7
    send_outbox(app, smtp_sink)
    assert tick(client, demo_tokens, app_clock, days=7)["timers"] == 1  # day 14
    send_outbox(app, smtp_sink)
    messages = smtp_sink.wait_for(3)
    assert [m["Subject"].split(":")[0] for m in messages] == ["Please countersign", "Reminder", "Reminder"]
    assert {m["To"] for m in messages} == {"contracts@baltic-steel.example"}
    assert "by 1 Apr 2026" in text_of(messages[2])

    tick(client, demo_tokens, app_clock, days=7)  # day 21
    tick(client, demo_tokens, app_clock, days=7)  # day 28: the fourth and last reminder
    assert refresh(client, demo_tokens, instance["id"])["status"] == "running"
    assert tick(client, demo_tokens, app_clock, days=2)["timers"] == 1  # day 30: expired
    expired = refresh(client, demo_tokens, instance["id"])
    assert expired["status"] == "completed" and expired["data"]["expiry"]["countersign_by"] == "2026-04-01"
    assert change_request(app, instance["id"]).status == "expired"
    assert countersign(client, demo_tokens["buyer1"], instance["id"], "Too Late") == []
    unchanged = get_contract(client, demo_tokens, contract["id"])
    assert (unchanged["terms"], unchanged["version"]) == (TERMS, 1)
    send_outbox(app, smtp_sink)
    messages = smtp_sink.wait_for(6)
    assert [m["Subject"].split(":")[0] for m in messages[3:]] == [
        "Reminder",
        "Reminder",
        "Contract change expired",
    ]
    assert messages[5]["To"] == "buyer1@example.com"
    assert ("contract_change_expired", "system") in audit_actions(app, instance["id"])


# --- checks before anything is written ---------------------------------------------------------------------


def test_start_is_refused_for_bad_data_unknown_contracts_open_requests_and_other_groups(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    buyer = demo_tokens["buyer1"]
    missing = post(
        client,
        buyer,
        "/api/process-instances",
        {"process_key": "supplier_contract_change", "data": {"contract_id": 1}},
    )
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) == {"change_type", "changes", "value_impact", "reason"}
    for args, problem in (
        ((contract["id"], "discount", {"price": "x"}, 1), "change_type"),
        ((contract["id"], "price", {}, 1), "changes"),
        ((999, "price", {"price": "x"}, 1), "contract 999 does not exist"),
        ((contract["id"], "payment_terms", {"payment_terms_days": "soon"}, 1), "Payment terms (days)"),
        ((contract["id"], "payment_terms", {"payment_terms_days": 400}, 1), "At most 365"),
        ((contract["id"], "price", {"currency": "USD"}, 1), "Cannot be changed"),
        ((contract["id"], "delivery_date", {"end_date": "2025-01-01"}, 1), "end before it starts"),
    ):
        response = start_change(client, buyer, *args)
        assert response.status_code == 422, (args, response.json)
        assert problem in (response.json["error"]["message"] + str(response.json["error"].get("fields"))), (
            problem
        )
    assert (
        start_change(client, demo_tokens["finance1"], contract["id"], "price", {"price": "x"}, 1).status_code
        == 403
    )
    unauthenticated = client.post(
        "/api/process-instances", json={"process_key": "supplier_contract_change", "data": {}}
    )
    assert unauthenticated.status_code == 401
    started(client, buyer, contract["id"], "price", {"price": "EUR 830 per tonne"}, 8_000)
    second = start_change(client, buyer, contract["id"], "quantity", {"quantity": "1 t"}, 1)
    assert second.status_code == 422 and "already has change request" in second.json["error"]["message"]
    listed = client.get(
        "/api/process-instances?process_key=supplier_contract_change", headers=auth(demo_tokens["admin"])
    )
    assert listed.json["total"] == 1


def test_countersignature_without_a_signer_is_refused_and_the_request_keeps_waiting(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "quantity", {"quantity": "2,000 t"}, 1_000
    )
    approve(client, demo_tokens["finance1"], open_tasks(instance)["finance_review"])
    approve(
        client,
        demo_tokens["pm1"],
        open_tasks(refresh(client, demo_tokens, instance["id"]))["manager_approval"],
    )
    body = {"name": "supplier_countersigned", "correlation_key": str(instance["id"]), "data": {}}
    refused = post(client, demo_tokens["buyer1"], "/api/messages", body)
    assert refused.status_code == 422
    assert "signed_by" in refused.json["error"]["message"]
    waiting = refresh(client, demo_tokens, instance["id"])
    assert waiting["status"] == "running" and waiting["incidents"] == []
    assert get_contract(client, demo_tokens, contract["id"])["version"] == 1
    body["data"] = {"signed_by": "Eva Lind"}
    assert post(client, demo_tokens["buyer1"], "/api/messages", body).json["delivered_to"] == [instance["id"]]
    assert get_contract(client, demo_tokens, contract["id"])["version"] == 2


# --- the suppliers and contracts API ------------------------------------------------------------------------


def test_suppliers_and_contracts_api_checks_tokens_groups_fields_and_pages(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    buyer, pm = demo_tokens["buyer1"], demo_tokens["pm1"]
    assert client.get("/api/suppliers").status_code == 401
    assert client.get("/api/contracts", headers=auth("not-a-token")).status_code == 401
    assert client.get("/api/suppliers", headers=auth(demo_tokens["sales1"])).status_code == 403
    assert client.get("/api/contracts", headers=auth(demo_tokens["owner1"])).status_code == 403
    assert post(client, demo_tokens["finance1"], "/api/suppliers", SOLID_SUPPLIER).status_code == 403
    invalid = post(
        client,
        buyer,
        "/api/suppliers",
        {
            "name": "",
            "email": "nope",
            "currency": "euro",
            "annual_revenue": "1.234",
            "delivery_score": 101,
            "litigation_count": -1,
            "colour": "red",
        },
    )
    assert invalid.status_code == 422
    assert set(invalid.json["error"]["fields"]) == {
        "_unknown",
        "name",
        "email",
        "currency",
        "annual_revenue",
        "delivery_score",
        "litigation_count",
    }
    supplier = post(client, buyer, "/api/suppliers", SOLID_SUPPLIER).json
    assert (supplier["annual_revenue"], supplier["grade"], supplier["contracts"]) == ("85000000.00", None, [])
    assert post(client, pm, "/api/suppliers", SOLID_SUPPLIER).status_code == 409

    contract = {
        "supplier_id": supplier["id"],
        "number": "PC-9",
        "value": 1200000.5,
        "currency": "EUR",
        "payment_terms_days": 60,
        "start_date": "2026-01-01",
    }
    assert post(client, demo_tokens["legal1"], "/api/contracts", contract).status_code == 403
    for bad, field in (
        ({"supplier_id": 999}, "supplier_id"),
        ({"supplier_id": 0}, "supplier_id"),
        ({"end_date": "2025-12-31"}, "end_date"),
        ({"terms": ["price"]}, "terms"),
        ({"payment_terms_days": 366}, "payment_terms_days"),
        ({"value": -1}, "value"),
    ):
        response = post(client, pm, "/api/contracts", {**contract, **bad})
        assert response.status_code == 422 and field in response.json["error"]["fields"], (bad, response.json)
    created = post(client, pm, "/api/contracts", contract)
    assert created.status_code == 201
    assert (created.json["value"], created.json["end_date"], created.json["terms"]) == (
        "1200000.50",
        None,
        {},
    )
    assert [v["version"] for v in created.json["versions"]] == [1]
    assert post(client, buyer, "/api/contracts", contract).status_code == 409
    assert client.get("/api/contracts/999", headers=auth(buyer)).status_code == 404

    for i in range(3):
        other = post(
            client,
            buyer,
            "/api/suppliers",
            {"name": f"Beta {i}", "email": f"b{i}@beta.example", "currency": "USD"},
        )
        post(client, pm, "/api/contracts", {**contract, "supplier_id": other.json["id"], "number": f"B-{i}"})
    page = client.get("/api/suppliers?q=beta&per_page=2&page=2", headers=auth(demo_tokens["analyst1"])).json
    assert (page["total"], [s["name"] for s in page["items"]]) == (3, ["Beta 2"])
    assert client.get("/api/suppliers?grade=Z", headers=auth(buyer)).status_code == 400
    contracts = client.get("/api/contracts?q=beta&per_page=2", headers=auth(demo_tokens["manager1"])).json
    assert (contracts["total"], [c["number"] for c in contracts["items"]]) == (3, ["B-0", "B-1"])
    mine = client.get(f"/api/contracts?supplier_id={supplier['id']}", headers=auth(demo_tokens["cfo1"])).json
    assert [c["number"] for c in mine["items"]] == ["PC-9"] and "versions" not in mine["items"][0]
    assert client.get("/api/contracts?supplier_id=x", headers=auth(buyer)).status_code == 400
    full = client.get(f"/api/suppliers/{supplier['id']}", headers=auth(demo_tokens["legal1"])).json
    assert full["contracts"] == [{"id": created.json["id"], "number": "PC-9", "version": 1}]
    with app.extensions["creditflow"].rt.factory() as session:
        audit = session.execute(
            select(AuditEvent.action, AuditEvent.actor).where(
                AuditEvent.action.in_(["supplier_created", "contract_created"])
            )
        ).all()
    assert ("supplier_created", "buyer1") in audit and ("contract_created", "pm1") in audit
