"""A group named twice in candidateGroups ("credit_analyst, credit_analyst") is one group: the task gets one
candidate row per group, so the step does not fail on the (task, group) key (found by reading, attack I)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.handlers.test_money_moves import APPLY, CUSTOMER, complete, deploy, open_task, start
from tests.helpers import auth, migrated_customer
from tests.sod_diagrams import bundle, money_diagram
from workflows.definitions.compile import split_names

pytestmark = pytest.mark.usefixtures("shipped")


def test_split_names_keeps_each_name_once_in_order() -> None:
    assert split_names(" b, a ,b,, a ") == ["b", "a"]


def test_a_task_offered_twice_to_one_group_lands_once_in_its_inbox(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = migrated_customer(app, {**CUSTOMER, "name": "Twice Named Ltd"})
    diagram = money_diagram(
        "twice_named", "credit.apply_limit", APPLY, approvals=["credit_analyst, credit_analyst"]
    )
    key = deploy(app, client, demo_tokens, bundle("twice_named", diagram, "approval_authority.dmn"))["key"]
    instance = start(client, demo_tokens["owner1"], key, {"customer_id": customer_id, "new_limit": "90000"})
    assert instance.status_code == 201, instance.json
    task_id = open_task(client, demo_tokens, instance.json["id"])
    inbox = client.get("/api/tasks?per_page=200", headers=auth(demo_tokens["analyst1"])).json
    assert [t["id"] for t in inbox["items"]].count(task_id) == 1
    assert complete(client, demo_tokens["analyst1"], task_id).status_code == 200
