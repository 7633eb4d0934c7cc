"""The authority matrices compare bare numbers: approval_authority.dmn asks the CFO above 1,000,000 and
contract_change_authority.dmn above 500,000, whatever the currency. A sales user who creates the customer
chooses its currency, so a limit of 990,000 in Kuwaiti dinar (about 3 million euro) needs only an analyst
and a credit manager, while 1,000,001 yen needs the CFO. Found by an attack on the build.

Fixed: approval_authority.dmn compares the limit in the base currency at the latest rate on or before the
decision day (credit.check_recommendation in the diagram, credit.apply_limit's own check), and
contract_change_authority.dmn the value impact at the rate of the day the change request opened
(contract.open_change's result, and the approvals check); with no rate the highest level signs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_credit_application import (
    SOLID_CUSTOMER,
    apply,
    complete,
    create_customer,
    open_task,
    refresh,
)
from tests.bpmn.test_supplier_contract_change import approve, make_contract, open_tasks, started
from workflows.credit.fx import RateInput, store_rate
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_limit_worth_more_than_a_million_euro_needs_the_cfo_whatever_its_currency(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:  # 1 KWD = 3.0012 EUR: 990,000 KWD is 2,971,188 EUR
        rate = RateInput("KWD", svc.clock().date() - timedelta(days=1), Decimal("3.0012"), "ECB")
        store_rate(session, rate, actor="finance1", now=svc.clock())
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, "currency": "KWD"})
    instance = apply(client, demo_tokens["sales1"], customer["id"], 990_000, currency="KWD")
    review = open_task(instance, "review_application")
    assert (
        complete(
            client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit=990_000
        ).status_code
        == 200
    )
    manager_task = open_task(refresh(client, demo_tokens, instance["id"]), "manager_approval")
    done = complete(client, demo_tokens["manager1"], manager_task["id"], decision="approve")
    assert done.status_code == 200, done.json
    after = refresh(client, demo_tokens, instance["id"])
    assert [t["name"] for t in after["tasks"] if t["status"] == "open"] == ["cfo_approval"]


@pytest.mark.parametrize(
    ("currency", "rate", "impact"),
    [
        ("KWD", Decimal("3.0012"), 400_000),  # 1,200,480 EUR: above the 500,000 threshold
        ("USD", None, 1_000),  # no USD rate stored: the impact cannot be compared, the highest level signs
    ],
)
def test_a_contract_change_is_weighed_in_the_base_currency(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    currency: str,
    rate: Decimal | None,
    impact: int,
) -> None:
    svc = app.extensions["creditflow"]
    if rate is not None:
        with transaction(svc.rt.factory) as session:
            day = svc.clock().date() - timedelta(days=1)
            store_rate(session, RateInput(currency, day, rate, "ECB"), actor="finance1", now=svc.clock())
    contract = make_contract(client, demo_tokens, currency=currency)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "quantity", {"quantity": "900 t per year"}, impact
    )
    approve(client, demo_tokens["finance1"], open_tasks(instance)["finance_review"])
    after_review = refresh(client, demo_tokens, instance["id"])
    assert after_review["data"]["approval_level"] == "cfo"
    assert after_review["data"]["change_request"]["rate_missing"] is (rate is None)
    done = approve(client, demo_tokens["pm1"], open_tasks(after_review)["manager_approval"])
    assert set(open_tasks(refresh(client, demo_tokens, done["instance"]["id"]))) == {"cfo_approval"}
