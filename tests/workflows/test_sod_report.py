"""The segregation-of-duties report (issue 14): each money move of a period with requester, approvers and
the authority rule; a row where one person appears twice is flagged."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.contracts import CHANGE_AUTHORITY_TABLE
from handlers.limit_decision import LIMIT_AUTHORITY_TABLE
from tests.bpmn import test_credit_application as application
from tests.bpmn import test_supplier_contract_change as contract_change
from tests.conftest import SteppingClock
from tests.definitions import test_definition_approval as approving
from tests.definitions.test_definition_approval import owner2  # noqa: F401 (fixture)
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.credit.models import Customer, LimitChange
from workflows.sod_report import CONTRACT_TABLE, LIMIT_TABLE, repeated_people
from workflows.store.db import transaction
from workflows.store.models import ProcessDefinition

pytestmark = pytest.mark.usefixtures("shipped")


def _report(client: FlaskClient, tokens: dict[str, str], query: str = "") -> dict[str, object]:
    response = client.get(f"/api/audit/sod{query}", headers=auth(tokens["auditor1"]))
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_the_report_names_the_tables_the_handlers_check() -> None:
    assert LIMIT_TABLE == LIMIT_AUTHORITY_TABLE and CONTRACT_TABLE == CHANGE_AUTHORITY_TABLE


def test_a_person_twice_is_repeated_and_the_system_is_nobody() -> None:
    assert repeated_people("sales1", ["analyst1", "manager1"]) == []
    assert repeated_people("manager1", ["analyst1", "manager1"]) == ["manager1"]
    assert repeated_people("sales1", ["cfo1", "cfo1"]) == ["cfo1"]
    assert repeated_people("system", ["system"]) == [] and repeated_people(None, []) == []


def test_the_demo_processes_give_rows_with_distinct_people_and_no_flag(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # An approved limit change: sales1 applies, analyst1 reviews, manager1 approves (credit_application).
    customer = application.create_customer(client, demo_tokens["sales1"], application.SOLID_CUSTOMER)
    instance = application.apply(client, demo_tokens["sales1"], customer["id"], 600_000)
    review = application.open_task(instance, "review_application")
    reviewed = application.complete(
        client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit="500000.00"
    )
    assert reviewed.status_code == 200, reviewed.json
    manager_task = application.open_task(
        application.refresh(client, demo_tokens, instance["id"]), "manager_approval"
    )
    done = application.complete(client, demo_tokens["manager1"], manager_task["id"], decision="approve")
    assert done.json["instance"]["status"] == "completed"
    # A contract version: buyer1 asks, finance1 reviews, pm1 approves, the supplier countersigns.
    contract = contract_change.make_contract(client, demo_tokens)
    change = contract_change.started(
        client,
        demo_tokens["buyer1"],
        contract["id"],
        "quantity",
        {"quantity": "900 t per year"},
        "-250000.00",
    )
    contract_change.approve(
        client, demo_tokens["finance1"], contract_change.open_tasks(change)["finance_review"]
    )
    waiting = contract_change.refresh(client, demo_tokens, change["id"])
    contract_change.approve(
        client, demo_tokens["pm1"], contract_change.open_tasks(waiting)["manager_approval"]
    )
    assert contract_change.countersign(client, demo_tokens["buyer1"], change["id"], "Jan Berg") == [
        change["id"]
    ]

    report = _report(client, demo_tokens)
    rows = {(r["kind"], r["object"], r["summary"].split(":")[0]): r for r in report["items"]}  # type: ignore[attr-defined]
    limit = rows["limit_change", f"customer:{customer['id']}", "Acme Machinery GmbH"]
    assert (limit["requester"], limit["approvers"], limit["made_by"]) == (
        "sales1",
        ["analyst1", "manager1"],
        "manager1",
    )
    assert limit["rule"] == "approval_authority.dmn: level manager (credit_analyst + credit_manager)"
    assert limit["instance_id"] == instance["id"]
    version = rows["contract_version", f"contract:{contract['id']}", "version 2"]
    assert (version["requester"], version["approvers"]) == ("buyer1", ["finance1", "pm1"])
    assert version["rule"] == "contract_change_authority.dmn: level procurement_manager (procurement_manager)"
    first = rows["contract_version", f"contract:{contract['id']}", "version 1"]
    assert first["rule"] == "no approval: the contract's first version"
    assert report["flagged"] == 0
    assert not any(r["flagged"] or r["repeated"] for r in report["items"])  # type: ignore[attr-defined]
    # The audit trail shows what these steps changed, before and after.
    auditor = auth(demo_tokens["auditor1"])

    def changes(kind: str, obj: str) -> list[dict[str, object]]:
        return list(client.get(f"/api/audit?kind={kind}&object={obj}", headers=auditor).json["items"])

    (score,) = changes("credit_score_recorded", f"customer:{customer['id']}")
    assert score["before"]["grade"] is None and score["after"]["grade"]  # type: ignore[index]
    (limit_event,) = changes("credit_limit_changed", f"customer:{customer['id']}")
    assert limit_event["before"] == {"credit_limit": "0.00"} and limit_event["after"] == {
        "credit_limit": "500000.00"
    }
    assert limit_event["detail"]["approvers"] == ["analyst1", "manager1"]  # type: ignore[index]
    (review,) = changes("next_review_date_set", f"customer:{customer['id']}")
    assert review["after"]["next_review_date"]  # type: ignore[index]
    (new_version,) = changes("contract_version_created", f"contract:{contract['id']}")
    assert new_version["before"]["version"] == 1 and new_version["after"]["version"] == 2  # type: ignore[index]
    assert new_version["before"]["quantity"] == "1,500 t per year"  # type: ignore[index]
    assert new_version["after"]["quantity"] == "900 t per year"  # type: ignore[index]
    (approved,) = changes("contract_change_approved", f"contract:{contract['id']}")
    assert approved["before"] == {"status": "in_review"}
    assert approved["after"]["status"] == "awaiting_countersignature"  # type: ignore[index]
    (graded,) = changes("supplier_evaluated", f"supplier:{contract['supplier']['id']}")
    assert graded["before"]["grade"] is None and graded["after"]["grade"]  # type: ignore[index]
    # A period before all of it lists nothing.
    assert _report(client, demo_tokens, "?to=2026-03-01")["items"] == []


def test_a_forged_row_naming_one_person_twice_is_flagged(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    customer = application.create_customer(client, demo_tokens["sales1"], application.SOLID_CUSTOMER)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        # Written straight into the table, past every handler's check: what the report must catch.
        session.get_one(Customer, customer["id"]).credit_limit = Decimal("9000000.00")
        session.add(
            LimitChange(
                customer_id=customer["id"],
                old_limit=Decimal("0.00"),
                new_limit=Decimal("9000000.00"),
                currency="EUR",
                reason='=HYPERLINK("http://evil.example")',
                approvers=["manager1", "manager1"],
                instance_id=None,
                changed_by="manager1",
                changed_at=clock,
            )
        )
    report = _report(client, demo_tokens, "?from=2026-03-02&to=2026-03-02")
    assert report["flagged"] == 1
    (row,) = report["items"]  # type: ignore[misc]
    assert row["flagged"] and row["repeated"] == ["manager1"] and row["approvers"] == ["manager1", "manager1"]
    exported = client.get("/api/audit/sod?format=csv", headers=auth(demo_tokens["auditor1"]))
    (line,) = csv.DictReader(io.StringIO(exported.get_data(as_text=True)))
    assert line["flagged"] == "yes" and line["repeated"] == "manager1"
    page = logged_in(app, "auditor1").get("/audit/sod").get_data(as_text=True)
    assert 'data-flagged="yes"' in page and "manager1 twice" in page


def test_an_approved_money_moving_diagram_names_its_two_process_owners(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    app_clock: SteppingClock,
    owner2: str,  # noqa: F811
) -> None:
    deployed = approving.upload(client, demo_tokens["owner1"], approving.grant_bundle("grant_limit"))
    assert deployed.status_code == 201 and deployed.json["status"] == "pending"
    approving.tick(client, demo_tokens, app_clock)
    task = approving.approval_task(client, owner2, "grant_limit", 1)
    assert approving.decide(client, owner2, task["id"], "approve").status_code == 200
    [row] = [r for r in _report(client, demo_tokens)["items"] if r["kind"] == "definition_version"]  # type: ignore[attr-defined]
    assert (row["object"], row["requester"], row["approvers"]) == (
        "definition:grant_limit",
        "owner1",
        ["owner2"],
    )
    assert not row["flagged"]
    # Forged: the uploader recorded as their own second owner.
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        definition = session.get_one(ProcessDefinition, row["id"])
        definition.decided_by = "owner1"
    [forged] = [r for r in _report(client, demo_tokens)["items"] if r["kind"] == "definition_version"]  # type: ignore[attr-defined]
    assert forged["flagged"] and forged["repeated"] == ["owner1"]
