"""A contract change is approved by the authority the matrix gives for its value impact, and that impact is
the requester's own figure. A buyer raising a contract's value from 1.2 million to 60 million who declared an
impact of 1.00 got it approved by the procurement manager alone (the CFO's level starts above 500,000), and
the countersignature made the 60 million version. Found by an attack on the build.

A change of the contract's value must declare at least that change as its impact: the start is refused
with 422 and the contract stays as it was."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_supplier_contract_change import (
    approve,
    countersign,
    get_contract,
    make_contract,
    open_tasks,
    refresh,
    start_change,
)

pytestmark = pytest.mark.usefixtures("shipped")


def walk_to_version(client: FlaskClient, tokens: dict[str, str], instance: dict[str, Any]) -> None:
    """What the buyer's colleagues would do with a change that looks small: every review approves."""
    for task in open_tasks(instance).values():
        approve(client, tokens["finance1" if task["group"] == "finance" else "legal1"], task)
    manager_task = open_tasks(refresh(client, tokens, instance["id"]))["manager_approval"]
    approve(client, tokens["pm1"], manager_task)
    countersign(client, tokens["buyer1"], instance["id"], "Eva Lind")


@pytest.mark.parametrize("declared", ["1.00", "0", "-1.00", "-58800000.00", "58799999.99"])
def test_a_value_change_cannot_declare_a_smaller_impact_to_skip_the_cfo(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], declared: str
) -> None:
    contract = make_contract(client, demo_tokens)  # value 1,200,000.00
    response = start_change(
        client, demo_tokens["buyer1"], contract["id"], "price", {"value": "60000000.00"}, declared
    )
    if response.status_code == 201:  # the bug: it starts, and only the procurement manager is asked
        walk_to_version(client, demo_tokens, dict(response.json))
    assert response.status_code == 422, response.json
    assert "Value impact" in response.json["error"]["message"]  # the field as the start form labels it
    after = get_contract(client, demo_tokens, contract["id"])
    assert (after["value"], after["version"], after["change_requests"]) == ("1200000.00", 1, [])


def test_a_value_change_declaring_its_full_impact_goes_to_the_cfo(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    response = start_change(
        client, demo_tokens["buyer1"], contract["id"], "price", {"value": "60000000.00"}, "58800000.00"
    )
    assert response.status_code == 201, response.json
    instance = dict(response.json)
    for task in open_tasks(instance).values():
        approve(client, demo_tokens["finance1" if task["group"] == "finance" else "legal1"], task)
    approve(
        client,
        demo_tokens["pm1"],
        open_tasks(refresh(client, demo_tokens, instance["id"]))["manager_approval"],
    )
    assert set(open_tasks(refresh(client, demo_tokens, instance["id"]))) == {"cfo_approval"}


@pytest.mark.parametrize(
    ("language", "said", "english"),
    [
        ("zh", "合同金额变动 ¥58,800,000.00", False),
        ("en", "The contract value changes by CN¥58,800,000.00", True),
    ],
)
def test_the_refusal_is_said_in_the_reader_s_language_with_the_reader_s_money(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], language: str, said: str, english: bool
) -> None:
    # R22-10: the sentence was an English f-string inside the zh msgid; its amounts are written as the
    # reader writes them (a CNY contract: ¥ in Chinese, CN¥ in English).
    contract = make_contract(client, demo_tokens, currency="CNY")
    data = {
        "contract_id": contract["id"],
        "change_type": "price",
        "changes": {"value": "60000000.00"},
        "value_impact": "1.00",
        "reason": "price",
    }
    response = client.post(
        "/api/process-instances",
        json={"process_key": "supplier_contract_change", "data": data},
        headers={"Authorization": f"Bearer {demo_tokens['buyer1']}", "Accept-Language": language},
    )
    assert response.status_code == 422, response.json
    message = response.json["error"]["message"]
    assert said in message, message
    assert ("The contract value" in message) is english, message
