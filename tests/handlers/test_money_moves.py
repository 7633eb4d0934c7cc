"""Money-moving operations check their approvals: the authority matrix for the amount, distinct people, none
of them the initiator; the history names the approvers and the instance. Whatever the diagram says."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from handlers.registry import build_operations
from tests.helpers import auth, migrated_customer
from tests.sod_diagrams import bundle, money_diagram
from workflows.credit.contract_changes import approve_change_request, open_change_request
from workflows.credit.contracts import get_contract
from workflows.credit.models import Contract, ContractVersion, Customer, LimitChange
from workflows.credit.suppliers import seed_demo_suppliers
from workflows.store.db import transaction
from workflows.store.models import DefinitionStatus, ProcessDefinition, ProcessInstance
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.usefixtures("shipped")

CUSTOMER = {
    "name": "Target GmbH",
    "currency": "EUR",
    "annual_revenue": "50000000.00",
    "credit_limit": "10000.00",
}
APPLY = {"customer_id": "customer_id", "new_limit": "new_limit", "reason": '"granted"', "review_months": "12"}


def deploy(
    app: Flask, client: FlaskClient, tokens: dict[str, str], files: dict[str, bytes]
) -> dict[str, Any]:
    """Deploy as owner1; a version waiting for a second process owner is approved for the test by admin."""
    upload = [(io.BytesIO(data), name) for name, data in files.items()]
    response = client.post(
        "/api/process-definitions",
        data={"files": upload},
        headers=auth(tokens["owner1"]),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    deployed = dict(response.json)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(
            ProcessDefinition.__table__.update()
            .where(ProcessDefinition.process_key == deployed["key"])
            .values(status=DefinitionStatus.ACTIVE, decided_by="admin")
        )
    return deployed


def start(client: FlaskClient, token: str, key: str, data: dict[str, Any]) -> Any:
    return client.post("/api/process-instances", json={"process_key": key, "data": data}, headers=auth(token))


def complete(client: FlaskClient, token: str, task_id: int, decision: str = "approve") -> Any:
    return client.post(
        f"/api/tasks/{task_id}/complete", json={"data": {"decision": decision}}, headers=auth(token)
    )


def open_task(client: FlaskClient, tokens: dict[str, str], instance_id: int) -> int:
    instance = client.get(f"/api/process-instances/{instance_id}", headers=auth(tokens["admin"])).json
    return int(next(t["id"] for t in instance["tasks"] if t["status"] == "open"))


def credit_state(app: Flask, customer_id: int) -> tuple[Decimal, list[tuple[Any, ...]]]:
    with app.extensions["creditflow"].rt.factory() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        history = [
            (str(c.new_limit), c.reason, c.approvers, c.changed_by, c.instance_id)
            for c in session.scalars(select(LimitChange).where(LimitChange.customer_id == customer_id))
        ]
        return customer.credit_limit, history


def instances_of(app: Flask, key: str) -> int:
    with app.extensions["creditflow"].rt.factory() as session:
        query = select(func.count()).select_from(ProcessInstance).where(ProcessInstance.process_key == key)
        return session.scalar(query) or 0


def person(app: Flask, name: str, *groups: str) -> str:
    """A user in several groups at once, and their API token."""
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, name, groups=list(groups), now=svc.clock())
        return issue_token(session, name, svc.clock())


def test_a_process_owner_cannot_grant_99_million_with_a_one_task_diagram(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = migrated_customer(app, CUSTOMER)
    before = credit_state(app, customer_id)
    data = {"customer_id": customer_id, "new_limit": "99000000"}
    for files in (
        bundle(
            "grant_limit", money_diagram("grant_limit", "credit.apply_limit", APPLY), "approval_authority.dmn"
        ),
        # Without the matrix no one could say who must approve: refused as well.
        bundle("grant_bare", money_diagram("grant_bare", "credit.apply_limit", APPLY)),
    ):
        key = deploy(app, client, demo_tokens, files)["key"]
        refused = start(client, demo_tokens["owner1"], key, data)
        assert refused.status_code == 422, refused.json
        assert "credit.apply_limit" in refused.json["error"]["message"]
        assert credit_state(app, customer_id) == before
        assert instances_of(app, key) == 0  # nothing half-written: the start itself was undone
    assert "approval_authority.dmn" in refused.json["error"]["message"]


def test_approvals_must_come_from_distinct_members_none_of_them_the_initiator(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = migrated_customer(app, CUSTOMER)
    key = deploy(
        app,
        client,
        demo_tokens,
        bundle(
            "three_approvals",
            money_diagram(
                "three_approvals",
                "credit.apply_limit",
                APPLY,
                approvals=["credit_analyst", "credit_manager", "cfo"],
                start_groups="sales",
            ),
            "approval_authority.dmn",
        ),
    )["key"]
    data = {"customer_id": customer_id, "new_limit": "2000000"}  # above 1,000,000: analyst + manager + CFO
    omni = person(app, "omni", "credit_analyst", "credit_manager", "cfo")
    boss = person(app, "boss", "sales", "credit_analyst", "credit_manager", "cfo")
    before = credit_state(app, customer_id)

    def run(starter: str, approvers: list[str]) -> Any:
        instance = start(client, starter, key, data)
        assert instance.status_code == 201, instance.json
        response = None
        for token in approvers:
            response = complete(client, token, open_task(client, demo_tokens, instance.json["id"]))
        return instance.json["id"], response

    # One person in every group approves three times: the last step is refused and undone.
    _, last = run(demo_tokens["sales1"], [omni, omni, omni])
    assert last.status_code == 422 and "each by a different person" in last.json["error"]["message"]
    # The initiator approves their own request (the diagram has no four-eyes property).
    _, last = run(boss, [boss, boss, boss])
    assert last.status_code == 422 and "none by the initiator boss" in last.json["error"]["message"]
    # Two people, one of them approving as manager and as CFO.
    _, last = run(demo_tokens["sales1"], [demo_tokens["analyst1"], omni, omni])
    assert last.status_code == 422
    # An admin may complete the CFO's task, but is not a CFO: no authority.
    _, last = run(
        demo_tokens["sales1"], [demo_tokens["analyst1"], demo_tokens["manager1"], demo_tokens["admin"]]
    )
    assert last.status_code == 422
    # Rejections are no approvals.
    instance_id, _ = run(demo_tokens["sales1"], [demo_tokens["analyst1"], demo_tokens["manager1"]])
    cfo_task = open_task(client, demo_tokens, instance_id)
    assert credit_state(app, customer_id) == before

    done = complete(client, demo_tokens["cfo1"], cfo_task)
    assert done.status_code == 200, done.json
    limit, history = credit_state(app, customer_id)
    assert limit == Decimal("2000000.00")
    assert history[-1] == ("2000000.00", "granted", ["analyst1", "manager1", "cfo1"], "cfo1", instance_id)


def test_the_matrix_is_read_from_the_deployed_table_not_from_the_diagrams_data(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = migrated_customer(app, CUSTOMER)
    key = deploy(
        app,
        client,
        demo_tokens,
        bundle(
            "analyst_only",
            money_diagram("analyst_only", "credit.apply_limit", APPLY, approvals=["credit_analyst"]),
            "approval_authority.dmn",
        ),
    )["key"]
    # The start data claims the analyst level; 500,000 needs the credit manager too (approval_authority.dmn).
    instance = start(
        client,
        demo_tokens["owner1"],
        key,
        {"customer_id": customer_id, "new_limit": "500000", "approval_level": "analyst"},
    )
    last = complete(client, demo_tokens["analyst1"], open_task(client, demo_tokens, instance.json["id"]))
    assert last.status_code == 422 and "credit_analyst + credit_manager" in last.json["error"]["message"]
    small = start(client, demo_tokens["owner1"], key, {"customer_id": customer_id, "new_limit": "90000"})
    done = complete(client, demo_tokens["analyst1"], open_task(client, demo_tokens, small.json["id"]))
    assert done.status_code == 200, done.json
    assert credit_state(app, customer_id)[1][-1][2:4] == (["analyst1"], "analyst1")


def test_a_lower_limit_needs_no_approval_and_names_who_started_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = migrated_customer(app, CUSTOMER)
    key = deploy(
        app,
        client,
        demo_tokens,
        bundle(
            "cut_limit", money_diagram("cut_limit", "credit.apply_limit", APPLY), "approval_authority.dmn"
        ),
    )["key"]
    done = start(client, demo_tokens["owner1"], key, {"customer_id": customer_id, "new_limit": "5000"})
    assert done.status_code == 201, done.json
    assert credit_state(app, customer_id)[1][-1] == ("5000.00", "granted", [], "owner1", done.json["id"])


def test_an_instance_cannot_make_a_contract_version_of_another_instances_change(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo_suppliers(session, clock)
        contract = session.scalars(select(Contract).order_by(Contract.id)).first()
        assert contract is not None
        request = open_change_request(
            session,
            get_contract(session, contract.id),
            change_type="payment_terms",
            changes={"payment_terms_days": 90},
            value_impact=Decimal("1000"),
            reason="test",
            requested_by="buyer1",
            now=clock,
        )
        approve_change_request(session, request, approvers=[], countersign_by=clock.date(), now=clock)
        contract_id, request_id = contract.id, request.id
    key = deploy(
        app,
        client,
        demo_tokens,
        bundle(
            "sign_it",
            money_diagram(
                "sign_it",
                "contract.record_version",
                {"change_request_id": "change_request_id", "signed_by": '"Eve"'},
                approvals=["procurement_manager"],
            ),
            "contract_change_authority.dmn",
        ),
    )["key"]
    instance = start(client, demo_tokens["owner1"], key, {"change_request_id": request_id})
    refused = complete(client, demo_tokens["pm1"], open_task(client, demo_tokens, instance.json["id"]))
    assert refused.status_code == 422 and "belongs to instance None" in refused.json["error"]["message"]
    with svc.rt.factory() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(ContractVersion)
                .where(ContractVersion.contract_id == contract_id)
            )
            == 1
        )
        assert session.get(Contract, contract_id).version == 1  # type: ignore[union-attr]


def test_the_registry_marks_every_money_move_with_its_approval_rule() -> None:
    operations = build_operations()
    moving = {name for name, op in operations.items() if op.moves_money}
    assert moving == {
        "credit.apply_limit",
        "contract.approve_change",
        "contract.record_version",
        "definition.activate",
        "dispute.post_credit",
        "order.release",
        "write_off.post",
    }
    assert all(op.approvals is not None for name, op in operations.items() if name in moving)


def test_a_diagram_cannot_push_the_next_review_past_the_policys_longest_cycle(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = migrated_customer(app, CUSTOMER)
    far = {**APPLY, "review_months": "1200"}
    key = deploy(
        app,
        client,
        demo_tokens,
        bundle(
            "far_review", money_diagram("far_review", "credit.apply_limit", far), "approval_authority.dmn"
        ),
    )["key"]
    before = credit_state(app, customer_id)
    refused = start(client, demo_tokens["owner1"], key, {"customer_id": customer_id, "new_limit": "5000"})
    assert (
        refused.status_code == 422 and "longest review cycle (12 months)" in refused.json["error"]["message"]
    )
    assert credit_state(app, customer_id) == before


def test_a_one_task_diagram_cannot_post_a_credit_note_for_another_instances_dispute(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    key = deploy(
        app,
        client,
        demo_tokens,
        bundle(
            "credit_note",
            money_diagram("credit_note", "dispute.post_credit", {"dispute_id": "1"}),
            "dispute_credit_authority.dmn",
        ),
    )["key"]
    refused = start(client, demo_tokens["owner1"], key, {})
    assert refused.status_code == 422, refused.json
    assert "dispute.post_credit" in refused.json["error"]["message"]
    assert "not this instance's dispute" in refused.json["error"]["message"]
